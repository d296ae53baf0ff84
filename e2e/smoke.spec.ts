import { expect, test } from "@playwright/test";

test("the home page shows the system status; the database and migrations are on the admin side", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "EMR Event Store" })).toBeVisible();
  const health = page.getByTestId("health");
  // Signed out: up, and nothing about the database.
  await expect(health.getByTestId("health-status")).toContainText("Up");
  await expect(health.getByTestId("db-mode")).toHaveCount(0);
  await expect(health).not.toContainText("applied");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeVisible();

  // A compliance officer's home is the audit console's entry, without the system panel.
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill("compliance@demo.test");
  await page.getByLabel("Password").fill("demo-password-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toBeVisible();
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "Audit", exact: true })).toBeVisible();
  await expect(health).toHaveCount(0);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);

  // An admin sees the database, the migrations and the estimates on the admin side.
  await page.getByLabel("Email").fill("admin@demo.test");
  await page.getByLabel("Password").fill("demo-password-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toBeVisible();
  // Their start page says what needs them: on a fresh install the projections all run.
  await page.goto("/");
  await expect(page.getByTestId("home-outbox")).toContainText("Outbox:");
  await expect(page.getByTestId("home-projections")).toHaveAttribute("data-trouble", "0");
  await expect(page.getByTestId("home-projections")).toContainText(/Projections: all \d+ running/);
  await page.goto("/admin");
  await expect(health.getByTestId("db-mode")).toHaveText(/PostgreSQL|Embedded/);
  await expect(health).toContainText("applied");
  await expect(health.getByTestId("event-count")).toContainText(/about [\d,]+ \(estimate\)/);
  await page.screenshot({ path: ".scratch/health-signed-in.png" });
});
