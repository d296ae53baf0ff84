// The projection runner as the app runs it: inline in the console's process (npm start), in a
// worker process (npm run worker), or one pass per call of /api/cron/projections.
import type { Database } from "../db/client";
import { env } from "../db/env";
import { storeOn, type EventRegistry } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { logProjectionVersions, newRunnerId, releaseLeases, runProjectionStep, startProjectionRunner, type RunnerHandle } from "../projections/runner";
import type { Projection } from "../projections/types";
import { allProjections, asyncProjections } from "../projections/registry";

const inlineKey = Symbol.for("emr.projectionRunner");
type GlobalWithRunner = typeof globalThis & { [inlineKey]?: RunnerHandle };

/** The process's runner, for the append notification to wake (null when none runs here). */
export function processProjectionRunner(): RunnerHandle | null {
  return (globalThis as GlobalWithRunner)[inlineKey] ?? null;
}

/**
 * The runner loop inside the app's own process, started once, next to the inline outbox worker
 * (the embedded database belongs to one process). Says at start which projections need a rebuild.
 */
export function startInlineProjectionRunner(db: Database): void {
  const g = globalThis as GlobalWithRunner;
  if (g[inlineKey]) return;
  const log = (line: string) => console.log(line);
  void logProjectionVersions(db.prisma, allProjections, log).catch(() => {});
  g[inlineKey] = startProjectionRunner(storeOn(db.prisma, eventRegistry), asyncProjections, {
    pollMs: env().PROJECTIONS_POLL_MS,
    signal: new AbortController().signal,
    log,
  });
}

export type CronPass = { projections: { name: string; applied: number; caughtUp: boolean; leased: boolean; failed: boolean }[] };

/** One cron call: each async projection applies batches until it is caught up or the time budget is spent. */
export async function projectionsCronPass(
  db: Database,
  projections: readonly Projection[] = asyncProjections,
  options: { budgetMs?: number; registry?: EventRegistry } = {},
): Promise<CronPass> {
  const store = storeOn(db.prisma, options.registry ?? eventRegistry);
  const budgetMs = options.budgetMs ?? 20_000;
  // A fresh owner per call: a cron call that dies leaves a lease that expires like any other.
  const owner = `cron:${newRunnerId()}`;
  const end = Date.now() + budgetMs;
  const out: CronPass["projections"] = [];
  for (const projection of projections) {
    let applied = 0;
    let last = { leased: false, caughtUp: false, failed: false };
    do {
      const step = await runProjectionStep(store, projection, { owner });
      applied += step.applied;
      last = step;
    } while (last.leased && !last.caughtUp && !last.failed && Date.now() < end);
    out.push({ name: projection.name, applied, leased: last.leased, caughtUp: last.caughtUp, failed: last.failed });
  }
  // Give the leases back at once: the next call, or a worker, may be another process.
  await releaseLeases(db.prisma, owner);
  return { projections: out };
}
