// Sign in as each demo role, see only that role's navigation and sections, sign out.
import { expect, test, type Page } from "@playwright/test";

const password = "demo-password-2026";

const journeys = [
  { role: "clinician", email: "clinician@demo.test", name: "Casey Clinician", nav: ["Clinical"], home: "/patients", closed: "/audit" },
  { role: "compliance", email: "compliance@demo.test", name: "Morgan Compliance", nav: ["Audit"], home: "/audit", closed: "/admin" },
  { role: "admin", email: "admin@demo.test", name: "Alex Admin", nav: ["Admin"], home: "/admin", closed: "/patients" },
] as const;

async function signIn(page: Page, email: string, secret = password) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(secret);
  await page.getByRole("button", { name: "Sign in" }).click();
}

for (const j of journeys) {
  test(`${j.role === "admin" ? "an" : "a"} ${j.role} signs in, sees only the ${j.nav.join(", ")} section, and signs out`, async ({ page }) => {
    await signIn(page, j.email);
    await expect(page).toHaveURL(/\/$/);
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect(nav.getByRole("link")).toHaveText([...j.nav]);
    const who = page.getByTestId("signed-in-user");
    await expect(who).toContainText(j.name);
    await expect(who).toContainText(j.role);

    // Another role's section says so instead of showing anything.
    await page.goto(j.closed);
    await expect(page.getByRole("heading", { name: "Not for your role" })).toBeVisible();

    if (j.role === "compliance") {
      await page.goto(j.home);
      await expect(page.getByRole("heading", { name: "Access log", level: 1 })).toBeVisible();
      await expect(page.getByTestId("access-log")).toBeVisible();
      await expect(page.getByTestId("access-log").locator("[aria-busy=true]")).toHaveCount(0);
    }
    if (j.role === "admin") {
      await page.goto(j.home);
      const users = page.getByTestId("users");
      for (const email of ["admin@demo.test", "clinician@demo.test", "compliance@demo.test"]) {
        await expect(users.getByTestId(`user-${email}`)).toBeVisible();
      }
    }

    await page.getByRole("button", { name: "Sign out" }).click();
    await expect(page).toHaveURL(/\/sign-in/);
    await expect(nav.getByRole("link")).toHaveText(["Sign in"]);
    await expect(page.getByTestId("signed-in-user")).toHaveCount(0);

    // Signed out, the section sends you to sign in.
    await page.goto(j.home);
    await expect(page).toHaveURL(/\/sign-in\?next=/);
  });
}

test("a wrong password gets a message that does not say which part was wrong", async ({ page }) => {
  await signIn(page, "clinician@demo.test", "not-the-password");
  await expect(page.locator("#sign-in-error")).toHaveText("Email or password is incorrect.");
  await expect(page).toHaveURL(/\/sign-in/);
});

test("too many failed sign-ins get the rate-limit message, with the wait the server named", async ({ page }) => {
  // The limiter itself is proved in server/auth/rateLimit.int.test.ts (a real one here would hold
  // back every journey's sign-ins from 127.0.0.1); here only what the person sees.
  const refusal = { code: "RATE_LIMITED", message: "Too many failed sign-ins from this address. Try again later.", retryAfterSeconds: 42 };
  await page.route("**/api/auth/sign-in/email", (route) =>
    route.fulfill({ status: 429, contentType: "application/json", headers: { "retry-after": "42" }, body: JSON.stringify(refusal) }),
  );
  await signIn(page, "clinician@demo.test");
  await expect(page.locator("#sign-in-error")).toHaveText("Too many failed sign-ins. Try again in 42 seconds.");
  // A refusal that names no wait still says what happened.
  await page.unrouteAll();
  await page.route("**/api/auth/sign-in/email", (route) =>
    route.fulfill({ status: 429, contentType: "application/json", body: JSON.stringify({ message: "Too many requests. Please try again later." }) }),
  );
  await signIn(page, "clinician@demo.test");
  await expect(page.locator("#sign-in-error")).toHaveText("Too many failed sign-ins. Wait a minute, then try again.");
});

test("pages send the security headers", async ({ request }) => {
  const response = await request.get("/sign-in");
  const headers = response.headers();
  expect(headers["content-security-policy"]).toContain("frame-ancestors 'none'");
  expect(headers["referrer-policy"]).toBe("no-referrer");
  expect(headers["x-frame-options"]).toBe("DENY");
  const api = await request.get("/api/trpc/system.health");
  expect(api.headers()["cache-control"]).toContain("no-store");
});

test("a sign-out ends the session at once for the API too, though the route that signs out is another bundle than tRPC's", async ({ page, playwright, baseURL }) => {
  await signIn(page, "clinician@demo.test");
  await expect(page.getByTestId("signed-in-user")).toContainText("Casey Clinician");
  // The browser's cookies as they are now: what a copied or stolen cookie header would carry.
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const old = await playwright.request.newContext({ baseURL, extraHTTPHeaders: { cookie } });
  const list = `/api/trpc/patient.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`;
  expect((await old.get(list)).status()).toBe(200);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  // Within the session cookie cache's seconds, but this process noted the sign-out: refused now.
  expect((await old.get(list)).status()).toBe(401);
  await old.dispose();
});
