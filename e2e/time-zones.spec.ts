// One hospital across time zones and a night across a change of clocks: a birth date is a
// calendar date wherever it is read; a clinical time typed on the night the clocks change means
// the instant the clinician chose (or is refused when it does not exist); an audit filter left
// unedited keeps its instant.
import { expect, test, type Browser } from "@playwright/test";
import { call, query, signIn } from "./helpers";

let counter = 0;
const uniqueMrn = () => `TZ${Date.now().toString(36).toUpperCase().slice(-7)}${(counter++).toString(36).toUpperCase()}`;

async function clinicianIn(browser: Browser, timezoneId: string) {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL, timezoneId });
  const page = await context.newPage();
  await signIn(page, "clinician@demo.test", "Casey Clinician");
  return { context, page };
}

test("a birth date on 29 February, registered in Auckland, is the same date in Los Angeles, Kolkata and Chatham", async ({ browser }) => {
  const auckland = await clinicianIn(browser, "Pacific/Auckland");
  const page = auckland.page;
  const family = `Leapday${Date.now().toString(36)}`;
  await page.goto("/patients/new");
  await page.getByLabel("Medical record number (MRN)").fill(uniqueMrn());
  await page.getByLabel("Given name").fill("Kiri");
  await page.getByLabel("Family name").fill(family);
  await page.getByLabel("Date of birth").fill("2024-02-29");
  await page.getByLabel("Sex").selectOption("female");
  await page.getByRole("button", { name: "Register patient" }).click();
  await expect(page).toHaveURL(/\/patients\/[0-9a-f-]{36}/);
  const patientId = new URL(page.url()).pathname.split("/")[2]!;
  await expect(page.getByTestId("safety-banner")).toContainText("born 2024-02-29");
  await auckland.context.close();

  for (const zone of ["America/Los_Angeles", "Asia/Kolkata", "Pacific/Chatham"]) {
    const { context, page: other } = await clinicianIn(browser, zone);
    await other.goto(`/patients/${patientId}`);
    await expect(other.getByTestId("safety-banner"), zone).toContainText("born 2024-02-29");
    await other.goto("/patients");
    await other.getByLabel("Search").fill(family);
    await expect(other.getByRole("row").filter({ hasText: family }), zone).toContainText("2024-02-29");
    // The edit form holds the same date, and saving another field leaves it alone.
    await other.goto(`/patients/${patientId}/edit`);
    await expect(other.getByLabel("Date of birth"), zone).toHaveValue("2024-02-29");
    await context.close();
  }
});

test("an order scheduled in the hour the clocks skip is refused, and one in the hour they repeat says which", async ({ browser }) => {
  const { context, page } = await clinicianIn(browser, "America/New_York");
  const { patientId } = await call<{ patientId: string }>(page, "patient.register", {
    mrn: uniqueMrn(),
    givenName: "Nora",
    familyName: `Nightshift${Date.now().toString(36)}`,
    dateOfBirth: "1961-05-05",
    sex: "female",
  });
  await page.goto(`/patients/${patientId}`);

  // 2026-03-08 02:30 does not exist in New York: the clocks go from 02:00 to 03:00.
  await page.getByRole("button", { name: "Place order" }).click();
  await page.getByLabel("Kind").selectOption("lab");
  await page.getByLabel("Description").fill("Lactate");
  const when = page.getByLabel("Scheduled for");
  await when.fill("2026-03-08T02:30");
  await page.getByRole("button", { name: "Place order" }).last().click();
  await expect(page.locator("#order-scheduledFor-error")).toContainText("does not exist");
  await expect(page.getByTestId("active-orders").getByRole("row").filter({ hasText: "Lactate" })).toHaveCount(0);

  // 2026-11-01 01:30 happens twice: the form says which one it means, and the second can be chosen.
  await when.fill("2026-11-01T01:30");
  await expect(page.getByText("01:30 happens twice")).toBeVisible();
  await page.getByLabel(/The second 01:30/).check();
  await page.getByRole("button", { name: "Place order" }).last().click();
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Lactate." })).toBeVisible();
  const worklist = await query<{ items: { patientId: string; scheduledFor: string | null }[] }>(page, "order.worklist", { provider: "me", limit: 100 });
  // 01:30 EST, after the clocks went back: 06:30 UTC (the first 01:30, EDT, is 05:30 UTC).
  expect(worklist.items.find((o) => o.patientId === patientId)?.scheduledFor).toBe("2026-11-01T06:30:00.000Z");
  await context.close();
});

test("a range that starts in the hour the clocks repeat keeps that start when only its end is edited: event log and access log", async ({ browser }) => {
  const context = await browser.newContext({ baseURL: test.info().project.use.baseURL, timezoneId: "America/New_York" });
  const page = await context.newPage();
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  // The second 01:30 of 2026-11-01 (EST, 06:30 UTC); the browser shows it as 01:30, as it shows
  // the first (EDT, 05:30 UTC), and hands the value back shortened.
  const second = "2026-11-01T06%3A30%3A00\\.000Z";

  // Only "Until" is edited (03:00 EST to 02:45 EST, 07:45 UTC): "From" must keep its instant.
  for (const [path, apply] of [["/audit/events", "Apply"], ["/audit", "Apply dates"]] as const) {
    await page.goto(`${path}?from=2026-11-01T06%3A30%3A00.000Z&to=2026-11-01T08%3A00%3A00.000Z`);
    await expect(page.getByLabel("From", { exact: true }), path).toHaveValue(/^2026-11-01T01:30/);
    await page.getByLabel("Until", { exact: true }).fill("2026-11-01T02:45");
    await page.getByRole("button", { name: apply }).click();
    await expect(page, path).toHaveURL(/to=2026-11-01T07%3A45%3A00\.000Z/);
    expect(page.url(), path).toMatch(new RegExp(`from=${second}`));
  }
  await context.close();
});
