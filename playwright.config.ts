import { defineConfig } from "@playwright/test";

const port = Number(process.env.E2E_PORT ?? 3100);
// The run's database (with DATABASE_URL), named here so that the server (e2e/server.ts) and the
// journeys that set up a state no page can make (e2e/database.ts) agree on it: the runner's
// environment is the web server's and the workers'.
process.env.E2E_DATABASE_NAME ??= `emr_e2e_${Date.now().toString(36)}`;
const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export default defineConfig({
  testDir: "e2e",
  outputDir: "test-results",
  // A journey crosses many pages (the longest, an allergy journey on a phone, about 35 s on two
  // cores shared with the suite's database); 60 s ran out once on a loaded CI machine.
  timeout: 120_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: process.env.CI ? 1 : 0,
  reporter: process.env.CI ? [["list"]] : [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: chromium,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: {
    // e2e/server.ts migrates and seeds the test database (PostgreSQL in CI, a throwaway embedded
    // one otherwise), then serves the production build.
    command: `npx tsx e2e/server.ts ${port}`,
    url: `http://127.0.0.1:${port}/api/trpc/system.health`,
    timeout: 300_000,
    reuseExistingServer: false,
    // SIGTERM first, so e2e/server.ts stops next and drops its database (SIGKILL would leak it).
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    stdout: "pipe",
    stderr: "pipe",
  },
});
