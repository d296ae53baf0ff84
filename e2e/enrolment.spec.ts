// An admin adds a clinician without choosing their password: the console hands over a one-time
// enrolment link, which the clinician opens in their own browser to set a password and sign in.
// The link cannot be used again, and the admin's list shows the account as pending, then active.
import { expect, test } from "@playwright/test";
import { signIn } from "./helpers";

const shots = ".scratch/enrolment";

test("an admin makes an account and copies its enrolment link; the user enrols in their own browser; the link works once", async ({ page, browser, context }) => {
  const tag = Date.now().toString(36);
  const person = { name: `Morgan Enrolee ${tag}`, email: `morgan-${tag}@example.test`, password: `my own phrase ${tag} 2026` };
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);

  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  const add = page.locator("section", { has: page.getByRole("heading", { name: "Add a user" }) });
  await expect(add.getByLabel(/password/i)).toHaveCount(0);
  await add.getByLabel("Name").fill(person.name);
  await add.getByLabel("Email").fill(person.email);
  await add.getByRole("checkbox", { name: "clinician" }).check();
  // A double-click adds the user once and keeps the link (a second call's "already exists" replaced it).
  await add.getByRole("button", { name: "Add user and make an enrolment link" }).dblclick();
  const shown = add.getByTestId("enrolment-link");
  await expect(shown).toContainText(`Enrolment link for ${person.name}, shown only this once`);
  await page.waitForTimeout(500);
  await expect(add.getByRole("alert")).toHaveCount(0);
  await expect(shown).toBeVisible();
  await shown.getByRole("button", { name: "Copy link" }).click();
  await expect(shown).toContainText("Copied.");
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toMatch(/\/enrol#[A-Za-z0-9_-]{43}$/);
  await expect(shown.getByRole("textbox", { name: `Enrolment link for ${person.name}` })).toHaveValue(link);
  const row = page.getByTestId(`user-${person.email}`);
  await expect(row).toContainText("enrolment pending (expires");
  await shown.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/1-admin-link.png`, fullPage: true });

  // Before enrolling, the account cannot sign in with anything.
  const user = await browser.newContext();
  const mine = await user.newPage();
  await mine.goto("/sign-in");
  await mine.getByLabel("Email").fill(person.email);
  await mine.getByLabel("Password").fill(person.password);
  await mine.getByRole("button", { name: "Sign in" }).click();
  await expect(mine.locator("#sign-in-error")).toContainText("Email or password is incorrect.");

  // The clinician's own browser: the link, their own password, signed in.
  await mine.goto(link);
  await expect(mine.getByRole("heading", { name: "Set your password" })).toBeVisible();
  await expect(mine.getByText(`For ${person.name} (${person.email})`)).toBeVisible();
  // The token leaves the address bar once read.
  await expect(mine).toHaveURL(/\/enrol$/);
  await mine.getByLabel("New password").fill(person.password);
  await mine.getByLabel("Repeat the password").fill(`${person.password}!`);
  await mine.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(mine.getByText("The two passwords differ.")).toBeVisible();
  await mine.getByLabel("Repeat the password").fill(person.password);
  await mine.screenshot({ path: `${shots}/2-enrol-form.png`, fullPage: true });
  await mine.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(mine.getByTestId("signed-in-user")).toContainText(person.name);
  await mine.screenshot({ path: `${shots}/3-signed-in.png`, fullPage: true });
  await user.close();

  // The link again, in yet another browser: used, said plainly, nothing set.
  const other = await browser.newContext();
  const again = await other.newPage();
  await again.goto(link);
  await expect(again.getByTestId("enrolment-used")).toContainText("This link has already been used");
  await expect(again.getByLabel("New password")).toHaveCount(0);
  await again.screenshot({ path: `${shots}/4-link-used.png`, fullPage: true });
  await again.goto("/enrol#not-a-real-link");
  await expect(again.getByTestId("enrolment-unknown")).toContainText("This link is not valid");
  await again.screenshot({ path: `${shots}/5-link-unknown.png`, fullPage: true });
  await other.close();

  // The admin's list: active now. A reset issues a new link and the old password stops working.
  await page.reload();
  const active = page.getByTestId(`user-${person.email}`);
  await expect(active.getByText("active", { exact: true })).toBeVisible();
  await active.getByRole("button", { name: "Reset password" }).click();
  await active.getByLabel("Reason (kept in the audit log)").fill("forgot the password (service desk call 4411)");
  await active.getByRole("button", { name: "Reset password: issue link" }).click();
  await expect(page.getByTestId(`link-${person.email}`).getByTestId("enrolment-link")).toContainText(`Enrolment link for ${person.name}`);
  await expect(page.getByTestId(`user-${person.email}`)).toContainText("enrolment pending (expires");
  await page.getByTestId(`user-${person.email}`).scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/6-admin-reset.png`, fullPage: true });
});
