// The e2e server: a fresh database for this run (a new PostgreSQL database next to DATABASE_URL,
// or a throwaway embedded one), migrated and seeded, then the production build on the given port.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase } from "../server/db/client";
import { parseEnv } from "../server/db/env";
import { migrate } from "../server/db/migrate";
import { ensureAppLoginRole, urlAsUser } from "../server/db/roles";
import { ensureBuild, serverArgs } from "../server/cli/build";
import { prepareDemo } from "../prisma/seed";
import { retiredAuditPublicKey } from "./retiredKey";

const port = process.argv[2] ?? "3100";

/**
 * A run that was killed before it could clean up leaves its database behind. Those are named
 * emr_e2e_<Date.now() in base 36>: drop the ones older than a day (a live run's is minutes old).
 */
async function dropStaleDatabases(admin: pg.Client) {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'emr\\_e2e\\_%'");
  for (const { datname } of rows) {
    const made = parseInt(datname.slice("emr_e2e_".length), 36);
    if (Number.isFinite(made) && Date.now() - made > 86_400_000) {
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => {});
    }
  }
}

/** The scrape token e2e/metrics.spec.ts uses (the server's METRICS_TOKEN unless one is set). */
const e2eMetricsToken = "e2e-metrics-token-0123456789";

async function main() {
  ensureBuild();
  const base = process.env.DATABASE_URL?.trim();
  // Sign-in rate limiting stays on at its default: it counts failed sign-ins per address, so the
  // journeys' sign-ins from 127.0.0.1, every few seconds for the whole run, are never held back
  // (a ward's workstations behind one address are the same case).
  // A smaller hospital keeps the e2e start fast; the journeys make their own patients.
  // The server runs with NODE_ENV=production, which requires BETTER_AUTH_SECRET: one per run.
  const childEnv: NodeJS.ProcessEnv = {
    DEMO_PATIENTS: "30",
    BETTER_AUTH_SECRET: randomBytes(32).toString("base64url"),
    // And PHI_MASTER_KEY (32 bytes, base64): one per run, like the run's fresh database.
    PHI_MASTER_KEY: randomBytes(32).toString("base64"),
    METRICS_TOKEN: e2eMetricsToken,
    // The audit sealer signs with a key of this run's own (production has no development key).
    AUDIT_SIGNING_KEY: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    // And a key retired before it, as after a rotation (keys:rotate).
    AUDIT_VERIFY_PUBLIC_KEYS: retiredAuditPublicKey,
    // The outbox and the projection runner inside the console, as npm start runs them.
    OUTBOX_WORKER: "inline",
    ...process.env,
    PORT: port,
    E2E: "1",
  };
  // The demo data seeded below is sealed under the same master key the console will read with.
  process.env.PHI_MASTER_KEY = childEnv.PHI_MASTER_KEY;
  let cleanup: () => Promise<void> = async () => {};
  if (base) {
    // Named by playwright.config.ts (so the journeys find it), or here when run by hand.
    const name = process.env.E2E_DATABASE_NAME ?? `emr_e2e_${Date.now().toString(36)}`;
    if (!/^emr_e2e_[a-z0-9]+$/.test(name)) throw new Error(`E2E_DATABASE_NAME must look like emr_e2e_<base 36>, not ${name}`);
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await dropStaleDatabases(admin);
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(base);
    url.pathname = `/${name}`;
    // As in production: the owner migrates, the console connects as a member of emr_app.
    childEnv.MIGRATION_DATABASE_URL = url.toString();
    childEnv.DATABASE_URL = urlAsUser(url.toString(), "emr_app_e2e");
    cleanup = async () => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    };
  } else {
    const dir = mkdtempSync(join(tmpdir(), "emr-e2e-"));
    childEnv.DATABASE_URL = "";
    childEnv.PGLITE_DIR = dir;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }

  const e = parseEnv(childEnv);
  if (e.MIGRATION_DATABASE_URL) {
    const owner = await openDatabase({ url: e.MIGRATION_DATABASE_URL, poolMax: 1 });
    await migrate(owner);
    await owner.close();
    await ensureAppLoginRole(e.MIGRATION_DATABASE_URL, "emr_app_e2e");
  }
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 4 });
  if (!e.MIGRATION_DATABASE_URL) await migrate(db);
  await prepareDemo(db, e);
  await db.close();

  const server = spawn(process.execPath, serverArgs(port, "127.0.0.1"), { stdio: "inherit", env: childEnv });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    await cleanup().catch(() => {});
    process.exit(0);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  server.on("exit", async (code) => {
    if (!stopping) {
      await cleanup().catch(() => {});
      process.exit(code ?? 1);
    }
  });
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
