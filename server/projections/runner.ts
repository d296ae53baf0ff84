// The projection runner: reads the log in commit order from each projection's checkpoint, applies
// a batch and stores the new checkpoint in the same transaction, so a crash replays at most the
// batch that did not commit. One runner per projection across all processes holds its lease row;
// the others wait and take over when the holder stops renewing it (LEASE_SECONDS).
// It never skips: readAll stops below the oldest running transaction and there is no "gap
// timeout". A failing batch is retried event by event so the error names the event, and the
// projection stays at that event (status failed) until it applies, instead of moving past it.
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { readAll, prismaRunner, type Db, type LogCheckpoint, type StoredEvent, type Store } from "../eventStore";
import { errorSummary, loopPauseMs } from "../workers/outbox";
import { liveTarget, type Projection } from "./types";

/** A lease not renewed for this long is taken over by another process (the holder renews every pass). */
export const LEASE_SECONDS = 10;
export const RUNNER_BATCH_SIZE = 1000;

export const newRunnerId = () => `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/** Rows for projections seen for the first time, at their current code version (an existing row keeps its version). */
export async function ensureCheckpoints(db: Db, projections: readonly Projection[]): Promise<void> {
  if (projections.length === 0) return;
  await prismaRunner(db)(
    `INSERT INTO projection_checkpoints (name, code_version)
     SELECT * FROM unnest($1::text[], $2::int[]) ON CONFLICT (name) DO NOTHING`,
    [projections.map((p) => p.name), projections.map((p) => p.version)],
  );
}

/** Projections whose tables were built by another code version than the one running: they need a rebuild. */
export async function projectionsNeedingRebuild(db: Db, projections: readonly Projection[]): Promise<{ name: string; built: number; code: number }[]> {
  await ensureCheckpoints(db, projections);
  const rows = await prismaRunner(db)<{ name: string; code_version: number }>(
    "SELECT name, code_version FROM projection_checkpoints WHERE name = ANY ($1::text[])",
    [projections.map((p) => p.name)],
  );
  const built = new Map(rows.map((r) => [r.name, r.code_version]));
  return projections
    .filter((p) => built.get(p.name) !== p.version)
    .map((p) => ({ name: p.name, built: built.get(p.name) ?? 0, code: p.version }));
}

/** What start-up says about projections whose code changed. */
export async function logProjectionVersions(db: Db, projections: readonly Projection[], log: (line: string) => void): Promise<void> {
  for (const p of await projectionsNeedingRebuild(db, projections)) {
    log(`projection ${p.name}: needs rebuild (tables built by version ${p.built}, code is version ${p.code}); npm run projections:rebuild -- ${p.name} --reason "..."`);
  }
}

type CheckpointRow = { transaction_id: string; global_position: string | number | bigint };
const toCheckpoint = (row: CheckpointRow): LogCheckpoint => ({ transactionId: row.transaction_id, globalPosition: Number(row.global_position) });
const sameCheckpoint = (a: LogCheckpoint, b: LogCheckpoint) => a.transactionId === b.transactionId && a.globalPosition === b.globalPosition;

export type StepOptions = { owner: string; batchSize?: number; leaseSeconds?: number };
export type StepResult = {
  /** False when another process holds the lease: this one waits. */
  leased: boolean;
  applied: number;
  /** Nothing more is visible after the checkpoint (at the commit-order cut). */
  caughtUp: boolean;
  failed: boolean;
};

/** Takes or renews the lease; answers the checkpoint when this owner holds it. */
async function lease(db: Db, name: string, owner: string, seconds: number): Promise<LogCheckpoint | null> {
  const rows = await prismaRunner(db)<CheckpointRow>(
    `UPDATE projection_checkpoints SET lease_owner = $2, lease_until = now() + make_interval(secs => $3::float8)
      WHERE name = $1 AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until < now())
      RETURNING transaction_id::text AS transaction_id, global_position`,
    [name, owner, seconds],
  );
  return rows[0] ? toCheckpoint(rows[0]) : null;
}

/** Gives the leases back (on a clean stop) so another process takes over at once. */
export async function releaseLeases(db: Db, owner: string): Promise<void> {
  await prismaRunner(db)("UPDATE projection_checkpoints SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = $1", [owner]);
}

class LostLease extends Error {}

/**
 * Applies `events` and moves the checkpoint from `from` to `to` in one transaction, after checking
 * (under the row's lock) that this owner still holds the lease and nobody moved the checkpoint:
 * a runner whose lease expired mid-batch rolls back instead of applying twice.
 */
async function applyBatch(store: Store, projection: Projection, owner: string, from: LogCheckpoint, events: readonly StoredEvent[], leaseSeconds: number, startedAt: number) {
  const last = events.at(-1)!;
  const run = store.transaction
    ? (fn: (tx: Db) => Promise<void>) => store.transaction!((txStore) => fn(txStore.db))
    : (fn: (tx: Db) => Promise<void>) => fn(store.db);
  await run(async (tx) => {
    const [row] = await prismaRunner(tx)<CheckpointRow & { lease_owner: string | null }>(
      "SELECT transaction_id::text AS transaction_id, global_position, lease_owner FROM projection_checkpoints WHERE name = $1 FOR UPDATE",
      [projection.name],
    );
    if (!row || row.lease_owner !== owner || !sameCheckpoint(toCheckpoint(row), from)) throw new LostLease();
    await projection.apply(tx, events, liveTarget);
    const seconds = Math.max((performance.now() - startedAt) / 1000, 0.001);
    await prismaRunner(tx)(
      `UPDATE projection_checkpoints
          SET transaction_id = $2::text::xid8, global_position = $3, events_applied = events_applied + $4::bigint,
              events_per_second = $5::float8, status = 'running', last_error = NULL, last_error_event_id = NULL, last_error_at = NULL,
              applied_at = now(), updated_at = now(), lease_until = now() + make_interval(secs => $6::float8)
        WHERE name = $1`,
      [projection.name, last.transactionId, last.globalPosition, events.length, events.length / seconds, leaseSeconds],
    );
  });
}

async function recordFailure(db: Db, name: string, error: unknown, event: StoredEvent | null): Promise<void> {
  await prismaRunner(db)(
    `UPDATE projection_checkpoints SET status = 'failed', last_error = $2, last_error_event_id = $3::uuid, last_error_at = now(), updated_at = now()
      WHERE name = $1`,
    [name, errorSummary(error), event?.metadata.eventId ?? null],
  );
}

/** How far behind the projection is: events after its checkpoint (counted up to a cap) and the age of the oldest. */
async function recordLag(db: Db, projection: Projection, after: LogCheckpoint, caughtUp: boolean): Promise<void> {
  if (caughtUp) {
    await prismaRunner(db)("UPDATE projection_checkpoints SET lag_events = 0, lag_seconds = 0, updated_at = now() WHERE name = $1", [projection.name]);
    return;
  }
  const types = projection.eventTypes && projection.eventTypes.length > 0 ? [...projection.eventTypes] : null;
  await prismaRunner(db)(
    `UPDATE projection_checkpoints c SET lag_events = l.n, lag_seconds = coalesce(l.age, 0), updated_at = now()
       FROM (SELECT count(*) AS n, extract(epoch FROM now() - min(recorded_at))::float8 AS age
               FROM (SELECT recorded_at FROM events
                      WHERE (transaction_id, global_position) > ($2::text::xid8, $3::bigint)
                        AND ($4::text[] IS NULL OR event_type = ANY ($4::text[]))
                      LIMIT 1000000) AS behind) AS l
      WHERE c.name = $1`,
    [projection.name, after.transactionId, after.globalPosition, types],
  );
}

/**
 * One pass for one projection: take or renew the lease, read one batch after the checkpoint and
 * apply it. `store.db` must be the root client (reads go straight to the driver; the batch gets a
 * transaction of its own).
 */
export async function runProjectionStep(store: Store, projection: Projection, options: StepOptions): Promise<StepResult> {
  const batchSize = options.batchSize ?? RUNNER_BATCH_SIZE;
  const leaseSeconds = options.leaseSeconds ?? LEASE_SECONDS;
  let from = await lease(store.db, projection.name, options.owner, leaseSeconds);
  if (!from) {
    await ensureCheckpoints(store.db, [projection]);
    from = await lease(store.db, projection.name, options.owner, leaseSeconds);
  }
  if (!from) return { leased: false, applied: 0, caughtUp: false, failed: false };
  const startedAt = performance.now();
  // Trusted decode: validated on write; upcast payloads are validated, broken ones still fail.
  const { events } = await readAll(store, { after: from, limit: batchSize, eventTypes: projection.eventTypes, decode: "trusted" });
  if (events.length === 0) {
    await recordLag(store.db, projection, from, true);
    return { leased: true, applied: 0, caughtUp: true, failed: false };
  }
  try {
    await applyBatch(store, projection, options.owner, from, events, leaseSeconds, startedAt);
    const at = events.at(-1)!;
    const caughtUp = events.length < batchSize;
    await recordLag(store.db, projection, { transactionId: at.transactionId, globalPosition: at.globalPosition }, caughtUp);
    return { leased: true, applied: events.length, caughtUp, failed: false };
  } catch (error) {
    if (error instanceof LostLease) return { leased: false, applied: 0, caughtUp: false, failed: false };
    // Find the event that fails: apply one at a time, each with its checkpoint, up to it.
    let checkpoint = from;
    let applied = 0;
    for (const event of events) {
      try {
        await applyBatch(store, projection, options.owner, checkpoint, [event], leaseSeconds, performance.now());
        checkpoint = { transactionId: event.transactionId, globalPosition: event.globalPosition };
        applied++;
      } catch (single) {
        if (single instanceof LostLease) return { leased: false, applied, caughtUp: false, failed: false };
        await recordFailure(store.db, projection.name, single, event);
        return { leased: true, applied, caughtUp: false, failed: true };
      }
    }
    // The batch failed but every event applied alone: a transient failure, already behind us.
    return { leased: true, applied, caughtUp: false, failed: false };
  }
}

export type RunnerHandle = {
  /** Runs a pass now instead of at the next poll (the append notification calls this). */
  wake(): void;
  /** Resolves when the loop has stopped (after the signal aborts) and the leases are released. */
  done: Promise<void>;
};

export type RunnerOptions = {
  pollMs: number;
  signal: AbortSignal;
  owner?: string;
  batchSize?: number;
  leaseSeconds?: number;
  /** Told about passes that applied events and about failures (names and counts only). */
  log?: (line: string) => void;
};

/**
 * The loop: passes over every projection until the signal aborts. A projection with more to do
 * goes again at once; otherwise the loop sleeps pollMs or until wake(). A database outage backs
 * off (up to a minute) and the loop carries on by itself: it never needs a restart.
 */
export function startProjectionRunner(store: Store, projections: readonly Projection[], options: RunnerOptions): RunnerHandle {
  const owner = options.owner ?? newRunnerId();
  const log = options.log ?? (() => {});
  let wakeUp: (() => void) | null = null;
  let woken = false;
  const wake = () => {
    woken = true;
    wakeUp?.();
  };
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || options.signal.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        options.signal.removeEventListener("abort", done);
        wakeUp = null;
        resolve();
      }
      wakeUp = done;
      options.signal.addEventListener("abort", done, { once: true });
    });

  const loop = async () => {
    let failures = 0;
    let ensured = false;
    while (!options.signal.aborted) {
      woken = false;
      let more = false;
      try {
        if (!ensured) {
          await ensureCheckpoints(store.db, projections);
          ensured = true;
        }
        for (const projection of projections) {
          if (options.signal.aborted) break;
          const step = await runProjectionStep(store, projection, { owner, batchSize: options.batchSize, leaseSeconds: options.leaseSeconds });
          if (step.applied > 0) log(`projection ${projection.name}: applied ${step.applied} events${step.caughtUp ? "" : " (more to do)"}`);
          if (step.failed) log(`projection ${projection.name}: failed; retrying at the next pass`);
          if (step.leased && !step.caughtUp && !step.failed) more = true;
        }
        failures = 0;
      } catch (error) {
        failures++;
        log(`projections: pass failed (${errorSummary(error)})`);
      }
      if (more) continue;
      await sleep(loopPauseMs(options.pollMs, failures));
    }
    await releaseLeases(store.db, owner).catch(() => {});
  };
  return { wake, done: loop() };
}
