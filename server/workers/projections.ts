// The projection runner from the cron route: one pass per call of /api/cron/projections. (Inline
// in the console's process it starts with the background work, ./background.ts; in a process of
// its own it is npm run worker, server/cli/worker.ts.)
import "server-only";
import type { Database } from "../db/client";
import { storeOn, type EventRegistry } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { newRunnerId, releaseLeases, runProjectionStep } from "../projections/runner";
import type { Projection } from "../projections/types";
import { asyncProjections } from "../projections/registry";

export type CronPass = { projections: { name: string; applied: number; caughtUp: boolean; leased: boolean; failed: boolean }[] };

/** One cron call: each async projection applies batches until it is caught up or the time budget is spent. */
export async function projectionsCronPass(
  db: Database,
  projections: readonly Projection[] = asyncProjections,
  options: { budgetMs?: number; registry?: EventRegistry } = {},
): Promise<CronPass> {
  const store = storeOn(db, options.registry ?? eventRegistry);
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
