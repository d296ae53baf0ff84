// The admin's observability journey: after some clinical activity, the metrics page charts the
// cluster's figures, /api/metrics serves them to Prometheus only with the token, and the schema
// registry lists every registered event type.
import { expect, test } from "@playwright/test";
import { signIn, call } from "./helpers";
import { eventDefinitions } from "../server/domain/registry";

const token = process.env.METRICS_TOKEN ?? "e2e-metrics-token-0123456789";

test("an admin watches the cluster's metrics as charts after some activity", async ({ page, request }) => {
  test.setTimeout(150_000);
  await signIn(page, "clinician@demo.test", "Casey Clinician");
  for (let i = 0; i < 3; i++) {
    const { patientId } = await call<{ patientId: string }>(page, "patient.register", {
      mrn: `MX${Date.now().toString(36).toUpperCase().slice(-8)}${i}`,
      givenName: "Metric",
      familyName: `Charted${i}`,
      dateOfBirth: "1990-02-03",
      sex: "other",
    });
    await call(page, "patient.updateDemographics", { patientId, expectedVersion: 1, changes: { givenName: "Metrics" }, reason: "typo" });
    // A stale edit: one concurrency conflict for the conflict chart.
    await call(page, "patient.updateDemographics", { patientId, expectedVersion: 1, changes: { givenName: "Again" }, reason: "stale" }).catch(() => {});
  }
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);

  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  await page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: "Metrics" }).click();
  await expect(page).toHaveURL(/\/admin\/metrics$/);
  await expect(page.getByRole("heading", { name: "Metrics", level: 1 })).toBeVisible();
  // Each process writes its minute every 15 s and the page refetches every 15 s: wait for both.
  await expect(page.getByTestId("chart-append-rate-latest")).not.toHaveText("no data", { timeout: 90_000 });
  for (const id of ["append-rate", "store-size", "snapshot-frequency", "outbox-lag", "conflict-rate", "replay-duration", "load-latency", "http-errors"]) {
    await expect(page.getByTestId(`chart-${id}`)).toBeVisible();
  }
  await expect(page.getByTestId("chart-store-size-latest")).not.toHaveText("no data");
  await expect(page.getByTestId("chart-conflict-rate-latest")).not.toHaveText("no data");
  // Data drawn: every minute is a dot on the line (a fresh database may have one minute only,
  // and a line through equal values has a box of no height, which Playwright calls hidden).
  await expect(page.getByTestId("chart-append-rate").locator("svg.recharts-surface .recharts-line-dot").first()).toBeVisible();
  await page.screenshot({ path: ".scratch/metrics-hour.png", fullPage: true });
  await page.getByRole("button", { name: "Last day" }).click();
  await expect(page.getByRole("button", { name: "Last day" })).toHaveAttribute("aria-pressed", "true");
  await expect(page.getByTestId("chart-append-rate-latest")).not.toHaveText("no data");
  await page.screenshot({ path: ".scratch/metrics-day.png", fullPage: true });

  // Prometheus: only with the token.
  expect((await request.get("/api/metrics")).status()).toBe(401);
  const scrape = await request.get("/api/metrics", { headers: { authorization: `Bearer ${token}` } });
  expect(scrape.status()).toBe(200);
  const text = await scrape.text();
  expect(text).toContain("emr_events_appended_total");
  expect(text).toContain("emr_store_events");
});

test("the schema registry lists every registered event type", async ({ page }) => {
  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin/schemas");
  await expect(page.getByRole("heading", { name: "Event schemas", level: 1 })).toBeVisible();
  const registry = page.getByTestId("schema-registry");
  await expect(registry).toBeVisible();
  for (const d of eventDefinitions) {
    const row = registry.getByTestId(`schema-row-${d.type}`);
    await expect(row).toContainText(d.type);
    await expect(row).toContainText(`v${d.version}`);
  }
  await expect(registry.getByTestId("schema-row-PatientRegistered")).toContainText("v1 → v2");
  // The demo data stored patients: their count shows at the current version.
  await expect(registry.getByTestId("schema-row-PatientRegistered")).toContainText(/v2: \d/);
  await registry.getByTestId("schema-PatientRegistered").getByText("JSON Schema").click();
  await expect(registry.getByTestId("schema-PatientRegistered")).toContainText('"familyName"');
  await page.screenshot({ path: ".scratch/schemas.png", fullPage: true });
});
