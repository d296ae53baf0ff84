// A ward's Wi-Fi: answers lost after the server saved, a browser that goes offline, a slow
// server, a session that ends in another tab while a form is half-filled. What the clinician is
// told must be true (never "nothing was saved" for what was, never "no patient matches" for a
// search that never ran), what they typed is kept, and sending it again saves it once.
import { expect, test, type Page, type Route } from "@playwright/test";
import { query, signIn, signOut } from "./helpers";

let counter = 0;
const uniqueMrn = () => `W${Date.now().toString(36).toUpperCase().slice(-7)}${(counter++).toString(36).toUpperCase()}`;

const unanswered = "The server did not answer, so this may or may not have been saved.";

/** The next call of `procedure` reaches the server and is applied there; its answer never arrives. */
async function loseNextAnswer(page: Page, procedure: string) {
  const pattern = `**/api/trpc/${procedure}?**`;
  let lost = false;
  const handler = async (route: Route) => {
    if (lost) return route.continue();
    lost = true;
    await route.fetch();
    await route.abort("connectionreset");
  };
  await page.route(pattern, handler);
}

async function fillRegistration(page: Page, mrn: string, family: string) {
  await page.goto("/patients/new");
  await page.getByLabel("Medical record number (MRN)").fill(mrn);
  await page.getByLabel("Given name").fill("Wren");
  await page.getByLabel("Family name").fill(family);
  await page.getByLabel("Date of birth").fill("1968-04-12");
  await page.getByLabel("Sex").selectOption("female");
}

async function registerPatient(page: Page) {
  const mrn = uniqueMrn();
  await fillRegistration(page, mrn, `Netley${mrn}`);
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
  return { mrn, patientId: new URL(page.url()).pathname.split("/")[2]! };
}

type History = { items: { type: string; streamId: string }[] };
const eventsOf = async (page: Page, patientId: string, type: string) =>
  (await query<History>(page, "patient.history", { patientId, limit: 50 })).items.filter((i) => i.type === type);

test.beforeEach(async ({ page }) => {
  // Reloads and links away from a half-filled form are let through; the journeys do not test the question.
  page.on("dialog", (dialog) => void dialog.accept());
  await signIn(page, "clinician@demo.test", "Casey Clinician");
});

test("an order cancelled over a connection that lost the answer: the chart's refresh is not called someone else's change, and sending it again cancels it once", async ({ page }) => {
  const { patientId } = await registerPatient(page);
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByLabel("Kind").selectOption("lab");
  await page.getByLabel("Description").fill("Ferritin");
  await page.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Ferritin." })).toBeVisible();

  await page.getByRole("button", { name: "Change status of Ferritin" }).click();
  await page.getByRole("radio", { name: "Cancelled" }).check();
  await page.getByLabel("Reason").fill("Duplicate of this morning's request");
  await loseNextAnswer(page, "order.changeStatus");
  await page.getByRole("button", { name: "Cancel order" }).click();
  await expect(page.getByRole("alert").filter({ hasText: unanswered })).toBeVisible();

  // The chart polls: it shows the order cancelled, by this very command.
  const row = page.getByRole("row").filter({ hasText: "Ferritin" }).first();
  await expect(row).toContainText("Cancelled", { timeout: 30_000 });
  // Not "changed since you opened it ... Nothing was saved": that would be false.
  await expect(page.getByTestId("changed-since-opened")).toHaveCount(0);
  await expect(page.getByLabel("Reason")).toHaveValue("Duplicate of this morning's request");

  // Sent again as it is: the server answers with what it stored, and the form says so.
  await page.getByRole("button", { name: "Cancel order" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Order “Ferritin” is now cancelled." })).toBeVisible();
  expect(await eventsOf(page, patientId, "OrderStatusChanged")).toHaveLength(1);
});

test("an order whose answer was lost, the form closed and opened again and the same order sent: placed once", async ({ page }) => {
  const { patientId } = await registerPatient(page);
  const placeFerritin = async () => {
    await page.getByRole("button", { name: "Place order" }).click();
    await page.getByLabel("Kind").selectOption("lab");
    await page.getByLabel("Description").fill("Ferritin");
    await page.getByRole("button", { name: "Place order" }).click();
  };
  await loseNextAnswer(page, "order.create");
  await placeFerritin();
  await expect(page.getByRole("alert").filter({ hasText: unanswered })).toBeVisible();
  // The clinician gives up on the form and starts over, typing the same order.
  await page.getByRole("button", { name: "Close" }).click();
  await placeFerritin();
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Ferritin." })).toBeVisible();
  expect(await eventsOf(page, patientId, "OrderCreated")).toHaveLength(1);

  // A second Ferritin on purpose, once the first was answered, is a second order.
  await placeFerritin();
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Ferritin." })).toBeVisible();
  await expect.poll(async () => (await eventsOf(page, patientId, "OrderCreated")).length).toBe(2);
});

test("an encounter completed over a connection that lost the answer: not told 'nothing was saved', and completed once", async ({ page }) => {
  const { patientId } = await registerPatient(page);
  await page.getByRole("button", { name: "Start encounter" }).click();
  await page.getByLabel("Type").selectOption("outpatient");
  // A start whose answer is lost, sent again: one encounter.
  await loseNextAnswer(page, "encounter.start");
  await page.getByRole("button", { name: "Start encounter" }).click();
  await expect(page.getByRole("alert").filter({ hasText: unanswered })).toBeVisible();
  await page.getByRole("button", { name: "Start encounter" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Outpatient encounter started." })).toBeVisible();
  expect(await eventsOf(page, patientId, "EncounterStarted")).toHaveLength(1);

  await page.getByTestId("open-encounter").getByRole("button", { name: "Complete" }).click();
  await page.getByLabel("Outcome").fill("Wound reviewed, healing well");
  await page.getByLabel("Discharge disposition").selectOption("home");
  await loseNextAnswer(page, "encounter.complete");
  await page.getByRole("button", { name: "Complete encounter" }).click();
  await expect(page.getByRole("alert").filter({ hasText: unanswered })).toBeVisible();
  // The chart polls: the encounter shows completed, by this very command.
  await expect(page.getByRole("region", { name: "Patient safety" })).toContainText("None open", { timeout: 30_000 });
  await expect(page.getByTestId("changed-since-opened")).toHaveCount(0);
  await expect(page.getByLabel("Outcome")).toHaveValue("Wound reviewed, healing well");

  await page.getByRole("button", { name: "Complete encounter" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Outpatient encounter completed." })).toBeVisible();
  expect(await eventsOf(page, patientId, "EncounterCompleted")).toHaveLength(1);
});

test("offline, a registration fails at once with the input kept, and registers one patient when sent again online", async ({ page, context }) => {
  const mrn = uniqueMrn();
  await fillRegistration(page, mrn, `Offley${mrn}`);
  await context.setOffline(true);
  await page.getByRole("button", { name: "Register patient" }).click();
  // Not a "Registering…" held back with no word of why, to go out whenever the Wi-Fi returns.
  await expect(page.getByRole("alert").filter({ hasText: unanswered })).toBeVisible();
  await expect(page.getByRole("button", { name: "Register patient" })).toBeEnabled();
  await expect(page.getByLabel("Medical record number (MRN)")).toHaveValue(mrn);
  await context.setOffline(false);
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
  const found = await query<{ items: { mrn: string }[] }>(page, "patient.list", { search: mrn, limit: 5 });
  expect(found.items.map((p) => p.mrn)).toEqual([mrn]);
});

test("a registration whose answer was lost, the page reloaded and the form typed again: told it is their own patient, with the chart to open", async ({ page }) => {
  const mrn = uniqueMrn();
  const family = `Relode${mrn}`;
  await fillRegistration(page, mrn, family);
  await loseNextAnswer(page, "patient.register");
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("alert").filter({ hasText: unanswered })).toBeVisible();
  // A reload forgets the send (nothing of it is kept beyond the page), and the form is typed again.
  await page.reload();
  await fillRegistration(page, mrn, family);
  await page.getByRole("button", { name: "Register patient" }).click();
  // Not "belongs to another patient", which invites a second MRN for the same person.
  await expect(page.locator("#mrn-error")).toHaveText("You already registered a patient with this MRN.");
  const own = page.getByTestId("own-registration");
  await page.screenshot({ path: "e2e/.screenshots/own-registration.png", fullPage: true });
  await own.getByRole("link", { name: "Open the chart you registered" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(family);
  const found = await query<{ items: { mrn: string }[] }>(page, "patient.list", { search: mrn, limit: 5 });
  expect(found.items.map((p) => p.mrn)).toEqual([mrn]);
});

test("a patient search that has not run never says that no patient matches: offline, or while a slow server answers", async ({ page, context }) => {
  const { mrn } = await registerPatient(page);
  await page.goto("/patients");
  const search = page.getByLabel("Search");
  await search.fill("zzzqx");
  await expect(page.getByTestId("patients-empty")).toContainText("No patients match “zzzqx”.");

  // Slow: until the answer for the new term arrives, it is "Searching…", not the old term's emptiness.
  await page.route("**/api/trpc/patient.list?**", async (route) => {
    await new Promise((r) => setTimeout(r, 4_000));
    await route.continue().catch(() => undefined);
  });
  await search.fill(mrn);
  await expect(page.locator("#patient-search-status")).toHaveText("Searching…");
  await expect(page.getByTestId("patients-empty")).toHaveCount(0);
  await expect(page.getByRole("row").filter({ hasText: mrn })).toBeVisible({ timeout: 15_000 });
  await page.unrouteAll({ behavior: "ignoreErrors" });

  // Offline: the search fails and says so, with a retry; not "No patients match".
  await search.fill("zzzqx");
  await expect(page.getByTestId("patients-empty")).toBeVisible();
  await context.setOffline(true);
  await search.fill(`${mrn.slice(0, 5)}`);
  await expect(page.getByRole("alert").filter({ hasText: "Could not load patients" })).toBeVisible({ timeout: 15_000 });
  await expect(page.getByTestId("patients-empty")).toHaveCount(0);
  await context.setOffline(false);
  await page.getByRole("button", { name: /Retry|Try again/ }).click();
  await expect(page.getByRole("row").filter({ hasText: mrn })).toBeVisible();
});

test("a gateway's error page in front of the server is named as such, not as a connection the clinician should check", async ({ page }) => {
  const { patientId } = await registerPatient(page);
  await page.route("**/api/trpc/patient.byId?**", (route) => route.fulfill({ status: 502, contentType: "text/html", body: "<html><body>502 Bad Gateway</body></html>" }));
  await page.goto(`/patients/${patientId}`);
  // Retried twice (a gateway's fault may pass), then said as it is.
  await expect(page.getByRole("alert").filter({ hasText: "The server, or a gateway in front of it, failed (HTTP 502)." })).toBeVisible({ timeout: 20_000 });
  await page.unrouteAll({ behavior: "ignoreErrors" });
  await page.getByRole("button", { name: /Retry|Try again/ }).click();
  await expect(page.getByRole("heading", { name: /Netley/ })).toBeVisible();
});

test("signed out in another tab while a registration is half-filled: sign in again over the form, which keeps what was typed", async ({ page, context }) => {
  const mrn = uniqueMrn();
  await fillRegistration(page, mrn, `Sessley${mrn}`);
  const other = await context.newPage();
  await other.goto("/patients");
  await signOut(other);
  await other.close();

  await page.getByRole("button", { name: "Register patient" }).click();
  const dialog = page.getByRole("dialog", { name: "Your session has ended" });
  await expect(dialog).toBeVisible();
  await expect(page.getByRole("alert").filter({ hasText: "Your session has ended, so this was not saved." })).toBeVisible();
  await expect(dialog.getByLabel("Email")).toHaveValue("clinician@demo.test");
  await dialog.getByLabel("Password").fill("demo-password-2026");
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await expect(dialog).toBeHidden();
  await expect(page).toHaveURL(/\/patients\/new$/);
  await expect(page.getByLabel("Medical record number (MRN)")).toHaveValue(mrn);
  await expect(page.getByLabel("Family name")).toHaveValue(`Sessley${mrn}`);
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
});

test("an admin whose 'add user' lost its answer is told the user may exist and where the new link comes from", async ({ page }) => {
  await signOut(page);
  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  const email = `wren.${Date.now().toString(36)}@demo.test`;
  await page.getByLabel("Name").fill("Wren Ward");
  await page.getByLabel("Email").fill(email);
  await loseNextAnswer(page, "users.create");
  await page.getByRole("button", { name: "Add user and make an enrolment link" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "The server did not answer, so the user may or may not have been added." });
  await expect(alert).toBeVisible();
  await expect(alert).not.toContainText("Failed to fetch");
  // Where it says to look: the user is there, and a new link is issued from their row.
  await page.reload();
  await expect(page.getByTestId(`user-${email}`)).toBeVisible();
});

test("another user signed in in another tab: this tab's registration is not recorded as theirs, and its own user signs in again over the form", async ({ page, context }) => {
  const mrn = uniqueMrn();
  await fillRegistration(page, mrn, `Twotab${mrn}`);
  const other = await context.newPage();
  other.on("dialog", (dialog) => void dialog.accept());
  await other.goto("/patients");
  await signOut(other);
  await signIn(other, "compliance@demo.test", "");
  await other.close();

  // The browser's cookie is the compliance officer's now; this page still shows Casey.
  await page.getByRole("button", { name: "Register patient" }).click();
  const dialog = page.getByRole("dialog", { name: "Your session has ended" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("Email")).toHaveValue("clinician@demo.test");
  await dialog.getByLabel("Password").fill("demo-password-2026");
  await dialog.getByRole("button", { name: "Sign in" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByLabel("Family name")).toHaveValue(`Twotab${mrn}`);
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
  await expect(page.locator('[data-event-type="PatientRegistered"]')).toContainText("by Casey Clinician");
});
