// The clinician's journeys: register a patient and run their care (demographics, an encounter, an
// order to completion), two tabs editing the same chart, where the second save meets a conflict,
// what the server refuses shown on its field, a retried register, a deep link through sign-in;
// allergies, the safety banner and the medication check with its override, on a desktop and on
// a phone, where no page may be wider than the screen.
import { expect, test, type Page } from "@playwright/test";
import { call, expectNoHorizontalOverflow, query } from "./helpers";

const password = "demo-password-2026";

async function signInAsClinician(page: Page) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill("clinician@demo.test");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toContainText("Casey Clinician");
}

let counter = 0;
/** 6-12 upper-case letters or digits, unique per run. */
const uniqueMrn = () => `E${Date.now().toString(36).toUpperCase().slice(-7)}${(counter++).toString(36).toUpperCase()}`;

async function registerPatient(page: Page, p: { mrn: string; given: string; family: string; dob: string; sex: string }) {
  await page.goto("/patients");
  await page.getByRole("link", { name: "Register patient" }).click();
  await expect(page.getByRole("heading", { name: "Register patient", level: 1 })).toBeVisible();
  await page.getByLabel("Medical record number (MRN)").fill(p.mrn);
  await page.getByLabel("Given name").fill(p.given);
  await page.getByLabel("Family name").fill(p.family);
  await page.getByLabel("Date of birth").fill(p.dob);
  await page.getByLabel("Sex").selectOption(p.sex);
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page).toHaveURL(/\/patients\/[0-9a-f-]{36}/);
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`${p.given} ${p.family}`);
  return new URL(page.url()).pathname.split("/")[2]!;
}

/** Instants on the clinical screens name their zone ("29 Nov 2026, 14:05 UTC", "… GMT+1", "… EST"). */
const zoned = /\d{1,2}:\d{2}(:\d{2})? ?(AM|PM)? (UTC|GMT[+-]?[\d:]*|[A-Z]{2,5})$/;

test("a clinician registers a patient, corrects demographics, runs an encounter and completes an order", async ({ page }) => {
  await signInAsClinician(page);
  const family = `Quill${Date.now().toString(36)}`;
  const mrn = uniqueMrn();
  // Every question the console asks before leaving a page; reloads and page.goto are let through.
  const asked: string[] = [];
  page.on("dialog", (dialog) => {
    if (dialog.type() === "beforeunload") return void dialog.accept();
    asked.push(dialog.message());
    void dialog.dismiss();
  });

  // Registration refuses what the server would refuse, next to the field, and focuses it.
  await page.goto("/patients/new");
  // Keyboard users: the first tab stop skips the top bar and the section's tabs, and is visible then.
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to main content" });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#main")).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Patients" })).toBeFocused();
  await page.getByLabel("Medical record number (MRN)").fill("bad");
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "Check the highlighted fields" })).toBeVisible();
  await expect(page.getByLabel("Medical record number (MRN)")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Medical record number (MRN)")).toBeFocused();
  // Leaving the half-filled form asks first, by a link of the console or by closing the tab; "stay" keeps what was typed.
  await page.getByRole("navigation", { name: "Breadcrumb" }).getByRole("link", { name: "Patients" }).click();
  await expect.poll(() => asked).toEqual([expect.stringContaining("unsaved changes")]);
  await expect(page).toHaveURL(/\/patients\/new(#main)?$/);
  await expect(page.getByLabel("Medical record number (MRN)")).toHaveValue("BAD");
  const unloadAsks = () =>
    page.evaluate(() => {
      const event = new Event("beforeunload", { cancelable: true });
      window.dispatchEvent(event);
      return event.defaultPrevented;
    });
  expect(await unloadAsks()).toBe(true);
  // Signing out asks too; "stay" keeps the session and the form.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect.poll(() => asked).toHaveLength(2);
  expect(asked[1]).toContain("unsaved changes");
  await expect(page).toHaveURL(/\/patients\/new(#main)?$/);
  await expect(page.getByLabel("Medical record number (MRN)")).toHaveValue("BAD");

  const patientId = await registerPatient(page, { mrn, given: "Iris", family, dob: "1979-04-02", sex: "female" });
  await expect(page.getByTestId("patient-mrn")).toHaveText(mrn);
  await expect(page.locator(".chart-head")).toHaveAttribute("data-version", "1");

  // The new patient is found by MRN in the list; the search's words go in the request's body,
  // never in a URL (which proxies and load balancers log).
  const urls: string[] = [];
  page.on("request", (request) => void (request.url().includes("/api/trpc/") && urls.push(request.url())));
  await page.goto("/patients");
  await page.getByLabel("Search").fill(`${family} ${mrn}`);
  await expect(page.getByRole("row").filter({ hasText: mrn })).toHaveCount(1);
  expect(urls.some((url) => url.includes("patient.list"))).toBe(true);
  expect(urls.filter((url) => url.includes(mrn) || url.includes(family) || url.includes("input="))).toEqual([]);
  await page.getByLabel("Search").fill(mrn);
  const row = page.getByRole("row").filter({ hasText: mrn });
  await expect(row).toHaveCount(1);
  await row.getByRole("link", { name: `${family}, Iris` }).click();
  await expect(page).toHaveURL(new RegExp(`/patients/${patientId}$`));

  // Saved: nothing to ask about. The registration's instant names its zone.
  expect(await unloadAsks()).toBe(false);
  await expect(page.locator("dt:has-text('Registered') + dd time")).toHaveText(zoned);

  // Nothing typed: Cancel leaves the edit page without a question.
  await page.getByRole("link", { name: "Edit demographics" }).click();
  await expect(page.getByTestId("editing-version")).toHaveText("v1");
  expect(await unloadAsks()).toBe(false);
  await page.getByRole("link", { name: "Cancel" }).click();
  await expect(page).toHaveURL(new RegExp(`/patients/${patientId}$`));
  expect(asked).toHaveLength(2);

  // Demographics: saving without a change says so; a change needs a reason and shows in history.
  await page.getByRole("link", { name: "Edit demographics" }).click();
  await expect(page.getByTestId("editing-version")).toHaveText("v1");
  // When the record cannot be re-read, the form stays and the page says since when it is unchanged.
  await page.route(/\/api\/trpc\/[^?]*patient\.byId/, (route) => route.fulfill({ status: 503, body: "unavailable" }));
  await page.waitForTimeout(5_500);
  await page.evaluate(() => window.dispatchEvent(new Event("visibilitychange")));
  const editStale = page.getByTestId("edit-refresh-failed");
  await expect(editStale).toContainText("Could not refresh the record", { timeout: 20_000 });
  await expect(editStale.locator("time")).toHaveText(zoned);
  await expect(page.getByLabel("Given name")).toHaveValue("Iris");
  await page.screenshot({ path: "e2e/.screenshots/edit-refresh-failed.png", fullPage: true });
  await page.unroute(/\/api\/trpc\/[^?]*patient\.byId/);
  await editStale.getByRole("button", { name: "Retry" }).click();
  await expect(editStale).toHaveCount(0);
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByText("Nothing changed: edit a field before saving.")).toBeVisible();
  await page.getByLabel("Phone").fill("+1 555 0199");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page.getByLabel("Reason for the change")).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByLabel("Reason for the change")).toBeFocused();
  await page.getByLabel("Reason for the change").fill("Patient gave a new number");
  await page.getByRole("button", { name: "Save changes" }).click();
  await expect(page).toHaveURL(new RegExp(`/patients/${patientId}`));
  await expect(page.getByRole("status").filter({ hasText: "Demographics updated." })).toBeVisible();
  await expect(page.locator(".chart-head")).toHaveAttribute("data-version", "2");
  const update = page.locator('[data-event-type="PatientDemographicsUpdated"]');
  await expect(update).toContainText("Phone");
  await expect(update).toContainText("+1 555 0199");
  await expect(update).toContainText("Reason: Patient gave a new number");
  // The server names each event's author.
  await expect(update.locator(".event-who")).toHaveText("Casey Clinician");
  await expect(update.locator("time").first()).toHaveText(zoned);
  // The save went through: leaving asks nothing.
  expect(await unloadAsks()).toBe(false);

  // An encounter. A half-filled encounter form asks before a tab of the console leaves the chart.
  await page.getByRole("button", { name: "Start encounter" }).click();
  await page.getByLabel("Type").selectOption("outpatient");
  await page.getByLabel("Reason for visit").fill("Fatigue");
  await page.getByRole("navigation", { name: "Clinical" }).getByRole("link", { name: "Census" }).click();
  await expect.poll(() => asked).toHaveLength(3);
  await expect(page).toHaveURL(new RegExp(`/patients/${patientId}$`));
  await expect(page.getByLabel("Reason for visit")).toHaveValue("Fatigue");
  await page.getByRole("button", { name: "Start encounter" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Outpatient encounter started." })).toBeVisible();
  await expect(page.getByTestId("open-encounter")).toHaveCount(1);
  await expect(page.getByTestId("open-encounter")).toContainText("Fatigue");
  await expect(page.getByTestId("open-encounter").locator("time").first()).toHaveText(zoned);
  expect(await unloadAsks()).toBe(false);

  // An urgent lab order, attached to the open encounter (the default).
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByLabel("Kind").selectOption("lab");
  await page.getByLabel("Priority").selectOption("urgent");
  await page.getByLabel("Description").fill("Hemoglobin");
  await page.getByLabel("Code").fill("718-7");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Hemoglobin." })).toBeVisible();
  const active = page.getByTestId("active-orders");
  await expect(active.getByRole("row").filter({ hasText: "Hemoglobin" })).toContainText("Placed");

  // The worklist shows it among the clinician's own orders, and starts it inline.
  await page.goto("/orders");
  // The seeded open orders are days old: past their priority's threshold, marked, with the rule on screen.
  await expect(page.getByTestId("overdue-rule")).toContainText("1 h for STAT, 4 h for urgent or 1 d for routine");
  const overdueRow = page.getByTestId("worklist").locator("tr[data-overdue=true]").first();
  await expect(overdueRow.getByTestId("overdue")).toContainText(/Overdue \d/);
  await page.screenshot({ path: "e2e/.screenshots/worklist-overdue.png" });
  await page.getByLabel("Only my orders").check();
  const workRow = page.getByTestId("worklist").getByRole("row").filter({ hasText: mrn });
  await expect(workRow).toHaveCount(1);
  await expect(workRow).toContainText("Urgent");
  // Placed a minute ago: not overdue. Its times name their zone.
  await expect(workRow).toHaveAttribute("data-overdue", "false");
  await expect(workRow.getByTestId("overdue")).toHaveCount(0);
  await expect(workRow.locator("time").first()).toHaveText(zoned);
  await workRow.getByRole("button", { name: /Change status/ }).click();
  await page.getByRole("radio", { name: "In progress" }).check();
  await page.getByRole("button", { name: "Start order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "is now in progress" })).toBeVisible();
  await expect(workRow).toContainText("In progress");
  // A background refresh that fails keeps the rows and says so, with the time of the rows shown and a retry.
  await page.route(/\/api\/trpc\/[^?]*order\.worklist/, (route) => route.fulfill({ status: 503, body: "unavailable" }));
  await page.waitForTimeout(5_500);
  await page.evaluate(() => window.dispatchEvent(new Event("visibilitychange")));
  const worklistStale = page.getByTestId("worklist-refresh-failed");
  await expect(worklistStale).toContainText("Could not refresh the worklist", { timeout: 20_000 });
  await expect(worklistStale.locator("time")).toHaveText(zoned);
  await expect(workRow).toContainText("In progress");
  await page.screenshot({ path: "e2e/.screenshots/worklist-refresh-failed.png", fullPage: true });
  await page.unroute(/\/api\/trpc\/[^?]*order\.worklist/);
  await worklistStale.getByRole("button", { name: "Retry" }).click();
  await expect(worklistStale).toHaveCount(0);

  // Back on the chart: completing a lab order needs its result.
  await page.goto(`/patients/${patientId}`);
  await page.getByRole("button", { name: "Change status of Hemoglobin" }).click();
  await page.getByRole("radio", { name: "Completed" }).check();
  await page.getByRole("button", { name: "Complete order" }).click();
  await expect(page.getByText("Enter at least one result value or a report.")).toBeVisible();
  await page.getByLabel("Test or finding, row 1").fill("Hemoglobin");
  await page.getByLabel("Value, row 1").fill("13.5");
  await page.getByLabel("Unit, row 1").fill("g/dL");
  await page.getByRole("button", { name: "Complete order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "is now completed" })).toBeVisible();
  await expect(page.getByText("No active orders.")).toBeVisible();
  await page.getByText(/Completed and cancelled/).click();
  const done = page.getByTestId("closed-orders").getByRole("row").filter({ hasText: "Hemoglobin" });
  await expect(done).toContainText("Completed");
  await expect(done).toContainText("Result: Hemoglobin 13.5 g/dL");
  // Unflagged is neither good nor bad news: plain, not green.
  await expect(done.getByTestId("order-result")).toHaveAttribute("data-severity", "normal");

  // Completing the encounter needs an outcome and a disposition.
  await page.getByTestId("open-encounter").getByRole("button", { name: "Complete" }).click();
  await page.getByRole("button", { name: "Complete encounter" }).click();
  await expect(page.getByLabel("Outcome")).toBeFocused();
  await page.getByLabel("Outcome").fill("Anemia ruled out");
  await page.getByLabel("Discharge disposition").selectOption("home");
  await page.getByRole("button", { name: "Complete encounter" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Outpatient encounter completed." })).toBeVisible();
  await expect(page.getByText("No open encounters.")).toBeVisible();
  await expect(page.locator('[data-event-type="EncounterCompleted"]')).toContainText("Anemia ruled out");
  // The past encounter shows when it started and ended, zones named.
  await expect(page.locator("ul.encounters.past li").first().locator("time")).toHaveCount(2);
  await expect(page.locator("ul.encounters.past li").first().locator("time").last()).toHaveText(zoned);
  await page.screenshot({ path: "e2e/.screenshots/chart-zoned.png", fullPage: true });
  // Everything saved: the console's tabs leave without a question.
  await page.getByRole("navigation", { name: "Clinical" }).getByRole("link", { name: "Order worklist" }).click();
  await expect(page).toHaveURL(/\/orders$/);
  expect(asked).toHaveLength(3);
});

test("the browser's Back and Forward buttons ask before a half-filled form is left; stay keeps what was typed", async ({ page }) => {
  await signInAsClinician(page);
  const asked: string[] = [];
  let answer: "stay" | "leave" = "stay";
  page.on("dialog", (dialog) => {
    if (dialog.type() === "beforeunload") return void dialog.accept();
    asked.push(dialog.message());
    void (answer === "stay" ? dialog.dismiss() : dialog.accept());
  });
  // The Back button. A traversal refused by "stay" never happens, so there is nothing to wait for.
  const back = () => void page.goBack({ timeout: 5_000 }).catch(() => undefined);
  await page.goto("/patients");
  await page.getByRole("link", { name: "Register patient" }).click();
  await expect(page.getByRole("heading", { name: "Register patient", level: 1 })).toBeVisible();
  // Nothing typed: Back leaves without a question, Forward returns without one.
  await page.goBack();
  await expect(page).toHaveURL(/\/patients$/);
  await page.goForward();
  await expect(page).toHaveURL(/\/patients\/new$/);
  await expect(page.getByRole("heading", { name: "Register patient", level: 1 })).toBeVisible();
  expect(asked).toEqual([]);

  // Back with unsaved input asks; "stay" keeps the page and its input.
  await page.getByLabel("Given name").fill("Wren");
  back();
  await expect.poll(() => asked).toEqual([expect.stringContaining("unsaved changes")]);
  await expect(page).toHaveURL(/\/patients\/new$/);
  await expect(page.getByLabel("Given name")).toHaveValue("Wren");
  await page.getByLabel("Family name").fill("Abbott");
  back();
  await expect.poll(() => asked).toHaveLength(2);
  await expect(page).toHaveURL(/\/patients\/new$/);
  await expect(page.getByLabel("Given name")).toHaveValue("Wren");
  await expect(page.getByLabel("Family name")).toHaveValue("Abbott");
  // "Leave": the list, and the form's input is gone.
  answer = "leave";
  await page.getByLabel("Family name").fill("Abbot");
  back();
  await expect.poll(() => asked).toHaveLength(3);
  await expect(page).toHaveURL(/\/patients$/);
  await expect(page.getByRole("heading", { name: "Patients", level: 1 })).toBeVisible();
  await page.goForward();
  await expect(page).toHaveURL(/\/patients\/new$/);
  await expect(page.getByLabel("Given name")).toHaveValue("");
  await page.goBack();
  await expect(page).toHaveURL(/\/patients$/);
  expect(asked).toHaveLength(3);
});

test("two tabs edit the same chart: the second save shows what changed, and retrying on the latest version keeps its edits", async ({
  page,
}) => {
  await signInAsClinician(page);
  const family = `Conflict${Date.now().toString(36)}`;
  const patientId = await registerPatient(page, { mrn: uniqueMrn(), given: "Noor", family, dob: "1990-07-15", sex: "other" });

  const first = page;
  const second = await page.context().newPage();
  for (const tab of [first, second]) {
    await tab.goto(`/patients/${patientId}/edit`);
    await expect(tab.getByTestId("editing-version")).toHaveText("v1");
  }

  await first.getByLabel("Phone").fill("+44 20 7946 0000");
  await first.getByLabel("Reason for the change").fill("Phone confirmed at the desk");
  await first.getByRole("button", { name: "Save changes" }).click();
  await expect(first.locator(".chart-head")).toHaveAttribute("data-version", "2");

  await second.getByLabel("Email").fill("noor@example.org");
  await second.getByLabel("Reason for the change").fill("Email added");
  await second.getByRole("button", { name: "Save changes" }).click();

  const conflict = second.getByRole("alert").filter({ hasText: "This chart changed since you opened it" });
  await expect(conflict.getByRole("heading", { name: "This chart changed since you opened it" })).toBeVisible();
  await expect(conflict).toContainText("Demographics updated");
  await expect(conflict).toContainText("Phone");
  await expect(conflict).toContainText("+44 20 7946 0000");
  await expect(conflict).toContainText("Reason: Phone confirmed at the desk");
  await expect(conflict.locator(".event-who")).toHaveText(["Casey Clinician"]);
  // The user's edits are still there.
  await expect(second.getByLabel("Email")).toHaveValue("noor@example.org");
  await expect(second.getByRole("button", { name: "Save changes" })).toBeDisabled();

  await conflict.getByRole("button", { name: "Review and retry on the latest version" }).click();
  await expect(second.getByTestId("rebased")).toContainText("Your edits are kept: Email");
  await expect(second.getByTestId("editing-version")).toHaveText("v2");
  await expect(second.getByLabel("Email")).toHaveValue("noor@example.org");
  await expect(second.getByLabel("Phone")).toHaveValue("+44 20 7946 0000");
  await expect(second.getByLabel("Reason for the change")).toHaveValue("Email added");

  await second.getByRole("button", { name: "Save changes" }).click();
  await expect(second.getByRole("status").filter({ hasText: "Demographics updated." })).toBeVisible();
  await expect(second.locator(".chart-head")).toHaveAttribute("data-version", "3");
  const demographics = second.getByRole("region", { name: "Demographics" });
  await expect(demographics).toContainText("noor@example.org");
  await expect(demographics).toContainText("+44 20 7946 0000");
});

test("a field the server refuses is marked where it is, even inside the address", async ({ page }) => {
  await signInAsClinician(page);
  // The form checks what the server checks, so only a value changed on its way can reach the
  // server's own check: the country becomes "U1" after the form has passed "US".
  await page.route("**/api/trpc/patient.register**", async (route) => {
    const body = JSON.parse(route.request().postData() ?? "{}") as Record<string, { json: { address: { country: string } } }>;
    body["0"]!.json.address.country = "U1";
    await route.continue({ postData: JSON.stringify(body) });
  });
  await page.goto("/patients/new");
  await page.getByLabel("Medical record number (MRN)").fill(uniqueMrn());
  await page.getByLabel("Family name").fill("Nested");
  await page.getByLabel("Date of birth").fill("1985-01-01");
  await page.getByLabel("Sex").selectOption("female");
  await page.getByLabel("Address line 1").fill("1 Main St");
  await page.getByLabel("City").fill("Springfield");
  await page.getByLabel("Postal code").fill("12345");
  await page.getByLabel("Country").fill("US");
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "The patient was not registered. Check the highlighted fields." })).toBeVisible();
  const country = page.getByLabel("Country");
  await expect(country).toHaveAttribute("aria-invalid", "true");
  await expect(country).toBeFocused();
  await expect(page.locator("#country-error")).toContainText("ISO 3166-1 alpha-2");
  await expect(page).toHaveURL(/\/patients\/new$/);
});

test("an order's status form: cancelling needs a reason, and a result value needs its name", async ({ page }) => {
  await signInAsClinician(page);
  const patientId = await registerPatient(page, { mrn: uniqueMrn(), given: "Ada", family: `Status${Date.now().toString(36)}`, dob: "1980-02-03", sex: "female" });
  await page.getByRole("button", { name: "Start encounter" }).click();
  await page.getByLabel("Type").selectOption("outpatient");
  await page.getByRole("button", { name: "Start encounter" }).click();
  await expect(page.getByTestId("open-encounter")).toHaveCount(1);
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByLabel("Kind").selectOption("lab");
  await page.getByLabel("Description").fill("Potassium");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Potassium." })).toBeVisible();

  // Cancelling without a reason is refused at the reason, which takes the focus.
  await page.getByRole("button", { name: "Change status of Potassium" }).click();
  const form = page.getByRole("form", { name: "Change status of Potassium" });
  await form.getByRole("radio", { name: "Cancelled" }).check();
  await expect(form.getByLabel("Reason")).toHaveAccessibleDescription(/Required when cancelling/);
  await form.getByRole("button", { name: "Cancel order" }).click();
  await expect(form.getByRole("alert").filter({ hasText: "Check the highlighted fields." })).toBeVisible();
  await expect(form.getByText("Enter why the order is cancelled.")).toBeVisible();
  await expect(form.getByLabel("Reason")).toBeFocused();
  // Choosing another status clears it; the order starts.
  await form.getByRole("radio", { name: "In progress" }).check();
  await expect(form.getByText("Enter why the order is cancelled.")).toHaveCount(0);
  await form.getByRole("button", { name: "Start order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "is now in progress" })).toBeVisible();

  // A value without its name marks that row; named, the result completes the order.
  await page.goto(`/patients/${patientId}`);
  await page.getByRole("button", { name: "Change status of Potassium" }).click();
  await form.getByRole("radio", { name: "Completed" }).check();
  await form.getByRole("button", { name: "Add value" }).click();
  await form.getByLabel("Test or finding, row 1").fill("Potassium");
  await form.getByLabel("Value, row 1").fill("6.9");
  await form.getByLabel("Flag, row 1").selectOption("HH");
  await form.getByLabel("Value, row 2").fill("140");
  await form.getByRole("button", { name: "Complete order" }).click();
  await expect(form.getByText("Name each value (e.g. Hemoglobin).")).toBeVisible();
  await expect(form.getByLabel("Test or finding, row 2")).toHaveAttribute("aria-invalid", "true");
  await expect(form.getByLabel("Test or finding, row 1")).not.toHaveAttribute("aria-invalid", "true");
  await expect(form.getByLabel("Test or finding, row 2")).toBeFocused();
  await form.getByLabel("Test or finding, row 2").fill("Sodium");
  await form.getByRole("button", { name: "Complete order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "is now completed" })).toBeVisible();
});

test("a register whose answer was lost, sent again, lands on the one patient the first attempt made", async ({ page }) => {
  await signInAsClinician(page);
  let dropped = false;
  await page.route("**/api/trpc/patient.register**", async (route) => {
    if (dropped) return route.continue();
    dropped = true;
    await route.fetch(); // the server registers the patient…
    await route.abort("connectionreset"); // …and the browser never hears of it
  });
  const mrn = uniqueMrn();
  await page.goto("/patients/new");
  await page.getByLabel("Medical record number (MRN)").fill(mrn);
  await page.getByLabel("Family name").fill(`Retry${Date.now().toString(36)}`);
  await page.getByLabel("Date of birth").fill("1970-03-03");
  await page.getByLabel("Sex").selectOption("male");
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "The server did not answer" })).toBeVisible();

  // The same values again: the same command, so the same patient rather than "MRN taken".
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page).toHaveURL(/\/patients\/[0-9a-f-]{36}/);
  await expect(page.getByTestId("patient-mrn")).toHaveText(mrn);
  await page.goto("/patients");
  await page.getByLabel("Search").fill(mrn);
  await expect(page.getByRole("row").filter({ hasText: mrn })).toHaveCount(1);
});

test("a signed-out visit to a chart page returns to that page after signing in", async ({ page }) => {
  await signInAsClinician(page);
  const patientId = await registerPatient(page, { mrn: uniqueMrn(), given: "Dee", family: `Link${Date.now().toString(36)}`, dob: "2001-02-03", sex: "female" });
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);

  await page.goto(`/patients/${patientId}/edit`);
  await expect(page).toHaveURL((url) => url.pathname === "/sign-in" && url.searchParams.get("next") === `/patients/${patientId}/edit`);
  await page.getByLabel("Email").fill("clinician@demo.test");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(new RegExp(`/patients/${patientId}/edit$`));
  await expect(page.getByTestId("editing-version")).toHaveText("v1");
});

const screens = [
  { name: "desktop", viewport: { width: 1280, height: 900 } },
  { name: "phone", viewport: { width: 390, height: 844 } },
];

for (const screen of screens) {
  test(`on a ${screen.name}: an allergy is on every chart page, and ordering the drug needs a reason that compliance sees`, async ({ browser }) => {
    const context = await browser.newContext({ viewport: screen.viewport, baseURL: test.info().project.use.baseURL });
    const page = await context.newPage();
    const check = (where: string) => expectNoHorizontalOverflow(page, where);
    await signInAsClinician(page);
    await check("the clinician's home");
    const family = `Delgado ${screen.name === "phone" ? "Movil" : "Mesa"}${Date.now().toString(36)}`;
    const patientId = await registerPatient(page, { mrn: uniqueMrn(), given: "Rosa", family, dob: "1950-02-01", sex: "female" });
    await check("the chart");
    const banner = page.getByTestId("safety-banner");
    await expect(banner.getByTestId("banner-allergies")).toContainText("Allergies not recorded");
    await expect(banner).toContainText("Female");
    await expect(banner.getByTestId("banner-encounter")).toContainText("None open");

    // An inpatient stay on a ward: the banner names the place and the attending clinician.
    await page.getByRole("button", { name: "Start encounter" }).click();
    await page.getByLabel("Type").selectOption("inpatient");
    await page.getByLabel("Location").fill("Ward 4B, bed 12");
    await page.getByRole("button", { name: "Start encounter" }).click();
    await expect(banner.getByTestId("banner-encounter")).toContainText("Inpatient · Ward 4B, bed 12");
    await expect(banner.getByTestId("banner-encounter")).toContainText("Casey Clinician");

    // Record the allergy: it shows in the banner under the name.
    await page.getByRole("button", { name: "Record allergy" }).click();
    const allergyForm = page.getByRole("form", { name: "Record allergy" });
    await allergyForm.getByLabel("Substance", { exact: true }).selectOption({ label: "Penicillin" });
    await expect(allergyForm.getByLabel("Substance as named")).toHaveValue("Penicillin");
    await allergyForm.getByLabel("Reaction").fill("Hives and wheeze");
    await allergyForm.getByLabel("Severity").selectOption("severe");
    await check("the allergy form");
    await allergyForm.getByRole("button", { name: "Record allergy" }).click();
    await expect(page.getByRole("status").filter({ hasText: "Allergy recorded: Penicillin." })).toBeVisible();
    await expect(banner.getByTestId("banner-allergies")).toContainText("Penicillin");

    // An alert too.
    await page.getByRole("button", { name: "Record alert" }).click();
    const alertForm = page.getByRole("form", { name: "Record alert" });
    await alertForm.getByLabel("Alert").selectOption("fall_risk");
    await alertForm.getByRole("button", { name: "Record alert" }).click();
    await expect(banner.getByTestId("banner-alerts")).toContainText("Fall risk");
    await expect(page.locator('[data-event-type="AllergyRecorded"]')).toContainText("Penicillin");
    await check("the chart with allergies and alerts");

    // Ordering amoxicillin: warned before submitting, refused without a reason, placed with one.
    await page.getByRole("button", { name: "Place order" }).click();
    await page.getByLabel("Kind").selectOption("medication");
    await page.getByLabel("Description").fill("Amoxicillin 500 mg");
    const warning = page.getByTestId("allergy-warning");
    await expect(warning).toContainText("Penicillin");
    await check("the order form with its allergy warning");
    await page.getByRole("button", { name: "Place order" }).last().click();
    await expect(page.getByLabel("Reason to order despite the allergy")).toHaveAttribute("aria-invalid", "true");
    await page.getByLabel("Reason to order despite the allergy").fill("No alternative; first dose under observation");
    await page.getByRole("button", { name: "Place order" }).last().click();
    await expect(page.getByRole("status").filter({ hasText: "Medication order placed: Amoxicillin 500 mg." })).toBeVisible();
    await expect(page.locator('[data-event-type="MedicationAllergyOverridden"]')).toContainText("No alternative; first dose under observation");
    await check("the chart with the order");

    // Text typed without spaces (a 100-letter family name, a long order description) wraps in
    // headings and cells instead of widening the page; the worklist and reports below show it too.
    const longFamily = `Wolfeschlegelsteinhausen${"bergerdorff".repeat(6)}${Date.now().toString(36)}`.slice(0, 100);
    const { patientId: longId } = await call<{ patientId: string }>(page, "patient.register", {
      mrn: uniqueMrn(),
      givenName: "Hubert",
      familyName: longFamily,
      dateOfBirth: "1960-01-01",
      sex: "male",
    });
    await call(page, "order.create", { patientId: longId, kind: "procedure", priority: "stat", details: { description: "Wounddressingchange".repeat(10) } });
    await page.goto(`/patients/${longId}`);
    await expect(page.getByRole("heading", { level: 1 })).toContainText(longFamily);
    await check("a chart whose name and order have no spaces");
    await page.screenshot({ path: `.scratch/long-text-chart-${screen.name}.png`, fullPage: true });

    // Every other page a clinician visits fits the screen, the banner on the edit page too.
    await page.goto(`/patients/${patientId}/edit`);
    await expect(page.getByTestId("banner-allergies")).toContainText("Penicillin");
    await check("the demographics form");
    await page.goto("/patients");
    await page.getByLabel("Search").fill(`rosa ${family.split(" ")[1]!.toLowerCase()} delg`);
    await expect(page.getByRole("row").filter({ hasText: family })).toHaveCount(1);
    await check("the patient list");
    for (const [path, what] of [["/patients/new", "registration"], ["/orders", "the worklist"], ["/orders/turnaround", "turnaround"], ["/census", "the census"], ["/", "home"]] as const) {
      await page.goto(path);
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      await check(what);
      if (path === "/orders") await page.screenshot({ path: `.scratch/long-text-worklist-${screen.name}.png`, fullPage: true });
    }
    if (screen.name === "phone") {
      // On a phone the worklist shows each order whole (a card): its status, overdue or not, and
      // its action are on the screen, not past a sideways scroll the clinician cannot see.
      await page.goto("/orders");
      const worklist = page.getByTestId("worklist");
      const order = worklist.locator("tbody tr[data-order-id]").first();
      await expect(order).toBeVisible();
      expect(await worklist.evaluate((table) => table.scrollWidth - table.clientWidth), "the worklist scrolls sideways").toBeLessThanOrEqual(1);
      for (const part of [order.locator("td .badge").first(), order.getByRole("button", { name: /^Change status of / })]) {
        const box = await part.boundingBox();
        expect(box, "a worklist card's status and action are laid out").not.toBeNull();
        expect(box!.x).toBeGreaterThanOrEqual(0);
        expect(box!.x + box!.width).toBeLessThanOrEqual(screen.viewport.width);
      }
    }
    if (screen.name === "phone") {
      await page.setViewportSize({ width: 768, height: 1024 });
      for (const path of ["/", "/patients", `/patients/${patientId}`, `/patients/${patientId}/edit`, "/orders", "/census"]) {
        await page.goto(path);
        await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
        await check(`${path} on a 768 px tablet`);
      }
      await page.setViewportSize(screen.viewport);
      await page.goto(`/patients/${patientId}`);
      await page.screenshot({ path: ".scratch/chart-phone.png", fullPage: true });
    }
    // Sign-out stays on screen.
    await expect(page.getByRole("button", { name: "Sign out" })).toBeInViewport();

    // Compliance sees the override in the patient's audit timeline.
    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/sign-in/);
    await page.getByLabel("Email").fill("compliance@demo.test");
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByTestId("signed-in-user")).toBeVisible();
    await page.goto(`/audit/patients/${patientId}`);
    const override = page.locator('[data-event-type="MedicationAllergyOverridden"]');
    await expect(override).toContainText("Allergy check overridden");
    await expect(override).toContainText("No alternative; first dose under observation");
    await expect(override).toContainText("Casey Clinician");
    await expect(page.locator('[data-event-type="AllergyRecorded"]')).toContainText("Penicillin");
    await check("the audit timeline");
    if (screen.name === "phone") {
      // The compliance console shares the layout: its pages fit the phone too.
      for (const path of ["/", "/audit", "/audit/events", "/audit/patients", "/audit/activity", "/audit/emergency"]) {
        await page.goto(path);
        await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
        await check(`${path} (compliance)`);
        if (path === "/audit") {
          // A column of names keeps its words whole (at least 4em), not a strip of letters.
          const log = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "What they did" }) });
          for (const name of ["Who", "Patient"]) {
            const header = log.getByRole("columnheader", { name, exact: true });
            const ems = await header.evaluate((th) => th.getBoundingClientRect().width / parseFloat(getComputedStyle(th).fontSize));
            expect(ems, `the access log's ${name} column in em`).toBeGreaterThanOrEqual(4);
          }
        }
      }
      await page.goto("/audit/integrity");
      await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
      await check("/audit/integrity (compliance)");
      // And the admin console's pages.
      await page.getByRole("button", { name: "Sign out" }).click();
      await expect(page).toHaveURL(/\/sign-in/);
      await page.getByLabel("Email").fill("admin@demo.test");
      await page.getByLabel("Password").fill(password);
      await page.getByRole("button", { name: "Sign in" }).click();
      await expect(page.getByTestId("signed-in-user")).toBeVisible();
      for (const path of ["/admin", "/admin/projections", "/admin/metrics", "/admin/schemas", "/admin/erasure"]) {
        await page.goto(path);
        await expect(page.getByRole("heading", { level: 1 })).toBeVisible();
        await check(`${path} (admin)`);
      }
    }
    await context.close();
  });
}

test("registering someone already registered shows the chart that exists first, and registers only when told it is someone else", async ({ page }) => {
  await signInAsClinician(page);
  const family = `Twin${Date.now().toString(36)}`;
  const firstId = await registerPatient(page, { mrn: uniqueMrn(), given: "Ava", family, dob: "1988-07-21", sex: "female" });

  await page.goto("/patients/new");
  await page.getByLabel("Medical record number (MRN)").fill(uniqueMrn());
  await page.getByLabel("Given name").fill("ava");
  await page.getByLabel("Family name").fill(family.toUpperCase());
  await page.getByLabel("Date of birth").fill("1988-07-21");
  await page.getByLabel("Sex").selectOption("female");
  await page.getByRole("button", { name: "Register patient" }).click();
  const warning = page.getByTestId("possible-duplicates");
  await expect(warning).toContainText("This patient may already be registered");
  await expect(warning.getByRole("link", { name: `Ava ${family}` })).toHaveAttribute("href", `/patients/${firstId}`);
  // Nothing was registered yet: still on the form, with what was typed.
  await expect(page).toHaveURL(/\/patients\/new/);
  await expect(page.getByLabel("Given name")).toHaveValue("ava");
  // A changed name makes the match stale: the warning goes until the next try finds it again.
  await page.getByLabel("Given name").fill("avah");
  await expect(warning).toHaveCount(0);
  await page.getByLabel("Given name").fill("ava");
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(warning).toContainText("This patient may already be registered");

  await warning.getByRole("button", { name: "Not the same person: register anyway" }).click();
  await expect(page).toHaveURL(/\/patients\/[0-9a-f-]{36}/);
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
  expect(new URL(page.url()).pathname.split("/")[2]).not.toBe(firstId);
});

/** A patient registered through the API by the signed-in clinician (so in their care), their chart open. */
async function patientWithChartOpen(page: Page, given: string, family: string) {
  const { patientId } = await call<{ patientId: string }>(page, "patient.register", {
    mrn: uniqueMrn(),
    givenName: given,
    familyName: family,
    dateOfBirth: "1968-05-20",
    sex: "male",
  });
  return patientId;
}

test("the chart's history stays whole after Load older and a save that adds events", async ({ page }) => {
  await signInAsClinician(page);
  const patientId = await patientWithChartOpen(page, "Mira", `Paged${Date.now().toString(36)}`);
  // More than a page of 20 events: an alert recorded and resolved, twelve times.
  for (let i = 0; i < 12; i++) {
    const { alertId } = await call<{ alertId: string }>(page, "patient.recordAlert", { patientId, kind: "fall_risk", note: `note ${i}` });
    await call(page, "patient.resolveAlert", { patientId, alertId, reason: "Reassessed" });
  }
  const history = async () => (await query<{ items: { eventId: string }[] }>(page, "patient.history", { patientId, limit: 200 })).items.map((e) => e.eventId);
  const before = await history();
  expect(before.length).toBeGreaterThan(20);
  expect(before.length).toBeLessThan(38);
  await page.goto(`/patients/${patientId}`);
  const panel = page.getByRole("region", { name: "Recent history" });
  const events = panel.locator("li.event[data-event-id]");
  const shown = () => events.evaluateAll((els) => els.map((el) => el.getAttribute("data-event-id")));
  await expect(events).toHaveCount(20);
  await panel.getByRole("button", { name: "Load older" }).click();
  await expect(events).toHaveCount(before.length);

  // Saves in this tab add three events and re-read the history: page 1 now starts with them, and
  // page 2 goes on from where the new page 1 ends, so the events pushed off page 1 stay in view.
  for (const kind of ["fall_risk", "contact_isolation", "difficult_airway"]) {
    await page.getByRole("button", { name: "Record alert" }).click();
    const alertForm = page.getByRole("form", { name: "Record alert" });
    await alertForm.getByLabel("Alert").selectOption(kind);
    await alertForm.getByRole("button", { name: "Record alert" }).click();
    await expect(alertForm).toHaveCount(0);
  }
  const after = await history();
  expect(after).toHaveLength(before.length + 3);
  await expect(events.first()).toHaveAttribute("data-event-id", after[0]!);
  await expect(events).toHaveCount(after.length);
  expect(await shown()).toEqual(after);
  await expect(panel.getByRole("button", { name: "Load older" })).toHaveCount(0);
});

test("two tabs on one chart: a status change or a completion made on a stale view is a conflict that keeps what was typed", async ({ page }) => {
  await signInAsClinician(page);
  const family = `Stale${Date.now().toString(36)}`;
  const patientId = await patientWithChartOpen(page, "Ivo", family);
  const { encounterId } = await call<{ encounterId: string }>(page, "encounter.start", { patientId, encounterType: "inpatient", location: "Ward 2", reason: null });
  const order = (description: string, kind = "lab") =>
    call<{ orderId: string }>(page, "order.create", { patientId, encounterId, kind, priority: "routine", details: { description } });
  const { orderId: panelId } = await order("Basic metabolic panel");
  const { orderId: xrayId } = await order("Chest X-ray, 2 views", "imaging");
  await call(page, "order.changeStatus", { orderId: panelId, newStatus: "in_progress", expectedVersion: 1 });
  const other = await page.context().newPage();
  await other.goto("/");

  // Results typed in, then the order is cancelled in the other tab: the save is refused as a
  // conflict, the form says what happened and keeps the results.
  await page.goto(`/patients/${patientId}`);
  await page.getByRole("button", { name: "Change status of Basic metabolic panel" }).click();
  const panelForm = page.getByRole("form", { name: "Change status of Basic metabolic panel" });
  await panelForm.getByRole("radio", { name: "Completed" }).check();
  await panelForm.getByLabel("Test or finding, row 1").fill("Potassium");
  await panelForm.getByLabel("Value, row 1").fill("6.8");
  await panelForm.getByLabel("Unit, row 1").fill("mmol/L");
  await call(other, "order.changeStatus", { orderId: panelId, newStatus: "cancelled", reason: "Duplicate of this morning's panel", expectedVersion: 2 });
  await panelForm.getByRole("button", { name: "Complete order" }).click();
  const changed = page.getByTestId("changed-since-opened");
  await expect(changed.getByRole("heading", { name: "This order changed since you opened it" })).toBeVisible();
  await expect(changed).toContainText("You opened it when it was In progress; it is now Cancelled (reason: Duplicate of this morning's panel)");
  await expect(changed).toContainText("Its status can no longer change");
  await expect(changed.locator('[data-event-type="OrderStatusChanged"]')).toContainText("Casey Clinician");
  await expect(panelForm.getByLabel("Test or finding, row 1")).toHaveValue("Potassium");
  await expect(panelForm.getByLabel("Value, row 1")).toHaveValue("6.8");
  await expect(panelForm.getByRole("button", { name: "Complete order" })).toBeDisabled();
  await panelForm.getByRole("button", { name: "Close" }).click();
  await expect(changed).toHaveCount(0);

  // A cancellation typed on a placed order, then the other tab starts it: the next refetch of the
  // chart (here, after a save in this tab) shows the change above the form, which cannot be sent
  // on the old version; continuing on the new one is a deliberate step, and then it cancels.
  await page.getByRole("button", { name: "Change status of Chest X-ray, 2 views" }).click();
  const xrayForm = page.getByRole("form", { name: "Change status of Chest X-ray, 2 views" });
  await xrayForm.getByRole("radio", { name: "Cancelled" }).check();
  await xrayForm.getByLabel("Reason").fill("Not needed, clinical improvement");
  await call(other, "order.changeStatus", { orderId: xrayId, newStatus: "in_progress", expectedVersion: 1 });
  await page.getByRole("button", { name: "Record alert" }).click();
  await page.getByRole("form", { name: "Record alert" }).getByRole("button", { name: "Record alert" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Alert recorded" })).toBeVisible();
  await expect(changed).toContainText("You opened it when it was Placed; it is now In progress");
  await expect(xrayForm.getByRole("button", { name: "Cancel order" })).toBeDisabled();
  await expect(xrayForm.getByLabel("Reason")).toHaveValue("Not needed, clinical improvement");
  await changed.getByRole("button", { name: "Continue on the latest version" }).click();
  await expect(changed).toHaveCount(0);
  await expect(xrayForm.getByRole("radio", { name: "Cancelled" })).toBeChecked();
  await xrayForm.getByRole("button", { name: "Cancel order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Order “Chest X-ray, 2 views” is now cancelled." })).toBeVisible();

  // A discharge outcome typed, and the other tab completes the encounter first: refused, the
  // encounter stays on screen with the form and the outcome, marked completed.
  await page.getByRole("button", { name: "Complete", exact: true }).click();
  const outcome = "Improved on IV antibiotics; discharged with oral course, follow-up in clinic in 7 days.";
  await page.getByLabel("Outcome").fill(outcome);
  await page.getByLabel("Discharge disposition").selectOption("home");
  const version = (await query<{ version: number }>(other, "encounter.byId", { encounterId })).version;
  await call(other, "encounter.complete", { encounterId, outcome: "Discharged home", dischargeDisposition: "home", expectedVersion: version });
  await page.getByRole("button", { name: "Complete encounter" }).click();
  await expect(changed.getByRole("heading", { name: "This encounter changed since you opened it" })).toBeVisible();
  await expect(changed).toContainText("It is already Completed (Home)");
  await expect(page.getByLabel("Outcome")).toHaveValue(outcome);
  await expect(page.getByRole("button", { name: "Complete encounter" })).toBeDisabled();
  await page.getByRole("button", { name: "Close" }).click();
  await expect(page.getByText("No open encounters.")).toBeVisible();
});

test("two tabs on one chart: an allergy recorded in the other tab shows once this tab's command is refused, and a failed refresh says so", async ({
  page,
}) => {
  await signInAsClinician(page);
  const patientId = await patientWithChartOpen(page, "Lena", `Refused${Date.now().toString(36)}`);
  const other = await page.context().newPage();
  await other.goto("/");
  await page.goto(`/patients/${patientId}`);
  const banner = page.getByTestId("safety-banner");
  await expect(banner.getByTestId("banner-allergies")).toContainText("Allergies not recorded");

  await call(other, "patient.recordAllergy", {
    patientId,
    substance: { code: "penicillin", text: "Penicillin" },
    reaction: "Anaphylaxis",
    severity: "life_threatening",
    source: "patient",
    note: null,
  });
  // This tab has not seen it yet; "No known allergies" is refused, and the chart is re-read.
  await page.getByRole("button", { name: "No known allergies" }).click();
  await expect(page.getByTestId("safety-panel").getByRole("alert")).toBeVisible();
  await expect(banner.getByTestId("banner-allergies")).toContainText("Penicillin");
  await expect(page.getByRole("button", { name: "No known allergies" })).toHaveCount(0);

  // The chart cannot be re-read after a save: the alert is recorded, and the chart says it may be out of date.
  await page.route(/\/api\/trpc\/[^?]*patient\.byId/, (route) => route.fulfill({ status: 503, body: "unavailable" }));
  await page.getByRole("button", { name: "Record alert" }).click();
  const alertForm = page.getByRole("form", { name: "Record alert" });
  await alertForm.getByLabel("Alert").selectOption("contact_isolation");
  await alertForm.getByRole("button", { name: "Record alert" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Alert recorded: Contact isolation." })).toBeVisible();
  const stale = page.getByTestId("chart-refresh-failed");
  await expect(stale).toContainText("Could not refresh the chart", { timeout: 20_000 });
  await expect(stale).toContainText("what you see may be out of date");
  await page.unroute(/\/api\/trpc\/[^?]*patient\.byId/);
  await stale.getByRole("button", { name: "Retry" }).click();
  await expect(stale).toHaveCount(0);
  await expect(banner.getByTestId("banner-alerts")).toContainText("Contact isolation");
});
