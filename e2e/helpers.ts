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
