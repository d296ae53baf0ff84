// Blue/green rebuilds. The log is replayed into shadow tables (rm_x__rebuild, made by the
// SECURITY DEFINER functions of the projections migration) in big batches while the live tables
// keep serving reads and writes; when the replay has caught up, one short transaction locks the
// live tables against writers (readers go on), applies the last events, swaps the shadow in and
// records the end. A failure or a cancel drops the shadow and leaves the live tables as they were.
// One rebuild per projection at a time across every process: a unique index on the running row.
// Every start and end is an event in the rebuild's own operations stream (who, why, how long).
import { randomUUID } from "node:crypto";
import { appendToStream, eventColumns, pgErrorInfo, readAll, selectEvents, prismaRunner, storeIn, streamAll, streamAllForFold, type Db, type FoldEvent, type LogCheckpoint, type SqlRunner, type StoredEvent, type Store } from "../eventStore";
import { InvariantError, NotFoundError, ValidationError } from "../errors";
import { errorSummary } from "../workers/outbox";
import { OPERATIONS_AGGREGATE, rebuildStream } from "../domain/operations/events";
import { ensureCheckpoints } from "./runner";
import { allProjections, isInline, projectionNamed } from "./registry";
import type { Projection, ProjectionTarget } from "./types";

export const REBUILD_BATCH_SIZE = 10_000;
/** A running rebuild whose process has not reported for this long died; the next start clears it. */
export const REBUILD_STALE_SECONDS = 30;

export const shadowOf = (table: string) => `${table}__rebuild`;
export const shadowTarget = (projection: Projection): ProjectionTarget => ({
  table(name) {
    if (!projection.tables.includes(name)) throw new Error(`projection ${projection.name} does not own table ${name}`);
    return shadowOf(name);
  },
});

export type RebuildStatus = "running" | "finished" | "cancelled" | "failed";
export type RebuildRow = {
  id: string;
  name: string;
  status: RebuildStatus;
  phase: string;
  reason: string;
  startedBy: string;
  startedAt: Date;
  finishedAt: Date | null;
  eventsTotal: number;
  eventsDone: number;
  eventsPerSecond: number;
  swapPauseMs: number | null;
  error: string | null;
};

type RawRebuild = {
  id: string; name: string; status: RebuildStatus; phase: string; reason: string; started_by: string; started_at: Date;
  finished_at: Date | null; events_total: string | number; events_done: string | number; events_per_second: number;
  swap_pause_ms: number | null; error: string | null;
};
export const rebuildColumns = `id::text AS id, name, status, phase, reason, started_by, started_at, finished_at, events_total,
  events_done, events_per_second, swap_pause_ms, error`;
export const toRebuild = (r: RawRebuild): RebuildRow => ({
  id: r.id, name: r.name, status: r.status, phase: r.phase, reason: r.reason, startedBy: r.started_by, startedAt: r.started_at,
  finishedAt: r.finished_at, eventsTotal: Number(r.events_total), eventsDone: Number(r.events_done),
  eventsPerSecond: Number(r.events_per_second), swapPauseMs: r.swap_pause_ms == null ? null : Number(r.swap_pause_ms), error: r.error,
});

export async function rebuildById(db: Db, id: string): Promise<RebuildRow | null> {
  const rows = await prismaRunner(db)<RawRebuild>(`SELECT ${rebuildColumns} FROM projection_rebuilds WHERE id = $1::uuid`, [id]);
  return rows[0] ? toRebuild(rows[0]) : null;
}

export type Who = { userId: string; correlationId: string };

type Ended = { status: Exclude<RebuildStatus, "running">; eventsDone: number; durationMs: number; eventsPerSecond?: number; swapPauseMs?: number; error?: string };

async function appendOperation(tx: Db, store: Store, rebuildId: string, expectedVersion: number | "no_stream", type: string, data: Record<string, unknown>, who: Who, causationId: string | null) {
  const eventId = randomUUID();
  await appendToStream(storeIn(store, tx), rebuildStream(rebuildId), [
    { type, data, eventId, occurredAt: new Date(), userId: who.userId, correlationId: who.correlationId, causationId },
  ], { expectedVersion, aggregateType: OPERATIONS_AGGREGATE });
  return eventId;
}

const endEventType = { finished: "ProjectionRebuildFinished", cancelled: "ProjectionRebuildCancelled", failed: "ProjectionRebuildFailed" } as const;

/** Marks the rebuild ended and records its end event, in the transaction given. */
async function recordEnd(tx: Db, store: Store, rebuild: { id: string; name: string; startEventId: string | null }, who: Who, end: Ended) {
  await prismaRunner(tx)(
    `UPDATE projection_rebuilds SET status = $2, phase = 'done', finished_at = now(), events_done = $3::bigint, swap_pause_ms = $4::float8, error = $5,
            events_per_second = coalesce($6::float8, events_per_second)
      WHERE id = $1::uuid`,
    [rebuild.id, end.status, end.eventsDone, end.swapPauseMs ?? null, end.error ?? null, end.eventsPerSecond ?? null],
  );
  const data: Record<string, unknown> = { rebuildId: rebuild.id, projection: rebuild.name, eventsDone: end.eventsDone, durationMs: Math.round(end.durationMs) };
  if (end.status === "finished") Object.assign(data, { eventsPerSecond: Math.round(end.eventsPerSecond ?? 0), swapPauseMs: end.swapPauseMs ?? 0 });
  if (end.status === "failed") data.error = (end.error ?? "failed").slice(0, 500);
  await appendOperation(tx, store, rebuild.id, 1, endEventType[end.status], data, who, rebuild.startEventId);
}

function inTransaction<T>(store: Store, fn: (tx: Db) => Promise<T>): Promise<T> {
  return store.transaction ? store.transaction((txStore) => fn(txStore.db)) : fn(store.db);
}

/** Rebuilds whose process died (no heartbeat): failed, their shadows dropped, so a new one can start. */
async function clearAbandoned(store: Store, projection: Projection): Promise<void> {
  const stale = await store.sql<{ id: string; events_done: string | number; ms: number }>(
    `SELECT id::text AS id, events_done, extract(epoch FROM now() - started_at)::float8 * 1000 AS ms FROM projection_rebuilds
      WHERE name = $1 AND status = 'running' AND heartbeat_at < now() - make_interval(secs => $2)`,
    [projection.name, REBUILD_STALE_SECONDS],
  );
  for (const row of stale) {
    for (const table of projection.tables) await store.sql("SELECT 1 AS ok FROM projection_shadow_drop($1)", [table]);
    await inTransaction(store, async (tx) => {
      const startEventId = await startEventOf(tx, row.id);
      await recordEnd(tx, store, { id: row.id, name: projection.name, startEventId }, { userId: "system", correlationId: randomUUID() }, {
        status: "failed", eventsDone: Number(row.events_done), durationMs: row.ms, error: "abandoned: the process running it stopped",
      });
    });
  }
}

async function startEventOf(db: Db, rebuildId: string): Promise<string | null> {
  const rows = await prismaRunner(db)<{ event_id: string }>("SELECT event_id::text AS event_id FROM events WHERE stream_id = $1 AND version = 1", [rebuildStream(rebuildId)]);
  return rows[0]?.event_id ?? null;
}

async function countEvents(db: Db, projection: Projection): Promise<number> {
  const types = projection.eventTypes && projection.eventTypes.length > 0 ? [...projection.eventTypes] : null;
  const [row] = await prismaRunner(db)<{ n: string | number }>(
    "SELECT count(*) AS n FROM events WHERE $1::text[] IS NULL OR event_type = ANY ($1::text[])",
    [types],
  );
  return Number(row?.n ?? 0);
}

export type StartedRebuild = { rebuildId: string; projection: Projection; startEventId: string; who: Who; eventsTotal: number };

/**
 * Claims the rebuild of `name` and records who and why. Refuses an unknown projection
 * (NotFoundError) and one already rebuilding, from any process (InvariantError); nothing changes then.
 */
export async function startRebuild(store: Store, name: string, input: { reason: string } & Who, projections: readonly Projection[] = allProjections): Promise<StartedRebuild> {
  const projection = projectionNamed(name, projections);
  const reason = input.reason.trim();
  if (reason.length === 0 || reason.length > 500) throw new ValidationError("a reason of 1 to 500 characters is needed", "reason");
  await ensureCheckpoints(store.db, projections);
  await clearAbandoned(store, projection);
  const eventsTotal = await countEvents(store.db, projection);
  const rebuildId = randomUUID();
  const who = { userId: input.userId, correlationId: input.correlationId };
  try {
    const startEventId = await inTransaction(store, async (tx) => {
      await prismaRunner(tx)(
        "INSERT INTO projection_rebuilds (id, name, status, reason, started_by, events_total) VALUES ($1::uuid, $2, 'running', $3, $4, $5)",
        [rebuildId, projection.name, reason, input.userId, eventsTotal],
      );
      return appendOperation(tx, store, rebuildId, "no_stream", "ProjectionRebuildStarted", { rebuildId, projection: projection.name, reason, codeVersion: projection.version, eventsTotal }, who, null);
    });
    return { rebuildId, projection, startEventId, who, eventsTotal };
  } catch (error) {
    if (pgErrorInfo(error).code === "23505") {
      throw new InvariantError(`Projection ${projection.name} is already being rebuilt; cancel that rebuild or wait for it to end`, "projection.already_rebuilding");
    }
    throw error;
  }
}

/**
 * Asks a running rebuild to stop (it stops at its next batch). Refuses an unknown rebuild and
 * one that has already ended.
 */
export async function cancelRebuild(db: Db, rebuildId: string): Promise<void> {
  const rows = await prismaRunner(db)<{ id: string }>(
    "UPDATE projection_rebuilds SET cancel_requested = true WHERE id = $1::uuid AND status = 'running' RETURNING id::text AS id",
    [rebuildId],
  );
  if (rows.length > 0) return;
  const existing = await rebuildById(db, rebuildId);
  if (!existing) throw new NotFoundError("rebuild", rebuildId);
  throw new InvariantError(`That rebuild of ${existing.name} has already ${existing.status === "finished" ? "finished" : existing.status === "cancelled" ? "been cancelled" : "failed"}`, "projection.rebuild_ended");
}

export class RebuildCancelled extends Error {
  override readonly name = "RebuildCancelled";
}

export type Progress = { done: number; total: number; eventsPerSecond: number; phase: string };
export type RebuildResult = { rebuildId: string; status: Exclude<RebuildStatus, "running">; eventsDone: number; durationMs: number; eventsPerSecond: number; swapPauseMs: number | null; error: string | null };

export type RunOptions = {
  batchSize?: number;
  onProgress?: (p: Progress) => void;
  /** Aborting cancels the rebuild like the Cancel button does. */
  signal?: AbortSignal;
  /** Tests: called with each batch before it is applied to the shadow. */
  beforeBatch?: (events: readonly FoldEvent[]) => Promise<void> | void;
};

/** The events after `after` that this transaction can see, without the commit-order cut (see swap). */
async function visibleAfter(tx: Db, store: Store, projection: Projection, after: LogCheckpoint | null, limit: number): Promise<StoredEvent[]> {
  const from = after ?? { transactionId: "0", globalPosition: 0 };
  const types = projection.eventTypes && projection.eventTypes.length > 0 ? [...projection.eventTypes] : null;
  return selectEvents(
    storeIn(store, tx),
    `SELECT ${eventColumns} FROM events
      WHERE (events.transaction_id, events.global_position) > ($1::text::xid8, $2::bigint)
        AND ($3::text[] IS NULL OR event_type = ANY ($3::text[]))
      ORDER BY events.transaction_id, events.global_position LIMIT $4`,
    [from.transactionId, from.globalPosition, types, limit],
  );
}

/** Each page with what applying it takes (run once, after beforeBatch). */
async function* mapPages<E extends FoldEvent>(
  source: AsyncGenerator<{ events: E[]; checkpoint: LogCheckpoint | null }>,
  apply: (events: E[]) => Promise<boolean>,
): AsyncGenerator<{ events: E[]; checkpoint: LogCheckpoint | null; run: () => Promise<boolean> }> {
  for await (const page of source) yield { ...page, run: () => apply(page.events) };
}

/** Counts a batch on the rebuild's row (and its heartbeat); answers whether a cancel was asked for. */
async function recordProgress(sql: SqlRunner, rebuildId: string, events: number, t0: number): Promise<boolean> {
  const seconds = Math.max((performance.now() - t0) / 1000, 0.001);
  const [row] = await sql<{ cancel_requested: boolean }>(
    `UPDATE projection_rebuilds SET events_done = events_done + $2::bigint, events_per_second = (events_done + $2::bigint) / $3::float8, heartbeat_at = now()
      WHERE id = $1::uuid RETURNING cancel_requested`,
    [rebuildId, events, seconds],
  );
  return row?.cancel_requested ?? true;
}

const checkpointOf = (e: StoredEvent): LogCheckpoint => ({ transactionId: e.transactionId, globalPosition: e.globalPosition });

/**
 * Runs a started rebuild to its end: replay into the shadow, swap, record. Always ends the
 * rebuild row (finished, cancelled or failed) and its operations stream; never throws for a
 * failed rebuild, it answers the outcome.
 */
export async function runRebuild(store: Store, started: StartedRebuild, options: RunOptions = {}): Promise<RebuildResult> {
  const { projection, rebuildId } = started;
  const batchSize = options.batchSize ?? REBUILD_BATCH_SIZE;
  const target = shadowTarget(projection);
  const t0 = performance.now();
  let done = 0;
  let copySeconds = 0.001;
  let total = started.eventsTotal;
  const report = (phase: string) => options.onProgress?.({ done, total: Math.max(total, done), eventsPerSecond: done / copySeconds, phase });
  const rebuild = { id: rebuildId, name: projection.name, startEventId: started.startEventId };
  try {
    // The shadow starts with its primary key only: its other indexes are built once the replay
    // is done (one sorted build each instead of an index update per row), before the swap.
    for (const table of projection.tables) await store.sql("SELECT projection_shadow_create_bare($1)", [table]);
    await store.sql("UPDATE projection_rebuilds SET phase = 'copying', heartbeat_at = now() WHERE id = $1::uuid", [rebuildId]);
    report("copying");

    // Replay in big batches; the next batch is read while this one is folded and written. Trusted
    // decode: the events were validated when written (upcast ones are validated here). A
    // projection with its own replay keeps state across batches and writes outside transactions
    // (nothing here is a checkpoint: a rebuild that stops is dropped, never resumed); the others
    // apply each batch in a transaction, as the runner does.
    const replay = projection.replay?.(store, target);
    const reading = { pageSize: batchSize, eventTypes: projection.eventTypes, decode: "trusted" } as const;
    let cursor: LogCheckpoint | null = null;
    const batches = replay
      ? mapPages(streamAllForFold(store, reading), async (events) => {
          await replay.batch(events);
          return recordProgress(store.sql, rebuildId, events.length, t0);
        })
      : mapPages(streamAll(store, reading), (events) =>
          inTransaction(store, async (tx) => {
            await projection.apply(tx, events, target);
            return recordProgress(prismaRunner(tx), rebuildId, events.length, t0);
          }),
        );
    for await (const { events, checkpoint, run } of batches) {
      await options.beforeBatch?.(events);
      const cancel = await run();
      done += events.length;
      copySeconds = Math.max((performance.now() - t0) / 1000, 0.001);
      cursor = checkpoint;
      report("copying");
      if (cancel || options.signal?.aborted) throw new RebuildCancelled("cancelled");
    }
    await replay?.finish();
    if (options.signal?.aborted) throw new RebuildCancelled("cancelled");
    const copied = done;

    // The live table's other indexes, on the shadow (readers and writers of the live table go on).
    await store.sql("UPDATE projection_rebuilds SET phase = 'indexing', heartbeat_at = now() WHERE id = $1::uuid", [rebuildId]);
    report("indexing");
    for (const table of projection.tables) await store.sql("SELECT projection_shadow_index($1) AS built", [table]);
    if (options.signal?.aborted) throw new RebuildCancelled("cancelled");

    // The swap: writers wait from the LOCK until the commit; that is the pause we measure.
    await store.sql("UPDATE projection_rebuilds SET phase = 'swapping', heartbeat_at = now() WHERE id = $1::uuid", [rebuildId]);
    report("swapping");
    const swapPauseMs = await swapIn(store, projection, rebuild, started.who, cursor, batchSize, {
      done: () => done,
      add: (n) => {
        done += n;
      },
      t0,
      copied,
    });
    total = done;
    report("done");
    const durationMs = performance.now() - t0;
    return { rebuildId, status: "finished", eventsDone: done, durationMs, eventsPerSecond: done / copySeconds, swapPauseMs, error: null };
  } catch (error) {
    const cancelled = error instanceof RebuildCancelled;
    const summary = cancelled ? null : errorSummary(error);
    const durationMs = performance.now() - t0;
    for (const table of projection.tables) await store.sql("SELECT 1 AS ok FROM projection_shadow_drop($1)", [table]).catch(() => {});
    await inTransaction(store, (tx) =>
      recordEnd(tx, store, rebuild, started.who, { status: cancelled ? "cancelled" : "failed", eventsDone: done, durationMs, error: summary ?? undefined }),
    ).catch(() => {});
    report(cancelled ? "cancelled" : "failed");
    return { rebuildId, status: cancelled ? "cancelled" : "failed", eventsDone: done, durationMs, eventsPerSecond: done / copySeconds, swapPauseMs: null, error: summary };
  }
}

const SWAP_LOCK_TIMEOUT_MS = 2_000;
const SWAP_ATTEMPTS = 5;

async function swapIn(
  store: Store,
  projection: Projection,
  rebuild: { id: string; name: string; startEventId: string | null },
  who: Who,
  cursor: LogCheckpoint | null,
  batchSize: number,
  counts: { done: () => number; add: (n: number) => void; t0: number; copied: number },
): Promise<number> {
  const inline = isInline(projection);
  const target = shadowTarget(projection);
  const tables = [...projection.tables].sort();
  for (let attempt = 1; ; attempt++) {
    let tail = 0;
    try {
      let pause = 0;
      await inTransaction(store, async (tx) => {
        // A writer in the middle of a long transaction must not stretch everyone's pause: give up
        // waiting for the lock after a while and try again.
        await prismaRunner(tx)("SELECT set_config('lock_timeout', $1, true)", [`${SWAP_LOCK_TIMEOUT_MS}ms`]);
        const lockedAt = performance.now();
        if (!inline) await prismaRunner(tx)("SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE", [projection.name]);
        // EXCLUSIVE: writers wait, readers go on (until the few catalog changes of the swap).
        await prismaRunner(tx)(`LOCK TABLE ${tables.join(", ")} IN EXCLUSIVE MODE`, []);
        // The last events. Inline models: every committed event now, without the commit-order
        // cut: a command waiting on the lock holds back the cut, and a later transaction that
        // committed before the lock wrote rows the shadow must have. Commands still waiting
        // write into the swapped-in table when they go on. Async ones: the runner's reading.
        let after = cursor;
        for (;;) {
          const events = inline
            ? await visibleAfter(tx, store, projection, after, batchSize)
            : (await readAll(storeIn(store, tx), { after, limit: batchSize, eventTypes: projection.eventTypes, decode: "trusted" })).events;
          if (events.length === 0) break;
          await projection.apply(tx, events, target);
          tail += events.length;
          after = checkpointOf(events.at(-1)!);
          if (events.length < batchSize) break;
        }
        for (const table of tables) await prismaRunner(tx)("SELECT 1 AS ok FROM projection_shadow_swap($1)", [table]);
        const position = after ?? { transactionId: "0", globalPosition: 0 };
        await prismaRunner(tx)(
          `UPDATE projection_checkpoints SET code_version = $2, status = 'running', last_error = NULL, last_error_event_id = NULL,
                  last_error_at = NULL, updated_at = now(),
                  transaction_id = CASE WHEN $3 THEN transaction_id ELSE $4::text::xid8 END,
                  global_position = CASE WHEN $3 THEN global_position ELSE $5::bigint END
            WHERE name = $1`,
          [projection.name, projection.version, inline, position.transactionId, position.globalPosition],
        );
        pause = performance.now() - lockedAt;
        const eventsDone = counts.done() + tail;
        const seconds = Math.max((performance.now() - counts.t0) / 1000, 0.001);
        await recordEnd(tx, store, rebuild, who, {
          status: "finished",
          eventsDone,
          durationMs: performance.now() - counts.t0,
          eventsPerSecond: eventsDone / seconds,
          swapPauseMs: Math.round(pause * 100) / 100,
        });
      });
      counts.add(tail);
      return pause;
    } catch (error) {
      if (pgErrorInfo(error).code === "55P03" && attempt < SWAP_ATTEMPTS) continue;
      throw error;
    }
  }
}
