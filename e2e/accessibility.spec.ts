// Accessibility: axe-core on every page of the console for each role (no serious or critical
// violation of WCAG 2.2 A/AA), and the journeys a keyboard user makes, where focus goes when a
// form opens and closes. One sign-in per role, kept for the file's tests.
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Locator, type Page } from "@playwright/test";
import { demoPassword } from "./helpers";

const wcag = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"];

/** The serious and critical violations on the page as it is now, one line each (rule, elements). */
async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).withTags(wcag).analyze();
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
}

async function expectAccessible(page: Page, path: string, ready: Locator) {
  await page.goto(path);
  await expect(ready).toBeVisible();
  // Nothing still loading: the page as people read it, not its skeleton.
  await expect(page.locator("[aria-busy=true]")).toHaveCount(0);
  expect(await seriousViolations(page), path).toEqual([]);
}

async function signedIn(browser: Browser, baseURL: string | undefined, email: string): Promise<Page> {
  // AxeBuilder needs a page of a context made with browser.newContext().
  const page = await (await browser.newContext({ baseURL })).newPage();
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(demoPassword);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toBeVisible();
  return page;
}

/** Tab (only the keyboard) until `target` has the focus; fails when it is not reachable. */
async function tabTo(page: Page, target: Locator, max = 60) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`not reachable with Tab: ${target}`);
}

/** The focused element's ring: visible against a light panel (the dark inner ring) and the dark top bar (the amber). */
async function expectVisibleFocus(target: Locator) {
  await expect(target).toBeFocused();
  const ring = await target.evaluate((el) => ({ outline: getComputedStyle(el).outlineStyle, shadow: getComputedStyle(el).boxShadow }));
  expect(ring.outline).toBe("solid");
  expect(ring.shadow).toMatch(/rgb\(13, 42, 56\) 0px 0px 0px 2px/);
}

// Each scan of a page takes seconds on a busy machine; a role's pages, a few minutes.
test.setTimeout(300_000);

let clinician: Page;
let compliance: Page;
let admin: Page;
let patientId: string;

test.beforeAll(async ({ browser }, testInfo) => {
  const { baseURL } = testInfo.project.use;
  clinician = await signedIn(browser, baseURL, "clinician@demo.test");
  compliance = await signedIn(browser, baseURL, "compliance@demo.test");
  admin = await signedIn(browser, baseURL, "admin@demo.test");
});

test.afterAll(async () => {
  await Promise.all([clinician, compliance, admin].map((p) => p?.context().close()));
});

test("signed out: the sign-in and enrolment pages have no serious violations, and the skip link lands on main", async ({ page }) => {
  await expectAccessible(page, "/sign-in", page.getByRole("button", { name: "Sign in" }));
  // A wrong password: announced, and the form can be tried again from the keyboard.
  await page.getByLabel("Email").fill("clinician@demo.test");
  await page.getByLabel("Password").fill("not-the-password");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("alert").filter({ hasText: "Email or password is incorrect." })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);

  await page.goto("/enrol");
  await expect(page.getByRole("heading", { name: "Set your password" })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  // The skip link has a target on this page too.
  await page.keyboard.press("Tab");
  await expect(page.getByRole("link", { name: "Skip to main content" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("main#main")).toBeFocused();
});

test("a clinician registers a patient and places an order by keyboard alone; focus returns to the opener when a form closes", async () => {
  const page = clinician;
  await page.goto("/patients/new");
  await expect(page.getByRole("heading", { name: "Register patient", level: 1 })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);

  // An empty submit: the first field in error takes the focus, marked invalid and described by its message.
  const submit = page.getByRole("button", { name: "Register patient" });
  await tabTo(page, submit);
  await expectVisibleFocus(submit);
  await page.keyboard.press("Enter");
  const mrn = page.getByLabel("Medical record number (MRN)");
  await expect(mrn).toBeFocused();
  await expect(mrn).toHaveAttribute("aria-invalid", "true");
  await expect(mrn).toHaveAttribute("aria-describedby", /mrn-error/);
  expect(await seriousViolations(page)).toEqual([]);

  const family = `Keyes${Date.now().toString(36)}`;
  await page.keyboard.type(`K${Date.now().toString(36).toUpperCase().slice(-8)}`);
  await tabTo(page, page.getByLabel("Given name"));
  await page.keyboard.type("Ada");
  await tabTo(page, page.getByLabel("Family name"));
  await page.keyboard.type(family);
  await tabTo(page, page.getByLabel("Date of birth"));
  await page.getByLabel("Date of birth").fill("1961-04-12");
  await tabTo(page, page.getByLabel("Sex"));
  await page.getByLabel("Sex").selectOption("female");
  await tabTo(page, submit);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/patients\/[0-9a-f-]{36}/);
  await expect(page.getByRole("status").filter({ hasText: "Patient registered." })).toBeVisible();
  patientId = new URL(page.url()).pathname.split("/")[2]!;
  await expect(page.locator("[aria-busy=true]")).toHaveCount(0);
  expect(await seriousViolations(page)).toEqual([]);

  // Opening the order form focuses its first field; Close gives the focus back to "Place order".
  const placeOrder = page.getByRole("button", { name: "Place order" });
  await tabTo(page, placeOrder, 120);
  await page.keyboard.press("Enter");
  await expect(page.getByLabel("Kind")).toBeFocused();
  expect(await seriousViolations(page)).toEqual([]);
  await tabTo(page, page.getByRole("button", { name: "Close" }));
  await page.keyboard.press("Enter");
  await expect(placeOrder).toBeFocused();

  // Placed from the keyboard: the confirmation is announced and the focus is back on the opener, not the page's top.
  await page.keyboard.press("Enter");
  await page.getByLabel("Kind").selectOption("lab");
  await tabTo(page, page.getByLabel("Description"));
  await page.keyboard.type("Ferritin");
  await tabTo(page, page.getByRole("button", { name: "Place order" }));
  await page.keyboard.press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "Lab order placed: Ferritin." })).toBeVisible();
  await expect(placeOrder).toBeFocused();

  // Moving the order: the status form under its row opens focused and, closed, gives the focus back to the row's button.
  const change = page.getByRole("button", { name: /Change status of Ferritin/ });
  await tabTo(page, change, 120);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("radio").first()).toBeFocused();
  expect(await seriousViolations(page)).toEqual([]);
  await tabTo(page, page.getByRole("button", { name: "Close" }));
  await page.keyboard.press("Enter");
  await expect(change).toBeFocused();
});

test("the clinical pages have no serious violations", async () => {
  const page = clinician;
  await expectAccessible(page, "/", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/patients", page.getByRole("heading", { name: "Patients", level: 1 }));
  await expectAccessible(page, `/patients/${patientId}/edit`, page.getByRole("button", { name: /save/i }));
  await expectAccessible(page, "/orders", page.getByTestId("worklist"));
  await expectAccessible(page, "/orders/turnaround", page.getByRole("heading", { name: "Order turnaround", level: 1 }));
  await expectAccessible(page, "/census", page.getByRole("heading", { name: "Census", level: 1 }));
});

test("the audit pages have no serious violations, time travel's choices included", async () => {
  const page = compliance;
  // The patient the keyboard journey registered, or (run alone) one of the demo patients.
  if (!patientId) {
    await clinician.goto("/patients");
    const chart = await clinician.locator('a[href^="/patients/"]:not([href="/patients/new"])').first().getAttribute("href");
    patientId = chart!.split("/")[2]!;
  }
  await expectAccessible(page, "/", page.getByTestId("home-review-queue"));
  await expectAccessible(page, "/audit", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/audit/events", page.getByRole("heading", { level: 1 }));
  const event = await page.locator('a[href^="/audit/events/"]').first().getAttribute("href");
  await expectAccessible(page, event!, page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/audit/patients", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, `/audit/patients/${patientId}`, page.getByRole("radio").first());
  await expectAccessible(page, `/audit/patients/${patientId}/report`, page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/audit/access-by-user", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/audit/activity", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/audit/emergency", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/audit/integrity", page.getByRole("heading", { level: 1 }));
});

test("the admin pages have no serious violations; a rebuild is asked for and started by keyboard, focus following the form", async () => {
  const page = admin;
  await expectAccessible(page, "/", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/admin", page.getByTestId("outbox").getByRole("heading", { name: "Outbox" }));
  await expectAccessible(page, "/admin/schemas", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/admin/metrics", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/admin/erasure", page.getByRole("heading", { level: 1 }));
  await expectAccessible(page, "/admin/projections", page.getByRole("button", { name: "Rebuild orders" }));

  // The form opens under the table: its reason takes the focus; Back returns it to the row's button.
  const rebuild = page.getByRole("button", { name: "Rebuild orders" });
  await tabTo(page, rebuild, 120);
  await page.keyboard.press("Enter");
  const reason = page.getByLabel("Reason (recorded in the audit log)");
  await expect(reason).toBeFocused();
  expect(await seriousViolations(page)).toEqual([]);
  await tabTo(page, page.getByRole("button", { name: "Back" }));
  await page.keyboard.press("Enter");
  await expect(rebuild).toBeFocused();

  // A reason the server refuses (only spaces) is announced and tied to the field.
  await page.keyboard.press("Enter");
  await page.keyboard.type("   ");
  await tabTo(page, page.getByRole("button", { name: "Start rebuild" }));
  await page.keyboard.press("Enter");
  await expect(reason).toHaveAttribute("aria-invalid", "true");
  await expect(reason).toHaveAttribute("aria-describedby", "rebuild-reason-error");
  await expect(page.locator("#rebuild-reason-error")).toHaveAttribute("role", "alert");

  // Started: the form goes and the focus lands on the rebuilds' progress, not the page's top.
  await reason.fill("Keyboard check of the rebuild form");
  await tabTo(page, page.getByRole("button", { name: "Start rebuild" }));
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { name: "Rebuilds" })).toBeFocused();
  await expect(page.getByTestId("rebuild-orders").getByTestId("rebuild-percent")).toHaveText("100%", { timeout: 30_000 });
});
