// Figures that live in the database, read at scrape time with cheap queries, so every process
// reports the same cluster-wide truth: no count(*) over events (the highest position instead,
// since events are never deleted), table sizes from the catalog, the outbox through its partial
// indexes with capped counts, projection lag from the checkpoints and the log's primary key, the
// audit backlog through the commit-order index past the newest seal.
import { logReaderLag, prismaRunner, type Db } from "../eventStore";
import { readSealingState } from "../audit/sealerStatus";
import { metrics } from "./registry";

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
          (SELECT min(id) FROM outbox WHERE handled_at IS NOT NULL AND processed_at IS NULL AND dead_lettered_at IS NULL))) AS oldest,
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

export type ProjectionCheckpoint = { projection: string; globalPosition: number };

// The projection runner's table may not exist yet (or be named differently in an older
// database): read its rows as JSON and take the name and position from the usual column names.
const nameKeys = ["name", "projection", "projection_name"];
const positionKeys = ["global_position", "position", "last_position", "checkpoint_position"];

function pick(row: Record<string, unknown>, keys: readonly string[]): unknown {
  for (const k of keys) if (row[k] !== undefined && row[k] !== null) return row[k];
  return undefined;
}

export const CHECKPOINTS_TABLE = "projection_checkpoints";

/** Every projection's checkpoint position; an empty list when there is no checkpoints table. */
export async function projectionCheckpoints(db: Db, table = CHECKPOINTS_TABLE): Promise<ProjectionCheckpoint[]> {
  if (!/^[a-z_][a-z0-9_]*$/.test(table)) throw new RangeError(`not a table name: ${table}`);
  const sql = prismaRunner(db);
  const [exists] = await sql<{ t: string | null }>("SELECT to_regclass($1)::text AS t", [table]);
  if (!exists?.t) return [];
  const rows = await sql<{ row: Record<string, unknown> }>(`SELECT to_jsonb(c) AS row FROM ${table} c`, []);
  const out: ProjectionCheckpoint[] = [];
  for (const { row } of rows) {
    const name = pick(row, nameKeys);
    const position = pick(row, positionKeys);
    if (typeof name !== "string") continue;
    out.push({ projection: name, globalPosition: Number(position ?? 0) || 0 });
  }
  return out;
}

export type ProjectionLag = { projection: string; events: number; seconds: number };

/** Events past each checkpoint, and the age of the oldest of them (0 when caught up). */
export async function projectionLags(db: Db, headPosition?: number, table = CHECKPOINTS_TABLE): Promise<ProjectionLag[]> {
  const checkpoints = await projectionCheckpoints(db, table);
  if (checkpoints.length === 0) return [];
  const sql = prismaRunner(db);
  const head =
    headPosition ?? num((await sql<{ head: Num }>("SELECT max(global_position) AS head FROM events", []))[0]?.head);
  const lags: ProjectionLag[] = [];
  for (const c of checkpoints) {
    const events = Math.max(0, head - c.globalPosition);
    let seconds = 0;
    if (events > 0) {
      const [next] = await sql<{ age: Num }>(
        `SELECT extract(epoch FROM clock_timestamp() - recorded_at)::float8 AS age
           FROM events WHERE global_position > $1 ORDER BY global_position LIMIT 1`,
        [c.globalPosition],
      );
      seconds = Math.max(0, num(next?.age));
    }
    lags.push({ projection: c.projection, events, seconds });
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
  const projections = await projectionLags(db, store.events);
  m.projectionLagEvents.reset();
  m.projectionLagSeconds.reset();
  for (const p of projections) {
    m.projectionLagEvents.set({ projection: p.projection }, p.events);
    m.projectionLagSeconds.set({ projection: p.projection }, p.seconds);
  }
  return { store, projections };
}
