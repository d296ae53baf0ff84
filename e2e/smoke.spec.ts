import { expect, test } from "@playwright/test";

test("the home page shows the system status and the console's sections", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByRole("heading", { name: "EMR Event Store" })).toBeVisible();
  const health = page.getByTestId("health");
  await expect(health.getByTestId("db-mode")).toHaveText(/PostgreSQL|Embedded/);
  await expect(health).toContainText("applied");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav).toBeVisible();
});
