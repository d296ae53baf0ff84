// A newcomer's and an operator's first minutes: the pages have an icon, a wrong address gets the
// console's own 404 page, and the server (the console's own, serve.ts, and next start) refuses to
// come up with a bad setting, naming it, before it opens the database.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "@playwright/test";
import { nextBin, serverArgs } from "../server/cli/build";

test("every page has the product's icon, and no request for it fails", async ({ page, request }) => {
  const failed: string[] = [];
  page.on("response", (r) => {
    if (r.status() >= 400) failed.push(`${r.status()} ${new URL(r.url()).pathname}`);
  });
  await page.goto("/sign-in");
  await expect(page.locator('link[rel="icon"][href^="/favicon.svg"]')).toHaveCount(1);
  const ico = await request.get("/favicon.ico");
  expect(ico.status()).toBe(200);
  expect(ico.headers()["content-type"]).toMatch(/icon/);
  const svg = await request.get("/favicon.svg");
  expect(svg.status()).toBe(200);
  expect(await svg.text()).toContain("<svg");
  expect(failed).toEqual([]);
});

test("a wrong address gets the console's 404 page, with the way back", async ({ page }) => {
  const response = await page.goto("/no-such-page/42");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await expect(page.locator("header.topbar")).toBeVisible();
  await expect(page).toHaveTitle("Page not found · EMR Event Store");
  await page.screenshot({ path: ".scratch/not-found.png", fullPage: true });
  await page.getByRole("link", { name: "Back to the console" }).click();
  await expect(page.getByRole("heading", { name: "EMR Event Store" })).toBeVisible();
});

/** The server on the existing build, with only the given settings; resolves when it exits. */
function startServer(args: (port: string[]) => string[], settings: Record<string, string>): Promise<{ code: number | null; output: string }> {
  // Any free port, unless the test is about PORT itself (-p would override it).
  const port = settings.PORT === undefined ? ["-p", "0"] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args(port), {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "production", ...settings },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the server kept running with a bad setting:\n${output}`));
    }, 45_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const servers: [string, (port: string[]) => string[]][] = [
  ["the console's server (serve.ts, as npm start runs it)", (port) => serverArgs(port[1], "127.0.0.1")],
  ["next start", (port) => [nextBin, "start", ...port, "-H", "127.0.0.1"]],
];

for (const [name, args] of servers) {
  test.describe(`${name} with a bad setting`, () => {
    let dir = "";
    test.beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "emr-e2e-start-"));
    });
    test.afterAll(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    test("production without BETTER_AUTH_SECRET stops, naming it, before opening the database", async () => {
      const dataDir = join(dir, "no-secret");
      const { code, output } = await startServer(args, { PGLITE_DIR: dataDir, OUTBOX_WORKER: "inline" });
      expect(code).toBe(1);
      expect(output).toContain("BETTER_AUTH_SECRET: required when NODE_ENV=production");
      expect(existsSync(dataDir)).toBe(false);
    });

    // The server reads PORT itself, before instrumentation.ts runs; npm start checks it first thing
    // (server/cli/startup.int.test.ts).
    test("PORT=abc stops, naming it, before opening the database", async () => {
      const dataDir = join(dir, "bad-port");
      const { code, output } = await startServer(args, {
        BETTER_AUTH_SECRET: "a".repeat(40),
        PORT: "abc",
        PGLITE_DIR: dataDir,
        OUTBOX_WORKER: "inline",
      });
      expect(code).toBe(1);
      expect(output).toMatch(/'abc' from env 'PORT' is invalid|PORT: must be a port number/);
      expect(existsSync(dataDir)).toBe(false);
    });
  });
}
