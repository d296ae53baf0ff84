// The admin's journey: rebuild a read model with a reason from the projections page, watch the
// progress reach 100% without reloading, see the projection running again; then the compliance
// officer finds the rebuild (who, why) in the audit log.
import { expect, test } from "@playwright/test";
import { signIn } from "./helpers";

// Two users' sign-ins and a rebuild on a shared, busy machine: more than the default minute.
test.setTimeout(180_000);

test("an admin rebuilds the orders read model with a reason and follows it to the end; it shows in the audit log", async ({ page }) => {
  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  await page.getByRole("link", { name: "Projections and rebuilds" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Projections");
  // The page is one of the admin tabs, and has them (it had none, and no tab led to it).
  const adminTabs = page.getByRole("navigation", { name: "Admin" });
  await expect(adminTabs.getByRole("link", { name: "Projections", exact: true })).toHaveAttribute("aria-current", "page");
  await expect(adminTabs.getByRole("link", { name: "Users and outbox" })).toBeVisible();
  const orders = page.getByTestId("projection-orders");
  await expect(orders.getByTestId("projection-state")).toHaveText("running");

  await orders.getByRole("button", { name: "Rebuild orders" }).click();
  const form = page.getByRole("form", { name: "Rebuild orders" });
  // A reason is required: too short is refused with the field's message.
  await form.getByLabel(/Reason/).fill("x");
  await form.getByRole("button", { name: "Start rebuild" }).click();
  await expect(form.getByText("say why (at least 3 characters)")).toBeVisible();
  const reason = `Worklist fix ${Date.now().toString(36)}`;
  await form.getByLabel(/Reason/).fill(reason);
  // A double-click starts one rebuild (it started two: the second waited for the lock, which the first had let go).
  let starts = 0;
  page.on("request", (r) => {
    if (r.method() === "POST" && /\/api\/trpc\/(?:[^?]*,)?projections\.rebuild(?:[,?]|$)/.test(r.url())) starts++;
  });
  await form.getByRole("button", { name: "Start rebuild" }).dblclick();

  // Progress updates by itself, to 100%, and the projection is running again.
  const progress = page.getByTestId("rebuild-orders");
  await expect(progress).toBeVisible();
  await expect(progress.getByTestId("rebuild-percent")).toHaveText("100%", { timeout: 30_000 });
  await expect(progress.getByTestId("rebuild-finished")).toContainText("writers paused");
  await expect(progress).toContainText(reason);
  // Who started it by name (it showed the user id), when with the zone named.
  await expect(progress.getByTestId("rebuild-started-by")).toHaveText("Alex Admin");
  await expect(progress.locator("time")).toHaveText(/\d{1,2}:\d{2} ?(AM|PM)? (UTC|GMT[+-]?[\d:]*|[A-Z]{2,5})$/);
  expect(starts).toBe(1);
  await expect(orders.getByTestId("projection-state")).toHaveText("running");
  await page.screenshot({ path: ".scratch/projections-after-rebuild.png", fullPage: true });

  // The rebuild is in the audit log: its start (who, why) and its end.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await page.goto("/audit/events?aggregate=operations&type=ProjectionRebuildStarted");
  const started = page.getByTestId("event-row").filter({ hasText: "Alex Admin" }).first();
  await expect(started).toBeVisible();
  await started.getByRole("link", { name: /Projection rebuild started/i }).click();
  await expect(page.getByTestId("event-payload")).toContainText(reason);
  await page.goto("/audit/events?aggregate=operations&type=ProjectionRebuildFinished");
  await expect(page.getByTestId("event-row").first()).toBeVisible();
});
