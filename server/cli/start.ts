// npm start: check every setting, build the console when the sources are newer than the last
// build, migrate, seed synthetic demo data into an empty database, then serve on :3000 (PORT)
// with serve.ts (Next, and the tRPC endpoint without Next's router).
// The database is closed before Next opens it: the embedded PGlite must be owned by one process
// at a time, and its lock is handed to the server rather than let go. Nothing is built, migrated or seeded when a setting is bad.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { ensureBuild, serverArgs } from "./build";
import { ensureMigrated, openDatabase } from "../db/client";
import { env } from "../db/env";
import { embeddedDatabaseHolder } from "../db/embeddedLock";
import { resolveAuthSecret } from "../auth/config";
import { checkMasterKeys, defaultKeyRing, devMasterKeyFile, refuseLostDevelopmentKey, resolveMasterKeyText } from "../db/phiKey";
import { prepareDemo } from "../../prisma/seed";
import { signingKeyTextFor } from "../audit/signingKey";
import { logProjectionVersions } from "../projections/runner";
import { allProjections } from "../projections/registry";
import { launcherExitCode } from "./exitCode";
import { flushRollupsAtExit } from "../metrics/rollups";

/**
 * Why the console could not listen on `port` now (another process on it, a port this user may
 * not take), or null. Asked before anything else: on a first start the server would otherwise
 * find it out after the build, the migrations and the demo seed.
 */
function portProblem(port: number): Promise<string | null> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) =>
      done(
        error.code === "EADDRINUSE"
          ? `Port ${port} is in use by another process (a console started earlier?): stop it, or start on another port, e.g. PORT=${port === 3000 ? 3001 : 3000} npm start`
          : `Cannot serve on port ${port}: ${error.message}; start on another port, e.g. PORT=3000 npm start`,
      ),
    );
    probe.listen(port, () => probe.close(() => done(null)));
  });
}

async function main() {
  const e = env();
  // Another process on this folder's embedded database (a second npm start here, most likely on
  // the same port) is named as the holder, which says more than the port would.
  const holder = e.DATABASE_URL ? null : embeddedDatabaseHolder(e.PGLITE_DIR);
  const busy = holder ?? (await portProblem(e.PORT));
  if (busy) throw new Error(busy);
  // Outside production, the development secret from .data/auth-secret (made on first start).
  // It is handed to the server (serve.ts), which always runs with NODE_ENV=production and so never reads
  // that file itself.
  const secret = resolveAuthSecret(e);
  // Likewise the PHI master key: the setting, or the development key in .data/phi-master-key.
  // A missing development key is made only once the database is known to hold no data keys
  // (refuseLostDevelopmentKey): over data a lost key wrapped, a new one reads nothing.
  const devKeyMissing = !e.PHI_MASTER_KEY && e.NODE_ENV !== "production" && !existsSync(devMasterKeyFile);
  const phiMasterKeySet = devKeyMissing ? null : resolveMasterKeyText(e);
  // And the key that signs the log's seals: without one the server seals nothing.
  const signingKey = signingKeyTextFor(e);
  ensureBuild();

  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 4 });
  let handedOver: Record<string, string>;
  let phiMasterKey: string;
  try {
    console.log(db.mode === "postgresql" ? `database: PostgreSQL ${db.location}` : `database: embedded PGlite at ${db.location}`);
    // The migrator tells each migration it applies now; its status lists every applied one.
    let appliedNow = 0;
    const status = await ensureMigrated(db, e.MIGRATION_DATABASE_URL, (line) => {
      appliedNow++;
      console.log(`  migration ${line}`);
    });
    const latest = status.latest ?? "none";
    console.log(
      appliedNow === 0
        ? `migrations: up to date, latest ${latest} (${status.applied.length} in all)`
        : `migrations: ${appliedNow} applied now (${status.applied.length} in all), latest ${latest}`,
    );
    if (devKeyMissing) await refuseLostDevelopmentKey(db.sql, e);
    phiMasterKey = phiMasterKeySet ?? resolveMasterKeyText(e);
    await checkMasterKeys(db.sql, defaultKeyRing());
    await prepareDemo(db, e);
    await logProjectionVersions(db.prisma, allProjections, (line) => console.log(line));
    // The seed's appends on Admin → Metrics: the server that charts them is another process.
    await flushRollupsAtExit(db.prisma);
    // The embedded database's lock passes to the server without a moment unheld, in which
    // another process (a CLI, a second npm start) could open the folder and stop the server's boot.
    handedOver = db.handOverLock();
  } finally {
    await db.close();
  }

  // The outbox is drained inside the console's process unless told otherwise: the embedded
  // database cannot be shared with a separate worker process. The server's instrumentation
  // (instrumentation.ts) starts it at boot. serve.ts: Next on the build, tRPC without its router.
  const server = spawn(process.execPath, serverArgs(e.PORT), {
    // The IPC channel tells the server when this launcher is gone (serve.ts stops then).
    stdio: ["inherit", "inherit", "inherit", "ipc"],
    env: {
      OUTBOX_WORKER: "inline",
      ...process.env,
      ...handedOver,
      BETTER_AUTH_SECRET: secret,
      PHI_MASTER_KEY: phiMasterKey,
      ...(signingKey ? { AUDIT_SIGNING_KEY: signingKey } : {}),
    },
  });
  const forwarded = new Set<NodeJS.Signals>();
  const stop = (signal: NodeJS.Signals) => {
    forwarded.add(signal);
    server.kill(signal);
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // A server killed by a signal (OOM, kill -9) exited 0 here, so supervisors took a crash for a
  // clean stop and did not restart it.
  server.on("exit", (code, signal) => process.exit(launcherExitCode(code, signal, forwarded)));
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
