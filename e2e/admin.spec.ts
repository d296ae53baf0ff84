// An admin changes another user's roles with a reason; their own roles are not theirs to change.
import { expect, test } from "@playwright/test";
import { signIn } from "./helpers";

test("an admin gives a user a role with a reason, and cannot change their own roles", async ({ page }) => {
  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  const users = page.getByTestId("users");

  // Their own row: the boxes are locked and say who changes them.
  const own = users.getByTestId("user-admin@demo.test");
  await expect(own.getByRole("checkbox", { name: "clinician" })).toBeDisabled();
  await expect(own).toContainText("Another admin changes your roles.");

  // Someone else's: a change asks why before it can be saved.
  const row = users.getByTestId("user-compliance@demo.test");
  await row.getByRole("checkbox", { name: "clinician" }).check();
  const save = row.getByRole("button", { name: "Save roles" });
  await expect(save).toBeDisabled();
  await row.getByLabel("Reason (kept in the audit log)").fill("covers the ward audit this month");
  await save.click();
  // Saved: the reason is gone with the change, and the role is there after a reload.
  await expect(row.getByLabel("Reason (kept in the audit log)")).toHaveCount(0);
  // "Saved" stays once the list has refreshed (a row keyed by its roles was remounted and lost it).
  await expect(row.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await page.waitForTimeout(500);
  await expect(row.getByRole("status").filter({ hasText: "Saved" })).toBeVisible();
  await page.screenshot({ path: ".scratch/admin-roles.png" });
  await page.reload();
  await expect(users.getByTestId("user-compliance@demo.test").getByRole("checkbox", { name: "clinician" })).toBeChecked();

  // And back, with a reason: the other journeys sign in as this user with the compliance role alone.
  const again = users.getByTestId("user-compliance@demo.test");
  await again.getByRole("checkbox", { name: "clinician" }).uncheck();
  await again.getByLabel("Reason (kept in the audit log)").fill("the ward audit is finished");
  await again.getByRole("button", { name: "Save roles" }).click();
  await expect(again.getByLabel("Reason (kept in the audit log)")).toHaveCount(0);
  await page.reload();
  await expect(users.getByTestId("user-compliance@demo.test").getByRole("checkbox", { name: "clinician" })).not.toBeChecked();
});

test("an admin sees the snapshots, checks them against their events, and discards a type's with a reason, in the audit log", async ({ page }) => {
  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  const panel = page.getByTestId("snapshots");

  // The demo's long charts have snapshots, all of the state version this build folds with.
  const groups = panel.getByTestId("snapshot-groups");
  await expect(groups.getByRole("row", { name: /patient/ })).toContainText("used by this build");
  await expect(panel.getByTestId("snapshot-every")).toContainText("events of a record");
  // Whether long records have the sparse snapshots a load at an old version starts from.
  await expect(panel.getByTestId("historic-snapshots")).toContainText(/one per 500 versions of a record, for time travel; (no record lacks them|[\d,]+ records? lacks? them)/);

  await panel.getByRole("button", { name: /Check the newest 50/ }).click();
  await expect(panel.getByTestId("snapshot-check")).toContainText("Every snapshot checked is what a fold of its events gives.");
  await panel.scrollIntoViewIfNeeded();
  await panel.screenshot({ path: ".scratch/admin-snapshots.png" });

  // Discard all of the patients' snapshots: the form says what that does before asking why.
  await panel.getByRole("button", { name: "Discard snapshots…" }).click();
  const form = panel.getByTestId("discard-snapshots-form");
  await form.getByLabel("Aggregate type").selectOption("patient");
  await form.getByRole("radio", { name: /All of this type/ }).check();
  await expect(form.getByTestId("discard-meaning")).toContainText("time travel to older versions loses its historic snapshots");
  await form.getByLabel("Reason (recorded in the audit log; no patient details)").fill("e2e: snapshots written by a fold since corrected");
  await panel.screenshot({ path: ".scratch/admin-snapshots-discard.png" });
  await form.getByRole("button", { name: /^Discard \d/ }).click();
  await expect(panel.getByRole("status").filter({ hasText: /snapshots? of patient records discarded/ })).toBeVisible();
  await expect(groups.getByRole("row", { name: /patient/ })).toHaveCount(0);

  // A compliance officer finds it in the audit log: who, what went, and why.
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await page.getByLabel("Email").fill("compliance@demo.test");
  await page.getByLabel("Password").fill("demo-password-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toContainText("Morgan Compliance");
  await page.goto("/audit/events?aggregate=operations&type=SnapshotsDiscarded");
  const entry = page.getByTestId("event-row").filter({ hasText: "Alex Admin" }).first();
  await entry.getByRole("link", { name: /Snapshots discarded/i }).click();
  await expect(page.getByTestId("event-payload")).toContainText("e2e: snapshots written by a fold since corrected");
  await expect(page.locator("main")).toContainText("loads fold from the events until the next snapshot");
});
