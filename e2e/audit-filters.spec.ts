// The compliance officer's lists keep their view in the URL: filter the event log or the access
// log, open an event or a patient, press Back, and the filters, the pages shown and the rows are
// as they were; a reload keeps them; a damaged link shows the default view and says what it left
// out, never an error page. The access log refuses a range that ends before it starts, inline.
import { expect, test, type Page } from "@playwright/test";
import { localInputValue, signIn } from "./helpers";

const shots = ".scratch/audit-filters";
/** Whole seconds: the range inputs step by the second. */
const at = (ms: number) => new Date(Math.floor(ms / 1000) * 1000);
const ids = (page: Page, testId: string, attribute: string) => page.getByTestId(testId).evaluateAll((els, a) => els.map((el) => el.getAttribute(a)), attribute);

test("the event log's filters and pages survive opening an event, Back and a reload; a damaged link falls back", async ({ page }) => {
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit/events");
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(50);

  // The safety events have a group of their own in the type filter; nothing is filed under Other.
  const type = page.getByLabel("Event type");
  await expect(type.locator("optgroup[label^='Safety']").locator("option[value=AllergyRecorded]")).toHaveCount(1);
  await expect(type.locator("optgroup[label^='Safety']").locator("option[value=CriticalResultFlagged]")).toHaveCount(1);
  await expect(type.locator("optgroup[label^='Safety']").locator("option[value=MedicationAllergyOverridden]")).toHaveCount(1);
  await expect(type.locator("optgroup[label=Other]")).toHaveCount(0);

  // Two pages of the whole log, then an event of the second page, then Back: the same 100 rows.
  await page.getByRole("button", { name: "Load older" }).click();
  await expect(rows).toHaveCount(100);
  await expect(page).toHaveURL(/[?&]pages=2(&|$)/);
  const twoPages = await ids(page, "event-row", "data-event-id");
  await rows.nth(75).getByRole("link").first().click();
  await expect(page).toHaveURL(/\/audit\/events\/[0-9a-f-]{36}$/);
  await page.goBack();
  await expect(page).toHaveURL(/\/audit\/events\?pages=2$/);
  await expect(rows).toHaveCount(100);
  expect(await ids(page, "event-row", "data-event-id")).toEqual(twoPages);
  await page.reload();
  await expect(rows).toHaveCount(100);
  expect(await ids(page, "event-row", "data-event-id")).toEqual(twoPages);

  // Filtered by type and by recorded time: open one, Back, and the filter bar and rows are the same.
  await page.goto("/audit/events");
  await type.selectOption("PatientRegistered");
  const now = new Date();
  await page.getByLabel("From", { exact: true }).fill(await localInputValue(page, at(now.getTime() - 30 * 86_400_000)));
  await page.getByLabel("Until", { exact: true }).fill(await localInputValue(page, at(now.getTime() + 3_600_000)));
  await page.getByRole("button", { name: "Apply" }).click();
  await expect(page).toHaveURL(/type=PatientRegistered.*from=.*to=/);
  await expect(rows.first()).toHaveAttribute("data-event-type", "PatientRegistered");
  const filtered = await ids(page, "event-row", "data-event-id");
  expect(new Set(await ids(page, "event-row", "data-event-type"))).toEqual(new Set(["PatientRegistered"]));
  const filteredUrl = page.url();
  const from = await page.getByLabel("From", { exact: true }).inputValue();
  const until = await page.getByLabel("Until", { exact: true }).inputValue();
  expect(from).not.toBe("");
  await rows.first().getByRole("link", { name: "Patient registered" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText("Patient registered");
  await page.goBack();
  await expect(page).toHaveURL(filteredUrl);
  await expect(type).toHaveValue("PatientRegistered");
  await expect(page.getByLabel("From", { exact: true })).toHaveValue(from);
  await expect(page.getByLabel("Until", { exact: true })).toHaveValue(until);
  await expect(rows.first()).toHaveAttribute("data-event-type", "PatientRegistered");
  expect(await ids(page, "event-row", "data-event-id")).toEqual(filtered);
  await page.reload();
  await expect(type).toHaveValue("PatientRegistered");
  await expect(page.getByLabel("From", { exact: true })).toHaveValue(from);
  await expect(rows.first()).toHaveAttribute("data-event-type", "PatientRegistered");
  expect(await ids(page, "event-row", "data-event-id")).toEqual(filtered);
  await page.screenshot({ path: `${shots}/1-event-log-after-back.png`, fullPage: true });

  // A damaged link: each unreadable value is left out and named; the rest of the page works.
  const response = await page.goto(
    `/audit/events?type=${encodeURIComponent("<script>")}&stream=${"x".repeat(300)}&from=yesterday&to=2026-02-30T99:00&time=sideways&pages=-4&user=${encodeURIComponent("a\u0001b")}`,
  );
  expect(response?.status()).toBe(200);
  await expect(page.getByTestId("ignored-filters")).toContainText("“event type”, “record (stream id)”, “user”, “from”, “until”");
  await expect(rows).toHaveCount(50);
  await expect(page.getByText("could not be loaded")).toHaveCount(0);
  await page.screenshot({ path: `${shots}/2-event-log-damaged-link.png`, fullPage: true });
  // A range that ends before it starts is left out too, not sent for the server to refuse.
  await page.goto("/audit/events?from=2026-06-01T00:00:00.000Z&to=2026-01-01T00:00:00.000Z&pages=abc");
  await expect(page.getByTestId("ignored-filters")).toContainText("“from”, “until”");
  await expect(rows).toHaveCount(50);
  // Too many pages asked for is read as one.
  await page.goto("/audit/events?pages=9999");
  await expect(rows).toHaveCount(50);
  await expect(page.getByTestId("ignored-filters")).toHaveCount(0);
});

test("the event log's user is picked by name, and a row's user, record and request each filter by it", async ({ page }) => {
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit/events");
  const rows = page.getByTestId("event-row");
  await expect(rows).toHaveCount(50);
  const picked = page.getByTestId("picked-user");

  // The access log's picker: a name matching nobody says so, and the log stays unfiltered.
  const userField = page.getByLabel("User (name or email)");
  await userField.fill("Nobody-by-this-name");
  await page.getByRole("search", { name: "User" }).getByRole("button", { name: "Find" }).click();
  await expect(page.getByTestId("user-no-match")).toContainText("Nobody matches");
  await expect(page).toHaveURL(/\/audit\/events$/);
  // A name (Enter finds, without applying the filters around it), then a pick: the URL holds the id, the bar the name.
  await userField.fill("okonkwo");
  await userField.press("Enter");
  await expect(page).toHaveURL(/\/audit\/events$/);
  await page.getByRole("list", { name: "Matching users" }).getByRole("button", { name: /^Dr\. Maya Okonkwo/ }).click();
  await expect(picked).toHaveText("Dr. Maya Okonkwo");
  await expect(page).toHaveURL(/\/audit\/events\?user=[^&]+$/);
  const userId = new URL(page.url()).searchParams.get("user")!;
  await expect(rows.first()).toBeVisible();
  expect(new Set(await ids(page, "event-row", "data-user-id"))).toEqual(new Set([userId]));
  await page.screenshot({ path: `${shots}/6-event-log-user-picked.png`, fullPage: true });
  // A reload names them again from the id alone.
  await page.reload();
  await expect(picked).toHaveText("Dr. Maya Okonkwo");
  expect(new Set(await ids(page, "event-row", "data-user-id"))).toEqual(new Set([userId]));
  // Change clears the user: the whole log again, and the picker back.
  await page.getByRole("button", { name: "Any user" }).click();
  await expect(page).toHaveURL(/\/audit\/events$/);
  await expect(userField).toBeVisible();
  await expect(rows).toHaveCount(50);

  // A user's name in the table filters by them.
  const first = rows.filter({ has: page.locator("[data-testid=event-user]:not(.mono)") }).first();
  const nameClicked = (await first.getByTestId("event-user").textContent())!;
  const idClicked = (await first.getAttribute("data-user-id"))!;
  await first.getByTestId("event-user").click();
  await expect(page).toHaveURL(new RegExp(`/audit/events\\?user=${encodeURIComponent(idClicked)}$`));
  await expect(picked).toHaveText(nameClicked);
  await expect(rows.first()).toBeVisible();
  expect(new Set(await ids(page, "event-row", "data-user-id"))).toEqual(new Set([idClicked]));

  // A row's record fills in "Record (stream id)", its request "Request (correlation id)": nothing typed.
  await rows.first().getByTitle(/^All events of this record/).click();
  await expect(page).toHaveURL(/\/audit\/events\?stream=[^&]+$/);
  const stream = new URL(page.url()).searchParams.get("stream")!;
  await expect(page.getByLabel("Record (stream id)")).toHaveValue(stream);
  await expect(rows.first()).toBeVisible();
  await rows.first().getByTitle(/^All events of this request/).click();
  await expect(page).toHaveURL(/\/audit\/events\?correlation=[^&]+$/);
  const correlation = new URL(page.url()).searchParams.get("correlation")!;
  await expect(page.getByLabel("Request (correlation id)")).toHaveValue(correlation);
  await expect(rows.first()).toBeVisible();
  await page.screenshot({ path: `${shots}/7-event-log-request.png`, fullPage: true });
});

test("the access log keeps its patient, user and range on Back and reload, refuses a reversed range inline, and reads a damaged link as no filter", async ({ page }) => {
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  // The officer's own reads: the event log lists patients, each a row of the access log.
  await page.goto("/audit/events");
  await expect(page.getByTestId("event-row")).toHaveCount(50);
  await page.goto("/audit");
  const accessRows = page.getByTestId("access-row");
  await expect(accessRows.first()).toBeVisible();

  // A range that ends before it starts: said inline, and nothing is applied or sent.
  const now = new Date();
  const requests: string[] = [];
  page.on("request", (r) => {
    if (r.url().includes("audit.accessLog")) requests.push(r.url());
  });
  await page.getByLabel("From", { exact: true }).fill(await localInputValue(page, at(now.getTime() + 3_600_000)));
  await page.getByLabel("Until", { exact: true }).fill(await localInputValue(page, at(now.getTime() - 3_600_000)));
  await page.getByRole("button", { name: "Apply dates" }).click();
  await expect(page.getByTestId("range-error")).toHaveText("“From” must be before “Until”.");
  await expect(page.getByLabel("Until", { exact: true })).toHaveAttribute("aria-invalid", "true");
  await expect(page).toHaveURL(/\/audit$/);
  await page.screenshot({ path: `${shots}/3-access-log-reversed-range.png`, fullPage: true });
  await page.waitForTimeout(300);
  expect(requests).toEqual([]);

  // A good range and a user picked by name: in the URL, by id.
  await page.getByLabel("From", { exact: true }).fill(await localInputValue(page, at(now.getTime() - 86_400_000)));
  await page.getByLabel("Until", { exact: true }).fill(await localInputValue(page, at(now.getTime() + 3_600_000)));
  await page.getByRole("button", { name: "Apply dates" }).click();
  await expect(page.getByTestId("range-error")).toHaveCount(0);
  await expect(page).toHaveURL(/\/audit\?from=.*&to=/);
  await page.getByLabel("User (name or email)").fill("Morgan");
  await page.getByRole("search", { name: "User" }).getByRole("button", { name: "Find" }).click();
  await page.getByRole("button", { name: /^Morgan Compliance/ }).click();
  await expect(page.getByTestId("picked-user")).toHaveText("Morgan Compliance");
  await expect(page).toHaveURL(/\/audit\?user=[^&]+&from=[^&]+&to=[^&]+$/);
  await expect(accessRows.first()).toContainText("Morgan Compliance");
  const url = page.url();
  const shown = await accessRows.allTextContents();
  const from = await page.getByLabel("From", { exact: true }).inputValue();
  expect(from).not.toBe("");

  // Open a patient from the log, then Back: the same filters and rows.
  await accessRows.first().getByRole("link").click();
  await expect(page).toHaveURL(/\/audit\/patients\/[0-9a-f-]{36}$/);
  await page.goBack();
  await expect(page).toHaveURL(url);
  await expect(page.getByTestId("picked-user")).toHaveText("Morgan Compliance");
  await expect(page.getByLabel("From", { exact: true })).toHaveValue(from);
  await expect(accessRows.first()).toBeVisible();
  // Each load of the log is itself a read by the officer, listed at the top: what was shown is still there.
  await expect.poll(() => accessRows.allTextContents()).toContain(shown[0]);
  // A reload names the user again from the id alone.
  await page.reload();
  await expect(page.getByTestId("picked-user")).toHaveText("Morgan Compliance");
  await expect(page.getByLabel("From", { exact: true })).toHaveValue(from);
  await expect(accessRows.first()).toContainText("Morgan Compliance");
  await expect.poll(() => accessRows.allTextContents()).toContain(shown[0]);
  await page.screenshot({ path: `${shots}/4-access-log-after-reload.png`, fullPage: true });

  // A damaged link: left out and named, the whole log shown.
  const response = await page.goto(`/audit?patient=not-a-patient&user=${"u".repeat(150)}&from=soon&to=2026-13-01T00:00:00Z&pages=0`);
  expect(response?.status()).toBe(200);
  await expect(page.getByTestId("ignored-filters")).toContainText("“patient”, “user”, “from”, “until”");
  await expect(accessRows.first()).toBeVisible();
  await expect(page.getByTestId("picked-patient")).toHaveCount(0);
  await page.screenshot({ path: `${shots}/5-access-log-damaged-link.png`, fullPage: true });
});

test("the review list and the per-user counts keep their choice in the URL", async ({ page }) => {
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit/emergency");
  await page.getByRole("button", { name: "Reviewed", exact: true }).click();
  await expect(page).toHaveURL(/\/audit\/emergency\?status=reviewed$/);
  await page.reload();
  await expect(page.getByRole("button", { name: "Reviewed", exact: true })).toHaveAttribute("aria-pressed", "true");
  await page.goto("/audit/emergency?status=everything&pages=x");
  await expect(page.getByRole("button", { name: "Needing review" })).toHaveAttribute("aria-pressed", "true");

  await page.goto("/audit/access-by-user");
  await page.getByRole("button", { name: "This month" }).click();
  await expect(page).toHaveURL(/period=month$/);
  await page.reload();
  await expect(page.getByRole("button", { name: "This month" })).toHaveAttribute("aria-pressed", "true");
  await page.goto("/audit/access-by-user?period=forever");
  await expect(page.getByRole("button", { name: "Today" })).toHaveAttribute("aria-pressed", "true");
});
