// The app process's background work, started once at boot (instrumentation.ts for next start /
// next dev, which npm start runs), never as a side effect of a request. Every long-running loop
// that lives inside the app's process starts here: the inline outbox worker, the projection
// runner and the audit sealer (one entry each in `loops` below).
import type { Database } from "../db/client";
import { env, type Env } from "../db/env";
import { storeOn } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { outboxHandlers, OUTBOX_BATCH_SIZE, OUTBOX_MAX_ATTEMPTS, processBus } from "./config";
import { runOutboxLoop } from "./loop";
import { listenForAppends, onAppended } from "./wakeup";
import { allProjections, asyncProjections } from "../projections/registry";
import { logProjectionVersions, startProjectionRunner } from "../projections/runner";
import { resolveSigningKey, verifyingKeys } from "../audit/signingKey";
import { fileWitness, witnessFileFor } from "../audit/witness";
import { recordSealerPass } from "../audit/sealerStatus";
import { processId } from "../metrics/rollups";
import { recordNoKeyUntilStopped, runSealerLoop } from "./sealer";
import { progressLog } from "../log";

export type BackgroundWork = {
  /** The names of the loops that run, for the start-up line. */
  running: string[];
  /** Aborts every loop and waits for each to finish its current pass. */
  stop(): Promise<void>;
};

type Loop = { name: string; run: (signal: AbortSignal) => Promise<void> };

/** Whether this process has background work to do, so boot opens the database only then. */
export function backgroundWorkWanted(e: Pick<Env, "OUTBOX_WORKER">): boolean {
  return e.OUTBOX_WORKER === "inline";
}

function loopsFor(db: Database, e: Env, log: (line: string) => void): Loop[] {
  const loops: Loop[] = [];
  // OUTBOX_WORKER=inline: the embedded database belongs to one process, so a separate worker
  // cannot open it; npm start turns it on. With PostgreSQL, npm run worker:outbox (several may
  // run) or /api/cron/outbox do it instead.
  if (e.OUTBOX_WORKER === "inline") {
    // Other instances' appends wake this worker too (their NOTIFY); this process's wake it directly.
    if (db.mode === "postgresql" && e.DATABASE_URL) listenForAppends(e.DATABASE_URL);
    loops.push({
      name: "outbox worker",
      run: (signal) =>
        runOutboxLoop(
          { store: storeOn(db, eventRegistry), handlers: outboxHandlers(storeOn(db, eventRegistry)), bus: processBus() },
          { batchSize: OUTBOX_BATCH_SIZE, maxAttempts: OUTBOX_MAX_ATTEMPTS, pollMs: e.OUTBOX_POLL_MS, retentionDays: e.OUTBOX_RETENTION_DAYS, signal },
        ),
    });
  }
  // The projection runner runs where the outbox worker runs (npm run worker does both apart).
  if (e.OUTBOX_WORKER === "inline") {
    loops.push({
      name: "projection runner",
      run: async (signal) => {
        await logProjectionVersions(db.prisma, allProjections, log).catch(() => {});
        const runner = startProjectionRunner(storeOn(db, eventRegistry), asyncProjections, { pollMs: e.PROJECTIONS_POLL_MS, signal, log });
        const off = onAppended(() => runner.wake());
        try {
          await runner.done;
        } finally {
          off();
        }
      },
    });
  }
  // The audit sealer, where a signing key is configured (or the development one outside production);
  // without one, the refusal is recorded (sealing health), and nothing is sealed.
  const signingKey = e.OUTBOX_WORKER === "inline" ? resolveSigningKey(e) : null;
  const recordPass = (pass: Parameters<typeof recordSealerPass>[2]) => recordSealerPass(db.prisma, processId, pass);
  if (signingKey) {
    loops.push({
      name: "audit sealer",
      run: (signal) =>
        runSealerLoop(storeOn(db, eventRegistry), signingKey, {
          signal,
          everyMs: 10_000,
          log,
          witness: fileWitness(witnessFileFor(e), db),
          verifyWith: verifyingKeys(e),
          recordPass,
        }),
    });
  } else if (e.OUTBOX_WORKER === "inline") {
    loops.push({ name: "audit sealer status (no signing key)", run: (signal) => recordNoKeyUntilStopped(recordPass, signal) });
  }
  return loops;
}

const key = Symbol.for("emr.backgroundWork");
type GlobalWithWork = typeof globalThis & { [key]?: BackgroundWork };

/**
 * Starts the process's background loops, once per process (kept on globalThis, since Next loads
 * server code in several bundles); a second call returns the running set.
 */
export function startBackgroundWork(
  db: Database,
  options: { env?: Env; log?: (line: string) => void } = {},
): BackgroundWork {
  const g = globalThis as GlobalWithWork;
  const existing = g[key];
  if (existing) return existing;
  const log = options.log ?? progressLog;
  const controller = new AbortController();
  const loops = loopsFor(db, options.env ?? env(), log);
  const done = loops.map((loop) =>
    loop.run(controller.signal).catch((error: unknown) => {
      // A loop's own failures are retried inside it; reaching here is a bug, said once.
      log(`${loop.name}: stopped by an unexpected error (${(error as Error).name})`);
    }),
  );
  const work: BackgroundWork = {
    running: loops.map((l) => l.name),
    async stop() {
      controller.abort();
      await Promise.all(done);
      if (g[key] === work) delete g[key];
    },
  };
  g[key] = work;
  return work;
}
