// npm run worker: the background work in a process of its own: the outbox worker and the
// projection runner, until SIGTERM/SIGINT. `npm run worker -- --projection <name>` runs only
// that projection's runner. Several workers may run: outbox rows are claimed with SKIP LOCKED,
// and each projection has one active runner at a time (a lease; another takes over when it dies).
import { parseArgs } from "node:util";
import { ensureMigrated, openDatabase } from "../db/client";
import { checkPhiKeysAtStart } from "../db/phiKey";
import { env } from "../db/env";
import { observeProcess } from "../metrics/process";
import { listenForAppends, onAppended, type AppendListener } from "../workers/wakeup";
import { storeFor } from "../api/context";
import { resolveSigningKey, verifyingKeys } from "../audit/signingKey";
import { fileWitness, witnessFileFor } from "../audit/witness";
import { recordNoKeyUntilStopped, runSealerLoop } from "../workers/sealer";
import { recordSealerPass, type SealerOutcome } from "../audit/sealerStatus";
import { processId } from "../metrics/rollups";
import { runOutboxLoop } from "../workers/loop";
import { outboxHandlers, OUTBOX_BATCH_SIZE, OUTBOX_MAX_ATTEMPTS, processBus } from "../workers/config";
import { allProjections, asyncProjections, projectionNamed } from "../projections/registry";
import { logProjectionVersions, startProjectionRunner } from "../projections/runner";
import { closeWithin, stopOnSignals, runUntilStopped } from "./shutdown";
import { progressLog } from "../log";

async function main() {
  const { values } = parseArgs({ options: { projection: { type: "string" } } });
  const e = env();
  const only = values.projection ? projectionNamed(values.projection, asyncProjections) : null;
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 4 });
  const bus = only ? null : processBus();
  const stop = new AbortController();
  stopOnSignals(stop, { name: "worker" });
  const log = progressLog;
  const warn = (line: string) => console.error(`worker: ${line}`);
  let listener: AppendListener | null = null;
  let stopRollups: (() => Promise<void>) | null = null;
  try {
    // As the console does: migrate only as the owner (MIGRATION_DATABASE_URL), and start beside a
    // schema a newer release has already migrated instead of refusing (a rolling deploy).
    await ensureMigrated(db, e.MIGRATION_DATABASE_URL);
    // A wrong PHI_MASTER_KEY stops the worker here, not on the first event it reads.
    await checkPhiKeysAtStart(db.sql, e);
    await logProjectionVersions(db.prisma, allProjections, log);
    const projections = only ? [only] : asyncProjections;
    console.log(
      `worker: ${db.mode === "postgresql" ? `PostgreSQL ${db.location}` : `embedded ${db.location}`}; ` +
        `${only ? "no outbox" : `outbox every ${e.OUTBOX_POLL_MS} ms, bus ${bus ? "RabbitMQ" : "none"}`}; ` +
        `projections ${projections.map((p) => p.name).join(", ") || "none (no async projection registered)"} every ${e.PROJECTIONS_POLL_MS} ms`,
    );
    const store = storeFor(db);
    const runner = startProjectionRunner(store, projections, { pollMs: e.PROJECTIONS_POLL_MS, signal: stop.signal, log });
    // Appends here, and (listening) in other processes, wake the runner and the outbox at once.
    const offAppended = onAppended(() => runner.wake());
    if (db.mode === "postgresql" && e.DATABASE_URL) listener = listenForAppends(e.DATABASE_URL);
    stopRollups = observeProcess(db);
    const outbox = only
      ? Promise.resolve()
      : runOutboxLoop(
          { store, handlers: outboxHandlers(store), bus },
          { batchSize: OUTBOX_BATCH_SIZE, maxAttempts: OUTBOX_MAX_ATTEMPTS, pollMs: e.OUTBOX_POLL_MS, retentionDays: e.OUTBOX_RETENTION_DAYS, signal: stop.signal },
        );
    // The audit sealer follows the log too, where a signing key is configured.
    const signingKey = only ? null : resolveSigningKey(e);
    // Each pass's outcome, or the refusal without a key, is recorded for sealing health.
    const recordPass = (pass: SealerOutcome) => recordSealerPass(db.prisma, processId, pass);
    const sealer = only
      ? Promise.resolve()
      : signingKey
        ? runSealerLoop(store, signingKey, { signal: stop.signal, everyMs: 10_000, log, witness: fileWitness(witnessFileFor(e), db), verifyWith: verifyingKeys(e), recordPass })
        : recordNoKeyUntilStopped(recordPass, stop.signal);
    await Promise.all([runner.done, outbox, sealer]);
    offAppended();
    console.log("worker: stopped");
  } finally {
    // Whatever is still open keeps the event loop alive: close all of it, each step bounded.
    const rollups = stopRollups;
    if (rollups) await closeWithin("the metric history", rollups, warn);
    const open = listener;
    if (open) await closeWithin("the append listener", () => open.close(), warn);
    if (bus) await closeWithin("the RabbitMQ connection", () => bus.close(), warn);
    await closeWithin("the database", () => db.close(), warn);
  }
}

runUntilStopped(main);
