// Blue/green rebuilds. The log is replayed into shadow tables (rm_x__rebuild, made by the
// SECURITY DEFINER functions of the projections migration) in big batches while the live tables
// keep serving reads and writes; when the replay has caught up, one short transaction locks the
// live tables against writers (readers go on), applies the last events, swaps the shadow in and
// records the end. A failure or a cancel drops the shadow and leaves the live tables as they were.
// One rebuild per projection at a time across every process: a unique index on the running row,
// and a lock the rebuild holds on a database session of its own for its whole run (HeldSession:
// a session advisory lock on PostgreSQL). The server releases that lock when the holder's
// connection dies (kill -9, a crash), so a new rebuild that gets it knows the running row's
// process is dead and takes the row over at once; while the holder lives, a new one is refused.
// Every start and end is an event in the rebuild's own operations stream (who, why, how long).
import { randomUUID } from "node:crypto";
import { appendToStream, eventColumns, pgErrorInfo, type HeldSession, readAll, selectEvents, prismaRunner, storeIn, streamAll, streamAllForFold, type Db, type FoldEvent, type LogCheckpoint, type SqlRunner, type StoredEvent, type Store } from "../eventStore";
import { InvariantError, NotFoundError, ValidationError } from "../errors";
import { errorSummary } from "../workers/outbox";
import { OPERATIONS_AGGREGATE, rebuildStream } from "../domain/operations/events";
import { ensureCheckpoints } from "./runner";
import { recordRebuild } from "../metrics/registry";
import { allProjections, isInline, projectionNamed } from "./registry";
import type { Fenced, Projection, ProjectionTarget, Replay } from "./types";

export const REBUILD_BATCH_SIZE = 10_000;
/**
 * A running rebuild that has not reported for this long is shown as stalled. A store without held
 * sessions (no way to prove its holder dead) also takes such a row over after this long.
 */
export const REBUILD_STALE_SECONDS = 30;
/** How long a start keeps trying for a rebuild's lock before it says another one holds it (a killed holder's connection takes a moment to close). */
const LOCK_TRIES = 10;
const LOCK_RETRY_MS = 100;
const rebuildLockKey = (projection: Projection) => `projection-rebuild:${projection.name}`;

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
  /** Seconds since the run last reported (its heartbeat); over REBUILD_STALE_SECONDS it is shown as stalled. */
  quietSeconds: number;
};

type RawRebuild = {
  id: string; name: string; status: RebuildStatus; phase: string; reason: string; started_by: string; started_at: Date;
  finished_at: Date | null; events_total: string | number; events_done: string | number; events_per_second: number;
  swap_pause_ms: number | null; error: string | null; quiet_seconds: number | null;
};
export const rebuildColumns = `id::text AS id, name, status, phase, reason, started_by, started_at, finished_at, events_total,
  events_done, events_per_second, swap_pause_ms, error, extract(epoch FROM now() - heartbeat_at)::float8 AS quiet_seconds`;
export const toRebuild = (r: RawRebuild): RebuildRow => ({
  id: r.id, name: r.name, status: r.status, phase: r.phase, reason: r.reason, startedBy: r.started_by, startedAt: r.started_at,
  finishedAt: r.finished_at, eventsTotal: Number(r.events_total), eventsDone: Number(r.events_done),
  eventsPerSecond: Number(r.events_per_second), swapPauseMs: r.swap_pause_ms == null ? null : Number(r.swap_pause_ms), error: r.error,
  quietSeconds: Math.max(0, Number(r.quiet_seconds ?? 0)),
});

/** A running rebuild that has not reported for REBUILD_STALE_SECONDS: its process may have stopped. */
export const isStalled = (r: RebuildRow): boolean => r.status === "running" && r.quietSeconds > REBUILD_STALE_SECONDS;

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
  // The row's strongest lock first: it waits for a write of the rebuild still holding the row
  // (fenced, FOR KEY SHARE), and every later one then finds the rebuild ended.
  await prismaRunner(tx)("SELECT 1 AS ok FROM projection_rebuilds WHERE id = $1::uuid FOR UPDATE", [rebuild.id]);
  await prismaRunner(tx)<{ id: string; cancel_requested: boolean }>(
    `UPDATE projection_rebuilds SET status = $2, phase = 'done', finished_at = now(), events_done = $3::bigint, swap_pause_ms = $4::float8, error = $5,
            events_per_second = coalesce($6::float8, events_per_second)
      WHERE id = $1::uuid AND status = 'running' RETURNING id::text AS id, cancel_requested`,
    [rebuild.id, end.status, end.eventsDone, end.swapPauseMs ?? null, end.error ?? null, end.eventsPerSecond ?? null],
  ).then((rows) => {
    // Ended already: taken over by a later rebuild that found this one's holder dead. Nothing of
    // this run may be recorded (its swap rolls back with this).
    if (rows.length === 0) throw takenOver(rebuild.name);
    // A cancel that came during the swap (the row is this transaction's now: a later cancel
    // waits for it and then finds the rebuild finished): the swap rolls back, the cancel stands.
    if (end.status === "finished" && rows[0]!.cancel_requested) throw new RebuildCancelled("cancelled");
  });
  const data: Record<string, unknown> = { rebuildId: rebuild.id, projection: rebuild.name, eventsDone: end.eventsDone, durationMs: Math.round(end.durationMs) };
  if (end.status === "finished") Object.assign(data, { eventsPerSecond: Math.round(end.eventsPerSecond ?? 0), swapPauseMs: end.swapPauseMs ?? 0 });
  if (end.status === "failed") data.error = (end.error ?? "failed").slice(0, 500);
  await appendOperation(tx, store, rebuild.id, 1, endEventType[end.status], data, who, rebuild.startEventId);
}

function inTransaction<T>(store: Store, fn: (tx: Db) => Promise<T>): Promise<T> {
  return store.transaction ? store.transaction((txStore) => fn(txStore.db)) : fn(store.db);
}

const takenOver = (name: string) =>
  new InvariantError(`The rebuild of ${name} was ended by another process (it found this one's session gone)`, "projection.rebuild_taken_over");

/**
 * The rebuild's writes to its shadow (Fenced): each transaction first holds the rebuild's row as
 * running (FOR KEY SHARE: its progress and heartbeat updates go on beside it; an end, which takes
 * the row FOR UPDATE, waits for it). A run taken over while its process went on (its lock
 * session died mid-batch) had its batch land in the shadow the newer rebuild had just made:
 * user_activity adds counts, so they came out doubled.
 */
function fencedWrites(store: Store, rebuild: { rebuildId: string; projection: Projection }): Fenced {
  return (fn) =>
    inTransaction(store, async (tx) => {
      const held = await prismaRunner(tx)("SELECT 1 AS ok FROM projection_rebuilds WHERE id = $1::uuid AND status = 'running' FOR KEY SHARE", [rebuild.rebuildId]);
      if (held.length === 0) throw takenOver(rebuild.projection.name);
      return fn(tx);
    });
}

/**
 * Rebuilds whose process died: failed, their shadows dropped, so a new one can start. `proven`:
 * the caller holds the projection's rebuild lock, so every running row's holder is dead, whatever
 * its heartbeat says; otherwise only rows without a heartbeat for REBUILD_STALE_SECONDS.
 */
async function clearAbandoned(store: Store, projection: Projection, proven: boolean): Promise<void> {
  const abandoned = await store.sql<{ id: string; events_done: string | number; ms: number }>(
    `SELECT id::text AS id, events_done, extract(epoch FROM now() - started_at)::float8 * 1000 AS ms FROM projection_rebuilds
      WHERE name = $1 AND status = 'running' AND ($3 OR heartbeat_at < now() - make_interval(secs => $2))`,
    [projection.name, REBUILD_STALE_SECONDS, proven],
  );
  for (const row of abandoned) {
    // The row first (only while still running), then its shadows: a run that was still alive
    // after all can no longer record an end, so nothing it swaps in commits.
    await inTransaction(store, async (tx) => {
      const startEventId = await startEventOf(tx, row.id);
      await recordEnd(tx, store, { id: row.id, name: projection.name, startEventId }, { userId: "system", correlationId: randomUUID() }, {
        status: "failed", eventsDone: Number(row.events_done), durationMs: row.ms, error: "abandoned: the process running it stopped",
      });
    });
    for (const table of projection.tables) await store.sql("SELECT 1 AS ok FROM projection_shadow_drop($1)", [table]);
  }
}

/** Takes the rebuild lock of each projection on the session, or says which one a live rebuild holds. */
async function lockRebuilds(store: Store, session: HeldSession, chosen: readonly Projection[]): Promise<void> {
  for (const projection of chosen) {
    let locked = false;
    for (let attempt = 1; !locked && attempt <= LOCK_TRIES; attempt++) {
      locked = await session.tryLock(rebuildLockKey(projection));
      if (!locked && attempt < LOCK_TRIES) await new Promise((r) => setTimeout(r, LOCK_RETRY_MS));
    }
    if (locked) continue;
    const [running] = await store.sql<{ quiet: number | null }>(
      "SELECT extract(epoch FROM now() - heartbeat_at)::float8 AS quiet FROM projection_rebuilds WHERE name = $1 AND status = 'running'",
      [projection.name],
    );
    const quiet = running?.quiet ?? null;
    throw new InvariantError(
      `Projection ${projection.name} is already being rebuilt; cancel that rebuild or wait for it to end` +
        (quiet !== null && quiet > REBUILD_STALE_SECONDS
          ? ` (it has reported no progress for ${Math.round(quiet)} s, but its process is still connected: stop that process, or end its database session, to start again)`
          : ""),
      "projection.already_rebuilding",
    );
  }
}

async function startEventOf(db: Db, rebuildId: string): Promise<string | null> {
  const rows = await prismaRunner(db)<{ event_id: string }>("SELECT event_id::text AS event_id FROM events WHERE stream_id = $1 AND version = 1", [rebuildStream(rebuildId)]);
  return rows[0]?.event_id ?? null;
}

/** How many events each projection will replay (one scan for all of them). */
async function countEvents(db: Db, projections: readonly Projection[]): Promise<number[]> {
  const typesOf = (p: Projection) => (p.eventTypes && p.eventTypes.length > 0 ? p.eventTypes : null);
  const every = projections.some((p) => typesOf(p) === null);
  const rows = await prismaRunner(db)<{ event_type: string; n: string | number }>(
    "SELECT event_type, count(*) AS n FROM events WHERE $1::text[] IS NULL OR event_type = ANY ($1::text[]) GROUP BY event_type",
    [every ? null : [...new Set(projections.flatMap((p) => typesOf(p)!))]],
  );
  return projections.map((p) => {
    const types = typesOf(p);
    return rows.reduce((sum, r) => sum + (types === null || types.includes(r.event_type) ? Number(r.n) : 0), 0);
  });
}

export type StartedRebuild = {
  rebuildId: string;
  projection: Projection;
  startEventId: string;
  who: Who;
  eventsTotal: number;
  /** The session holding the rebuild's lock until runRebuilds ends (shared by rebuilds started together). */
  lease: HeldSession | null;
};

/**
 * Claims the rebuild of `name` and records who and why. Refuses an unknown projection
 * (NotFoundError) and one already rebuilding, from any process (InvariantError); nothing changes then.
 */
export async function startRebuild(store: Store, name: string, input: { reason: string } & Who, projections: readonly Projection[] = allProjections): Promise<StartedRebuild> {
  return (await startRebuilds(store, [name], input, projections))[0]!;
}

/**
 * Claims the rebuilds of several projections at once (all or none), to be run together by
 * runRebuilds: one reading of the log for all of them. Each is its own rebuild (row, operations
 * stream, outcome), as if started alone.
 */
export async function startRebuilds(store: Store, names: readonly string[], input: { reason: string } & Who, projections: readonly Projection[] = allProjections): Promise<StartedRebuild[]> {
  const chosen = names.map((name) => projectionNamed(name, projections));
  if (chosen.length === 0 || new Set(chosen).size !== chosen.length) throw new ValidationError("name each projection once", "name");
  const reason = input.reason.trim();
  if (reason.length === 0 || reason.length > 500) throw new ValidationError("a reason of 1 to 500 characters is needed", "reason");
  const lease = store.holdSession ? await store.holdSession() : null;
  try {
    // The lock first, which answers at once: a rebuild running in another process is refused
    // here. Before, the checkpoint rows were ensured first, and that insert waited on the running
    // rebuild's batch transaction (it updates its checkpoint row), for as long as the batch took,
    // or for ever when that process was stopped mid-batch (Ctrl-Z, SIGSTOP) and the console's
    // Rebuild answered 503 at its statement bound instead of "already being rebuilt".
    if (lease) await lockRebuilds(store, lease, chosen);
    // Only the chosen projections' rows: another projection's may be held by its runner's batch.
    await ensureCheckpoints(store.db, chosen);
    for (const projection of chosen) await clearAbandoned(store, projection, lease !== null);
    return await claimRebuilds(store, chosen, reason, input, lease);
  } catch (error) {
    await lease?.close();
    throw error;
  }
}

async function claimRebuilds(store: Store, chosen: readonly Projection[], reason: string, input: Who, lease: HeldSession | null): Promise<StartedRebuild[]> {
  const totals = await countEvents(store.db, chosen);
  const who = { userId: input.userId, correlationId: input.correlationId };
  const rebuilds = chosen.map((projection, i) => ({ rebuildId: randomUUID(), projection, eventsTotal: totals[i]! }));
  try {
    return await inTransaction(store, async (tx) => {
      const out: StartedRebuild[] = [];
      for (const { rebuildId, projection, eventsTotal } of rebuilds) {
        await prismaRunner(tx)(
          "INSERT INTO projection_rebuilds (id, name, status, reason, started_by, events_total) VALUES ($1::uuid, $2, 'running', $3, $4, $5)",
          [rebuildId, projection.name, reason, input.userId, eventsTotal],
        );
        const startEventId = await appendOperation(tx, store, rebuildId, "no_stream", "ProjectionRebuildStarted", { rebuildId, projection: projection.name, reason, codeVersion: projection.version, eventsTotal }, who, null);
        out.push({ rebuildId, projection, startEventId, who, eventsTotal, lease });
      }
      return out;
    });
  } catch (error) {
    const info = pgErrorInfo(error);
    if (info.code === "23505") {
      const busy = chosen.find((p) => info.detail?.includes(`(${p.name})`)) ?? (chosen.length === 1 ? chosen[0] : undefined);
      throw new InvariantError(
        busy ? `Projection ${busy.name} is already being rebuilt; cancel that rebuild or wait for it to end` : `One of ${chosen.map((p) => p.name).join(", ")} is already being rebuilt; cancel that rebuild or wait for it to end`,
        "projection.already_rebuilding",
      );
    }
    throw error;
  }
}

/**
 * Asks a running rebuild to stop: at its next batch, before it builds its indexes, or before or
 * during its swap (which then rolls back). Refuses an unknown rebuild and one that has already
 * ended, its swap committed.
 */
export async function cancelRebuild(store: Store, rebuildId: string, projections: readonly Projection[] = allProjections): Promise<void> {
  const rows = await prismaRunner(store.db)<{ id: string; name: string }>(
    "UPDATE projection_rebuilds SET cancel_requested = true WHERE id = $1::uuid AND status = 'running' RETURNING id::text AS id, name",
    [rebuildId],
  );
  if (rows.length > 0) {
    // A run whose process stopped (kill -9, a restart mid-run) reads the flag never: when its
    // lock is free, its holder is gone, and the run is ended here (failed, abandoned, its shadow
    // dropped), so the console does not show it rebuilding for ever.
    const projection = projections.find((p) => p.name === rows[0]!.name);
    if (projection && store.holdSession) {
      const lease = await store.holdSession();
      try {
        if (await lease.tryLock(rebuildLockKey(projection))) await clearAbandoned(store, projection, true);
      } finally {
        await lease.close();
      }
    }
    return;
  }
  const existing = await rebuildById(store.db, rebuildId);
  if (!existing) throw new NotFoundError("rebuild", rebuildId);
  throw new InvariantError(`That rebuild of ${existing.name} has already ${existing.status === "finished" ? "finished" : existing.status === "cancelled" ? "been cancelled" : "failed"}`, "projection.rebuild_ended");
}

export class RebuildCancelled extends Error {
  override readonly name = "RebuildCancelled";
}

export type Progress = { name: string; done: number; total: number; eventsPerSecond: number; phase: string };
export type RebuildResult = { rebuildId: string; status: Exclude<RebuildStatus, "running">; eventsDone: number; durationMs: number; eventsPerSecond: number; swapPauseMs: number | null; error: string | null };

export type RunOptions = {
  batchSize?: number;
  onProgress?: (p: Progress) => void;
  /** Aborting cancels the rebuild like the Cancel button does. */
  signal?: AbortSignal;
  /** Tests: called with each batch before it is applied to the shadow. */
  beforeBatch?: (events: readonly FoldEvent[]) => Promise<void> | void;
  /** Tests: called before a member enters a phase. */
  beforePhase?: (phase: "copying" | "indexing" | "swapping") => Promise<void> | void;
  /** How often a running rebuild says it is alive between its reports (default a third of REBUILD_STALE_SECONDS). */
  heartbeatMs?: number;
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
  return (await runRebuilds(store, [started], options))[0]!;
}

type Member = {
  started: StartedRebuild;
  target: ProjectionTarget;
  fenced: Fenced;
  /** The event types it is given from a page read for several (null: the whole page). */
  types: ReadonlySet<string> | null;
  replay: Replay | undefined;
  done: number;
  copySeconds: number;
  result: RebuildResult | null;
};

/**
 * Runs rebuilds started together (startRebuilds) as runRebuild runs one, reading the log once
 * for all of them: each page goes to each projection, filtered to its event types. Each has its
 * own outcome: a cancel or a failure ends that one (its shadow dropped), the others go on; the
 * signal cancels all. Then all finish their replays and build their indexes at once, and swap
 * in turn.
 */
export async function runRebuilds(store: Store, starteds: readonly StartedRebuild[], options: RunOptions = {}): Promise<RebuildResult[]> {
  // Batches and phases refresh the heartbeat, but a replay's last writes and the index builds run
  // for minutes on a large log without either: the console then called a working rebuild stalled
  // and told the operator to end it. While a rebuild still holds its lock, it says so on a timer.
  const beating = setInterval(() => {
    const alive = starteds.filter((s) => !s.lease?.lost()).map((s) => s.rebuildId);
    if (alive.length === 0) return;
    store.sql("UPDATE projection_rebuilds SET heartbeat_at = now() WHERE id = ANY ($1::uuid[]) AND status = 'running' RETURNING 1 AS ok", [alive]).catch(() => {});
  }, options.heartbeatMs ?? (REBUILD_STALE_SECONDS * 1000) / 3);
  beating.unref();
  try {
    return await runLocked(store, starteds, options);
  } finally {
    clearInterval(beating);
    // The locks go with the sessions; a new rebuild may start from here on.
    for (const lease of new Set(starteds.map((s) => s.lease))) await lease?.close();
  }
}

/** A rebuild whose lock session ended under it can no longer keep others out: it stops. */
function checkLease(m: { started: StartedRebuild }): void {
  if (m.started.lease?.lost()) throw new Error("the rebuild's database session (which holds its lock) ended; start the rebuild again");
}

async function runLocked(store: Store, starteds: readonly StartedRebuild[], options: RunOptions): Promise<RebuildResult[]> {
  const batchSize = options.batchSize ?? REBUILD_BATCH_SIZE;
  const t0 = performance.now();
  const several = starteds.length > 1;
  const members: Member[] = starteds.map((started) => {
    const target = shadowTarget(started.projection);
    const types = started.projection.eventTypes;
    const fenced = fencedWrites(store, started);
    return {
      started, target, fenced, types: several && types && types.length > 0 ? new Set(types) : null,
      replay: started.projection.replay?.(store, target, fenced), done: 0, copySeconds: 0.001, result: null,
    };
  });
  const report = (m: Member, phase: string, total = m.started.eventsTotal) =>
    options.onProgress?.({ name: m.started.projection.name, done: m.done, total: Math.max(total, m.done), eventsPerSecond: m.done / m.copySeconds, phase });
  const recordOf = (m: Member) => ({ id: m.started.rebuildId, name: m.started.projection.name, startEventId: m.started.startEventId });
  /** Records the phase it enters; answers whether a cancel was asked for (read at each batch, then here). */
  const phase = async (m: Member, name: "copying" | "indexing" | "swapping"): Promise<boolean> => {
    await options.beforePhase?.(name);
    // Only while it runs: one ended by another process (taken over) stops here.
    const [row] = await store.sql<{ cancel_requested: boolean }>(
      "UPDATE projection_rebuilds SET phase = $2, heartbeat_at = now() WHERE id = $1::uuid AND status = 'running' RETURNING cancel_requested",
      [m.started.rebuildId, name],
    );
    if (!row) throw takenOver(m.started.projection.name);
    return row.cancel_requested;
  };
  const live = () => members.filter((m) => m.result === null);

  /** A cancelled or failed member: its shadow dropped, its end recorded. */
  async function stop(m: Member, error: unknown): Promise<void> {
    const cancelled = error instanceof RebuildCancelled;
    const summary = cancelled ? null : errorSummary(error);
    const durationMs = performance.now() - t0;
    const status = cancelled ? "cancelled" : "failed";
    m.result = { rebuildId: m.started.rebuildId, status, eventsDone: m.done, durationMs, eventsPerSecond: m.done / m.copySeconds, swapPauseMs: null, error: summary };
    // No write of its replay may land after the drop (in a shadow a later rebuild made).
    await m.replay?.settle().catch(() => {});
    // Without its lock another rebuild may already own the shadows: they are left to it (it
    // makes its own afresh); the row is still ended below if nobody has taken it over.
    if (!m.started.lease?.lost()) {
      for (const table of m.started.projection.tables) await store.sql("SELECT 1 AS ok FROM projection_shadow_drop($1)", [table]).catch(() => {});
    }
    await inTransaction(store, (tx) =>
      recordEnd(tx, store, recordOf(m), m.started.who, { status, eventsDone: m.done, durationMs, error: summary ?? undefined }),
    ).catch(() => {});
    report(m, status);
  }

  // The shadows start with their primary key only: the other indexes are built once the replay
  // is done (one sorted build each instead of an index update per row), before the swap.
  for (const m of members) {
    try {
      for (const table of m.started.projection.tables) await (store.longSql ?? store.sql)("SELECT projection_shadow_create_bare($1)", [table]);
      await phase(m, "copying");
      report(m, "copying");
    } catch (error) {
      await stop(m, error);
    }
  }

  // Replay in big batches; the next batch is read while this one is folded and written. Trusted
  // decode: the events were validated when written (upcast ones are validated here). Projections
  // with a replay of their own keep state across batches and write outside transactions (nothing
  // here is a checkpoint: a rebuild that stops is dropped, never resumed); the others apply each
  // batch in a transaction, as the runner does. When every one has its replay, the read carries
  // only what a fold needs.
  const typeLists = members.map((m) => m.started.projection.eventTypes);
  const eventTypes = typeLists.every((t) => t && t.length > 0) ? [...new Set(typeLists.flatMap((t) => t!))] : undefined;
  const reading = { pageSize: batchSize, eventTypes, decode: "trusted" } as const;
  const folding = members.every((m) => m.replay);
  const pages: AsyncGenerator<{ events: FoldEvent[]; checkpoint: LogCheckpoint | null }> = folding ? streamAllForFold(store, reading) : streamAll(store, reading);
  let cursor: LogCheckpoint | null = null;
  try {
    for await (const { events, checkpoint } of pages) {
      if (live().length === 0) break;
      await options.beforeBatch?.(events);
      for (const m of live()) {
        const mine = m.types ? events.filter((e) => m.types!.has(e.type)) : events;
        try {
          let cancel: boolean;
          if (m.replay) {
            await m.replay.batch(mine);
            cancel = await recordProgress(store.sql, m.started.rebuildId, mine.length, t0);
          } else {
            cancel = await m.fenced(async (tx) => {
              // Read by streamAll (full events) whenever a member has no replay of its own.
              await m.started.projection.apply(tx, mine as StoredEvent[], m.target);
              return recordProgress(prismaRunner(tx), m.started.rebuildId, mine.length, t0);
            });
          }
          m.done += mine.length;
          m.copySeconds = Math.max((performance.now() - t0) / 1000, 0.001);
          report(m, "copying");
          if (cancel || options.signal?.aborted) throw new RebuildCancelled("cancelled");
          checkLease(m);
        } catch (error) {
          await stop(m, error);
        }
      }
      cursor = checkpoint;
    }
  } catch (error) {
    for (const m of live()) await stop(m, error);
  }

  // Each one's last writes and its indexes, all at once (readers and writers of the live tables
  // go on); then the swaps, one at a time, each holding back writers of its own tables only.
  await Promise.all(
    live().map(async (m) => {
      try {
        await m.replay?.finish();
        // A cancel asked for after the last batch: before, it was read no more, and the rebuild
        // built its indexes (minutes on a large log) and swapped in as if nobody had asked.
        if ((await phase(m, "indexing")) || options.signal?.aborted) throw new RebuildCancelled("cancelled");
        report(m, "indexing");
        // One sorted build per index over the whole table: minutes on a large log, past the
        // requests' statement bound (DB_STATEMENT_TIMEOUT_SECONDS), so without it. Not on a
        // shadow a rebuild that took over may have made afresh.
        for (const table of m.started.projection.tables) {
          checkLease(m);
          await (store.longSql ?? store.sql)("SELECT projection_shadow_index($1) AS built", [table]);
        }
      } catch (error) {
        await stop(m, error);
      }
    }),
  );
  for (const m of live()) {
    try {
      // A cancel asked for while the indexes were built.
      if ((await phase(m, "swapping")) || options.signal?.aborted) throw new RebuildCancelled("cancelled");
      checkLease(m);
      const { projection } = m.started;
      // The swap: writers wait from the LOCK until the commit; that is the pause we measure.
      report(m, "swapping");
      const swapPauseMs = await swapIn(store, projection, recordOf(m), m.started.who, cursor, batchSize, {
        done: () => m.done,
        add: (n) => {
          m.done += n;
        },
        t0,
      });
      m.result = { rebuildId: m.started.rebuildId, status: "finished", eventsDone: m.done, durationMs: performance.now() - t0, eventsPerSecond: m.done / m.copySeconds, swapPauseMs, error: null };
      // The rebuild's figures for the metrics (emr_projection_rebuild_*, and the replay rows of Admin → Metrics).
      recordRebuild(projection.name, m.done, m.result.durationMs / 1000);
      report(m, "done", m.done);
    } catch (error) {
      await stop(m, error);
    }
  }
  return members.map((m) => m.result!);
}

const SWAP_LOCK_TIMEOUT_MS = 2_000;
const SWAP_ATTEMPTS = 5;
const SWAP_RETRIED = new Set(["55P03", "40P01"]);

async function swapIn(
  store: Store,
  projection: Projection,
  rebuild: { id: string; name: string; startEventId: string | null },
  who: Who,
  cursor: LogCheckpoint | null,
  batchSize: number,
  counts: { done: () => number; add: (n: number) => void; t0: number },
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
      // 55P03: a writer held the tables past the lock timeout. 40P01: PostgreSQL ended this
      // transaction to break a deadlock with one (a transaction that read a live table, then
      // waits on the swap). Either way nothing of the swap is left; try again.
      if (SWAP_RETRIED.has(pgErrorInfo(error).code ?? "") && attempt < SWAP_ATTEMPTS) continue;
      throw error;
    }
  }
}
