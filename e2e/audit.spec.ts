// The compliance officer's journey: a clinician changes a patient's phone (with a reason) and
// opens the chart; the officer finds the patient, sees the change and its reason in the timeline,
// travels back to before it and sees the old number, and sees the clinician's read in the log.
import { expect, test } from "@playwright/test";
import { signIn, call, expectNoHorizontalOverflow, localInputValue, query } from "./helpers";

test("compliance follows a change through the timeline, travels to before it, and sees who viewed the chart", async ({ page }) => {
  // The clinician: register, then correct the phone number with a reason, then open the chart.
  await signIn(page, "clinician@demo.test", "Casey Clinician");
  const family = `Auditwell${Date.now().toString(36)}`;
  const mrn = `AU${Date.now().toString(36).toUpperCase().slice(-8)}`;
  const { patientId } = await call<{ patientId: string }>(page, "patient.register", {
    mrn,
    givenName: "Olive",
    familyName: family,
    dateOfBirth: "1971-08-14",
    sex: "female",
    phone: "+1 555 0101",
  });
  await page.waitForTimeout(50); // the registration and the change get distinct recorded instants
  await call(page, "patient.updateDemographics", {
    patientId,
    expectedVersion: 1,
    changes: { phone: "+1 555 0199" },
    reason: "Patient reported a new mobile number",
  });
  const chartRead = page.waitForResponse((r) => r.url().includes("patient.byId") && r.ok());
  await page.goto(`/patients/${patientId}`);
  await chartRead;
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);

  // The compliance officer finds the patient.
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit");
  await page.getByRole("navigation", { name: "Audit" }).getByRole("link", { name: "Patients" }).click();
  await expect(page).toHaveURL(/\/audit\/patients$/);
  await page.getByLabel("Name or MRN").fill(family);
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByRole("link", { name: `${family}, Olive` }).click();
  await expect(page).toHaveURL(new RegExp(`/audit/patients/${patientId}$`));
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(`${family}, Olive`);

  // The change in the timeline: who, before -> after, and why.
  const timeline = page.getByTestId("timeline");
  const change = timeline.getByTestId("timeline-event").filter({ has: page.getByRole("heading", { name: "Demographics updated" }) });
  await expect(change).toHaveCount(1);
  await expect(change).toContainText("Casey Clinician");
  await expect(change.getByTestId("before-phone")).toHaveText("+1 555 0101");
  await expect(change.getByTestId("after-phone")).toHaveText("+1 555 0199");
  await expect(change).toContainText("Reason: Patient reported a new mobile number");

  // Time travel to the registration, before the change: the old number, marked as differing.
  const registered = timeline.getByTestId("timeline-event").filter({ has: page.getByRole("heading", { name: "Patient registered" }) });
  await registered.getByRole("button", { name: /View the record as of/ }).click();
  await expect(page).toHaveURL(/asOf=/);
  const travel = page.getByTestId("time-travel");
  await expect(travel).toContainText("As recorded at");
  await expect(travel).toContainText("patient version 1 of 2");
  const phone = travel.getByTestId("as-of-demographics").locator("tr[data-field=phone]");
  await expect(phone.locator("td.then")).toContainText("+1 555 0101");
  await expect(phone.locator("td.now")).toHaveText("+1 555 0199");
  await expect(phone).toHaveClass(/differs/);
  await expect(travel.getByTestId("as-of-demographics").locator("tr[data-field=familyName] td.now")).toHaveText("same");

  // Back to now: the panel offers to pick an instant again.
  await travel.getByRole("button", { name: "Back to now" }).click();
  await expect(travel).toContainText("Pick an instant");

  // Who viewed this chart this month: the clinician, through the chart, in words.
  const readers = page.getByTestId("chart-readers");
  await expect(readers.getByTestId("reader").filter({ hasText: "Casey Clinician" }).filter({ hasText: "opened the chart" }).first()).toBeVisible();

  // The same change from the event log, filtered by type, to its detail page.
  await page.goto(`/audit/events?type=PatientDemographicsUpdated&stream=patient-${patientId}`);
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(1);
  await rows.getByRole("link", { name: "Demographics updated" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Demographics updated");
  await expect(page.getByTestId("event-metadata")).toContainText(`patient-${patientId}`);
  await expect(page.getByTestId("event-payload")).toContainText("Patient reported a new mobile number");
  await expect(page.getByTestId("correlated-events")).toContainText("this event");
});

test("the event log stays contiguous after Load older when new events arrive and the log refreshes", async ({ page, browser }) => {
  // The officer loads two pages of the log.
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit/events");
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(50);
  await page.getByRole("button", { name: "Load older" }).click();
  await expect(rows).toHaveCount(100);
  const ids = () => rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-event-id")));
  const firstLoad = await ids();

  // Meanwhile a clinician records three events.
  const clinic = await browser.newContext({ baseURL: test.info().project.use.baseURL });
  const clinician = await clinic.newPage();
  await signIn(clinician, "clinician@demo.test", "Casey Clinician");
  const { patientId } = await call<{ patientId: string }>(clinician, "patient.register", {
    mrn: `GP${Date.now().toString(36).toUpperCase().slice(-8)}`,
    givenName: "Gus",
    familyName: `Gapless${Date.now().toString(36)}`,
    dateOfBirth: "1959-11-02",
    sex: "male",
  });
  for (const kind of ["fall_risk", "contact_isolation"]) await call(clinician, "patient.recordAlert", { patientId, kind, note: null });
  await clinic.close();

  // The officer comes back to the tab: the focus refetch (once the data is stale) re-reads both pages.
  await page.waitForTimeout(5_500);
  await page.evaluate(() => document.dispatchEvent(new Event("visibilitychange", { bubbles: true })));
  await expect(rows.first()).not.toHaveAttribute("data-event-id", firstLoad[0]!);
  const shown = await ids();
  expect(shown).toHaveLength(100);
  // The same 100 events the API lists from the newest shown, none missing between the pages.
  const log = await query<{ items: { eventId: string }[] }>(page, "audit.events", { limit: 200 });
  const all = log.items.map((e) => e.eventId);
  const start = all.indexOf(shown[0]!);
  expect(start).toBeGreaterThanOrEqual(0);
  expect(shown).toEqual(all.slice(start, start + 100));
  // What was on screen before is still there, in order, moved down by the new events.
  const moved = shown.indexOf(firstLoad[0]!);
  expect(moved).toBeGreaterThan(0);
  expect(shown.slice(moved)).toEqual(firstLoad.slice(0, 100 - moved));
});

test("an event-log time range is a pair of instants: the same link shows the same events in another time zone, and the filters fit a tablet", async ({ browser }) => {
  const baseURL = test.info().project.use.baseURL;
  const chicago = await browser.newContext({ baseURL, timezoneId: "America/Chicago", viewport: { width: 1024, height: 800 } });
  const page = await chicago.newPage();
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit/events");
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(50);
  const newest = await query<{ items: { eventId: string; recordedAt: string }[] }>(page, "audit.events", { limit: 1 });
  // Whole seconds: the inputs step by the second.
  const at = new Date(Math.floor(new Date(newest.items[0]!.recordedAt).getTime() / 1000) * 1000);
  await page.getByLabel("From", { exact: true }).fill(await localInputValue(page, new Date(at.getTime() - 60 * 60_000)));
  await page.getByLabel("Until", { exact: true }).fill(await localInputValue(page, new Date(at.getTime() + 61_000)));
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/from=\d{4}-\d\d-\d\dT[\d%A]+.*Z&to=/);
  await expect(page.getByTestId("event-range")).toContainText(/C[SD]T/);
  await expect(rows.first()).toHaveAttribute("data-event-id", newest.items[0]!.eventId);
  const link = page.url();
  const inChicago = await rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-event-id")));
  const chicagoFrom = await page.getByLabel("From", { exact: true }).inputValue();
  for (const width of [1024, 768]) {
    await page.setViewportSize({ width, height: 800 });
    await expectNoHorizontalOverflow(page, `the filtered event log at ${width} px`);
  }

  // A colleague in Berlin opens the same link: the same events, the range shown in their zone.
  const berlin = await browser.newContext({ baseURL, timezoneId: "Europe/Berlin" });
  const other = await berlin.newPage();
  await signIn(other, "compliance@demo.test", "Morgan Compliance");
  await other.goto(link);
  const otherRows = other.getByTestId("event-row");
  await expect(otherRows.first()).toHaveAttribute("data-event-id", newest.items[0]!.eventId);
  expect(await otherRows.evaluateAll((els) => els.map((el) => el.getAttribute("data-event-id")))).toEqual(inChicago);
  await expect(other.getByTestId("event-range")).toContainText(/CET|GMT\+1/);
  await expect(other.getByLabel("From", { exact: true })).not.toHaveValue(chicagoFrom);
  await chicago.close();
  await berlin.close();
});
