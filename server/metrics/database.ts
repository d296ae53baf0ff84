// Figures that live in the database, read at scrape time with cheap queries, so every process
// reports the same cluster-wide truth: no count(*) over events (the highest position instead,
// since events are never deleted), table sizes from the catalog, the outbox through its partial
// indexes with capped counts (the oldest pending row leaves out rows held behind a dead letter:
// the dead-letter gauge says a record is stuck, this one says the line is slow), projection lag as the console counts it (projections/status.ts), the
// audit backlog through the commit-order index past the newest seal.
import { logReaderLag, prismaRunner, type Db } from "../eventStore";
import { readSealingState } from "../audit/sealerStatus";
import { metrics } from "./registry";
import { asyncProjections } from "../projections/registry";
import { lagOf } from "../projections/status";
import type { Projection } from "../projections/types";

type Num = number | string | bigint | null;
const num = (v: Num | undefined) => (v === null || v === undefined ? 0 : Number(v));

export type StoreFigures = {
  events: number;
  bytes: { events: number; snapshots: number; outbox: number };
  outbox: { pending: number; oldestPendingSeconds: number; deadLettered: number };
};

const storeSql = `
SELECT (SELECT max(global_position) FROM events) AS events,
       pg_total_relation_size('events') AS events_bytes,
       pg_total_relation_size('snapshots') AS snapshots_bytes,
       pg_total_relation_size('outbox') AS outbox_bytes,
       (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE processed_at IS NULL AND dead_lettered_at IS NULL LIMIT 100000) p) AS pending,
       (SELECT extract(epoch FROM clock_timestamp() - created_at)::float8 FROM outbox WHERE id = least(
          (SELECT min(id) FROM outbox WHERE handled_at IS NULL AND processed_at IS NULL AND dead_lettered_at IS NULL),
          (SELECT min(id) FROM outbox WHERE handled_at IS NOT NULL AND processed_at IS NULL AND dead_lettered_at IS NULL AND NOT held))) AS oldest,
       (SELECT count(*) FROM (SELECT 1 FROM outbox WHERE dead_lettered_at IS NOT NULL AND processed_at IS NULL LIMIT 100000) d) AS dead`;

type StoreRow = { events: Num; events_bytes: Num; snapshots_bytes: Num; outbox_bytes: Num; pending: Num; oldest: Num; dead: Num };

export async function readStoreFigures(db: Db): Promise<StoreFigures> {
  const [row] = await prismaRunner(db)<StoreRow>(storeSql, []);
  return {
    events: num(row?.events),
    bytes: { events: num(row?.events_bytes), snapshots: num(row?.snapshots_bytes), outbox: num(row?.outbox_bytes) },
    outbox: { pending: num(row?.pending), oldestPendingSeconds: Math.max(0, num(row?.oldest)), deadLettered: num(row?.dead) },
  };
}

export type ProjectionLag = { projection: string; events: number; seconds: number };

/** Lag is counted up to this many events a projection at each scrape (a capped index range). */
export const PROJECTION_LAG_CAP = 100_000;

/**
 * Each async projection's lag as the console shows it (projections/status.ts lagOf): the events of
 * its own types after its checkpoint in commit order, and the age of the oldest. Inline projections
 * commit with the events they read and have no lag, so no series. A projection whose checkpoint
 * row does not exist yet (a runner that never started) is left out, not reported as the whole log.
 */
export async function projectionLags(db: Db, projections: readonly Projection[] = asyncProjections): Promise<ProjectionLag[]> {
  const rows = await prismaRunner(db)<{ name: string; transaction_id: string; global_position: string | number }>(
    "SELECT name, transaction_id::text AS transaction_id, global_position FROM projection_checkpoints WHERE name = ANY ($1::text[])",
    [projections.map((p) => p.name)],
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  const lags: ProjectionLag[] = [];
  for (const projection of projections) {
    const row = byName.get(projection.name);
    if (!row) continue;
    const lag = await lagOf(db, projection, row, PROJECTION_LAG_CAP);
    lags.push({ projection: projection.name, ...lag });
  }
  return lags;
}

/** Sets the database-backed gauges from one round of cheap queries. */
export async function collectDatabaseGauges(db: Db): Promise<{ store: StoreFigures; projections: ProjectionLag[] }> {
  const m = metrics();
  const store = await readStoreFigures(db);
  m.storeEvents.set(store.events);
  m.storeBytes.set({ table: "events" }, store.bytes.events);
  m.storeBytes.set({ table: "snapshots" }, store.bytes.snapshots);
  m.storeBytes.set({ table: "outbox" }, store.bytes.outbox);
  m.outboxPending.set(store.outbox.pending);
  m.outboxOldestAge.set(store.outbox.oldestPendingSeconds);
  m.outboxDead.set(store.outbox.deadLettered);
  // What holds the global log's readers back: a long report or a session left idle in a transaction.
  const held = await logReaderLag({ sql: prismaRunner(db) });
  m.logReaderHeldEvents.set(held.eventsWaiting);
  m.logReaderHeldSeconds.set(held.heldBackBy?.since ? Math.max(0, (Date.now() - held.heldBackBy.since.getTime()) / 1000) : 0);
  // Whether sealing keeps up: a read of the newest seal and a capped index range past it.
  const sealing = await readSealingState(prismaRunner(db));
  m.auditUnsealedEvents.set(sealing.backlog.events);
  m.auditUnsealedOldest.set(sealing.backlog.oldestSeconds);
  m.auditLastSealAge.set(sealing.lastSeal?.ageSeconds ?? 0);
  const projections = await projectionLags(db);
  m.projectionLagEvents.reset();
  m.projectionLagSeconds.reset();
  for (const p of projections) {
    m.projectionLagEvents.set({ projection: p.projection }, p.events);
    m.projectionLagSeconds.set({ projection: p.projection }, p.seconds);
  }
  return { store, projections };
}
