// Shared steps of the e2e journeys: signing in as a demo user, and calling a tRPC procedure from
// the signed-in page (its session cookie), as the console's own client does.
import { expect, type Page } from "@playwright/test";

export const demoPassword = "demo-password-2026";

export async function signIn(page: Page, email: string, name: string, password = demoPassword) {
  await page.goto("/sign-in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("signed-in-user")).toContainText(name);
}

export async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
}

/** A tRPC mutation from the signed-in page. */
export async function call<T>(page: Page, path: string, input: unknown): Promise<T> {
  return page.evaluate(
    async ({ path, input }) => {
      const response = await fetch(`/api/trpc/${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: input }),
      });
      const body = await response.json();
      if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body.error?.json?.message ?? body)}`);
      return body.result.data.json;
    },
    { path, input },
  ) as Promise<T>;
}

/** A tRPC query from the signed-in page: a GET, as the server serves queries only that way. */
export async function query<T>(page: Page, path: string, input: unknown): Promise<T> {
  return page.evaluate(
    async ({ path, input }) => {
      const response = await fetch(`/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`);
      const body = await response.json();
      if (!response.ok) throw new Error(`${path}: ${response.status} ${JSON.stringify(body.error?.json?.message ?? body)}`);
      return body.result.data.json;
    },
    { path, input },
  ) as Promise<T>;
}

/** A datetime-local value for an instant, in the browser's own time zone (as a person would type it). */
export async function localInputValue(page: Page, at: Date): Promise<string> {
  return page.evaluate((ms) => {
    const d = new Date(ms);
    const pad = (n: number, w = 2) => String(n).padStart(w, "0");
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  }, at.getTime());
}

/** No page is wider than the screen: names the elements that stick out when one is. */
export async function expectNoHorizontalOverflow(page: Page, where: string) {
  await page.waitForLoadState("networkidle").catch(() => {});
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return null;
    const describe = (el: Element) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className && typeof el.className === "string" ? `.${el.className.trim().split(/\s+/).join(".")}` : ""}`;
    // What sticks out while its parent does not (or is positioned outside the flow).
    const out = [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > width + 1)
      .filter((el) => !el.parentElement || el.parentElement.getBoundingClientRect().right <= width + 1 || getComputedStyle(el).position === "absolute")
      .slice(0, 5)
      .map((el) => `${describe(el)} (right edge ${Math.round(el.getBoundingClientRect().right)})`);
    return { scrollWidth: document.documentElement.scrollWidth, width, out };
  });
  expect(overflow, `${where} is wider than the ${page.viewportSize()?.width ?? "?"} px screen`).toBeNull();
}
