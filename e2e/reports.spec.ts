// Operations pages over the async projections: a clinician reads the census and order turnaround
// (with the overdue thresholds and how fresh the numbers are); a compliance officer reads the
// activity chart with users by name.
import { expect, test } from "@playwright/test";
import { signIn } from "./helpers";

test("a clinician sees the census and order turnaround with data", async ({ page }) => {
  await signIn(page, "clinician@demo.test", "Casey Clinician");

  await page.goto("/census");
  await expect(page.getByRole("heading", { name: "Census", level: 1 })).toBeVisible();
  await expect(page.getByTestId("census-by-type")).toBeVisible();
  expect(Number(await page.getByTestId("census-open").textContent())).toBeGreaterThan(0);
  await expect(page.getByTestId("census-by-provider").locator("tbody tr").first()).toBeVisible();
  await expect(page.getByText("the census is not broken down by it")).toBeVisible();
  await expect(page.getByTestId("projection-lag")).toContainText(/As of .* ago/);
  await page.screenshot({ path: ".scratch/census.png", fullPage: true });
  // A background refresh that fails keeps the numbers and says so, with their time and a retry.
  await page.route(/\/api\/trpc\/[^?]*reports\.census/, (route) => route.fulfill({ status: 503, body: "unavailable" }));
  await page.waitForTimeout(5_500);
  await page.evaluate(() => window.dispatchEvent(new Event("visibilitychange")));
  const stale = page.getByTestId("census-refresh-failed");
  await expect(stale).toContainText("Could not refresh the census", { timeout: 20_000 });
  await expect(stale.locator("time")).toBeVisible();
  await expect(page.getByTestId("census-by-type")).toBeVisible();
  await page.screenshot({ path: "e2e/.screenshots/census-refresh-failed.png", fullPage: true });
  await page.unroute(/\/api\/trpc\/[^?]*reports\.census/);
  await stale.getByRole("button", { name: "Retry" }).click();
  await expect(stale).toHaveCount(0);

  await page.getByRole("navigation", { name: "Clinical" }).getByRole("link", { name: "Turnaround" }).click();
  await expect(page).toHaveURL(/\/orders\/turnaround$/);
  await expect(page.getByRole("heading", { name: "Order turnaround", level: 1 })).toBeVisible();
  await expect(page.getByTestId("thresholds")).toContainText("1 h for STAT, 4 h for urgent and 1 d for routine");
  await page.getByLabel("Period").selectOption("90");
  await expect(page.getByTestId("summary-table").locator("tbody tr").first()).toBeVisible();
  await expect(page.getByTestId("daily-table").locator("tbody tr").first()).toBeVisible();
  // The seeded open orders are days old: some are past their threshold, each with its patient.
  await expect(page.getByTestId("overdue-table").locator("tbody tr").first()).toBeVisible();
  await expect(page.getByTestId("overdue-table").getByRole("link").first()).toHaveAttribute("href", /\/patients\//);
  await expect(page.getByTestId("projection-lag")).toContainText(/As of .* ago/);
  await page.screenshot({ path: ".scratch/turnaround.png", fullPage: true });
});

test("compliance sees the activity chart, users by name", async ({ page }) => {
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit");
  await page.getByRole("navigation", { name: "Audit" }).getByRole("link", { name: "Activity" }).click();
  await expect(page).toHaveURL(/\/audit\/activity$/);
  await page.getByLabel("Period").selectOption("90");
  const chart = page.getByTestId("activity-chart");
  await expect(chart.locator(".recharts-bar-rectangle").first()).toBeVisible();
  // The legend and the table name people, never their ids.
  await expect(chart.locator(".recharts-legend-item").first()).toBeVisible();
  const legend = await chart.locator(".recharts-legend-item-text").allTextContents();
  expect(legend.length).toBeGreaterThan(0);
  for (const name of legend) expect(name).not.toMatch(/^user-|^[0-9a-f]{8}-/);
  const firstUser = await page.getByTestId("activity-table").locator("tbody tr").first().locator("td").nth(1).textContent();
  expect(firstUser).toBeTruthy();
  expect(firstUser).not.toMatch(/^[0-9a-f]{8}-|^user-/);
  await expect(page.getByTestId("activity-hours-chart")).toBeVisible();
  await expect(page.getByTestId("projection-lag")).toContainText(/As of .* ago/);
  await page.screenshot({ path: ".scratch/activity.png", fullPage: true });
});
