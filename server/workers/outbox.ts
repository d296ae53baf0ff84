// The transactional outbox's publisher: claim due rows, publish their events to in-process
// handlers and the external bus, mark them done, or schedule a retry / dead-letter them.
//
// Claim by lease. One statement (its own short transaction) picks due rows with
// FOR UPDATE SKIP LOCKED and pushes their next_retry_at a lease ahead; its row locks end with it.
// Publishing then runs with no lock and no transaction open, and each row is finally marked
// processed, or failed with backoff. Why this is safe with several workers:
// - two claims never take the same row: a row locked by one is skipped by the other, and once
//   the first commits the row is no longer due (next_retry_at is in the future), which the
//   other's FOR UPDATE re-checks on the new row version;
// - at-least-once, not exactly-once: a worker that dies (or outlives the lease) after publishing
//   but before marking leaves the row due again when the lease ends, and it is published again.
//   So every consumer, in-process or on the bus, must dedupe by event id (metadata.eventId, the
//   AMQP messageId);
// - marks are guarded (processed_at IS NULL), so a late worker never undoes another's outcome.
// Order: a batch is published in global position order, but a retried row is published after
// rows behind it; consumers that care about order use the stream version.
import { eventColumns, pgErrorInfo, selectEvents, type Store, type StoredEvent } from "../eventStore";
import { componentLogger } from "../log";
import { recordPublished, recordPublishFailures } from "../metrics/registry";

/** An in-process consumer. Runs at least once per event: dedupe by event.metadata.eventId. */
export type OutboxHandler = (event: StoredEvent) => Promise<void>;

/** In-process consumers by event type. */
export type HandlerRegistry = Map<string, OutboxHandler[]>;

export function addHandler(registry: HandlerRegistry, eventType: string, handler: OutboxHandler): HandlerRegistry {
  registry.set(eventType, [...(registry.get(eventType) ?? []), handler]);
  return registry;
}

/** The external bus: resolves once the broker has taken the event (publisher confirm). */
export type Bus = {
  /** Connects when needed; rejects when the broker cannot be reached. */
  ready(): Promise<void>;
  publish(event: StoredEvent): Promise<void>;
  close(): Promise<void>;
};

export type OutboxDeps = {
  store: Store;
  handlers: HandlerRegistry;
  /** Absent or null: in-process handlers only. */
  bus?: Bus | null;
};

export type DrainOptions = {
  batchSize: number;
  /** Attempts before a row is dead-lettered (the seed uses 5). */
  maxAttempts: number;
  /** The clock for due checks and schedules; default: the database's now(). */
  now?: Date;
  /** How long a claim keeps a row from other workers while it is being published. */
  leaseMs?: number;
  /** [0, 1) source for the backoff jitter (tests fix it). */
  random?: () => number;
};

export type DrainResult = { claimed: number; published: number; retried: number; deadLettered: number };

export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 5 * 60_000;
export const DEFAULT_LEASE_MS = 60_000;

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^(attempt-1))). */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/**
 * How long a background loop (the outbox's, the projections', the sealer's) waits after `failures`
 * passes in a row failed: `everyMs` doubled per failure, at most a minute; `everyMs` when none did.
 */
export function loopPauseMs(everyMs: number, failures: number): number {
  return failures > 0 ? Math.min(60_000, everyMs * 2 ** Math.min(failures, 10)) : everyMs;
}

/**
 * What is kept of a failure: its name, code and the first line of its message, short. Never the
 * event or its payload; handlers must not put patient data in error messages either.
 */
export function errorSummary(error: unknown): string {
  const name = error instanceof Error ? error.name : typeof error;
  const info = pgErrorInfo(error);
  const own = (error as { code?: unknown } | null)?.code;
  // SQLSTATEs from the database, or Node's and amqplib's own codes (ECONNREFUSED, 504).
  const code = info.code ?? (typeof own === "string" || typeof own === "number" ? String(own).slice(0, 40) : undefined);
  const message = info.message;
  const firstLine = (message.split("\n")[0] ?? "").trim().slice(0, 160);
  return `${name}${code ? ` [${code}]` : ""}: ${firstLine}`.slice(0, 200);
}

type ClaimedRow = { id: bigint | string | number; event_id: string; attempts: number };

async function claim(store: Store, options: DrainOptions): Promise<{ id: number; eventId: string; attempts: number }[]> {
  const rows = await store.sql<ClaimedRow>(
    `WITH due AS (
       SELECT id FROM outbox
        WHERE processed_at IS NULL AND dead_lettered_at IS NULL
          AND next_retry_at <= coalesce($1::timestamptz, now())
        ORDER BY id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     )
     UPDATE outbox o SET next_retry_at = coalesce($1::timestamptz, now()) + $3::integer * interval '1 millisecond'
       FROM due WHERE o.id = due.id
     RETURNING o.id, o.event_id::text AS event_id, o.attempts`,
    [options.now ?? null, options.batchSize, options.leaseMs ?? DEFAULT_LEASE_MS],
  );
  return rows.map((r) => ({ id: Number(r.id), eventId: r.event_id, attempts: r.attempts })).sort((a, b) => a.id - b.id);
}

const loadSql = `SELECT ${eventColumns} FROM events WHERE event_id = ANY ($1::uuid[]) ORDER BY global_position`;

/** The claimed rows' events; one that cannot be read or decoded becomes that row's failure only. */
async function load(outboxStore: Store, eventIds: string[]): Promise<Map<string, StoredEvent | Error>> {
  // The bus publishes PHI as stored (sealed): decoded events keep that form (bus.ts messageOf).
  const store: Store = { ...outboxStore, keepSealed: true };
  const byId = new Map<string, StoredEvent | Error>();
  try {
    for (const e of await selectEvents(store, loadSql, [eventIds])) byId.set(e.metadata.eventId, e);
  } catch {
    // A batch with an undecodable event: read them one by one to pin the failure on its row.
    for (const id of eventIds) {
      try {
        const [e] = await selectEvents(store, loadSql, [[id]]);
        if (e) byId.set(id, e);
      } catch (error) {
        byId.set(id, error as Error);
      }
    }
  }
  for (const id of eventIds) if (!byId.has(id)) byId.set(id, Object.assign(new Error("event not found"), { name: "EventNotFound" }));
  return byId;
}

async function publishToHandlers(handlers: HandlerRegistry, event: StoredEvent): Promise<void> {
  for (const handler of handlers.get(event.type) ?? []) await handler(event);
}

/** One pass: claim up to batchSize due rows, publish them, record each row's outcome. */
export async function drainOutbox(deps: OutboxDeps, options: DrainOptions): Promise<DrainResult> {
  const { store, handlers, bus } = deps;
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError("batchSize must be a whole number >= 1");
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) throw new RangeError("maxAttempts must be a whole number >= 1");
  // A broker outage is not the rows' fault: find it out before claiming, so it costs no attempts.
  if (bus) await bus.ready();

  const startedAt = performance.now();
  const rows = await claim(store, options);
  const result: DrainResult = { claimed: rows.length, published: 0, retried: 0, deadLettered: 0 };
  if (rows.length === 0) return result;

  const events = await load(store, rows.map((r) => r.eventId));
  const ordered = rows
    .map((row) => ({ row, event: events.get(row.eventId)! }))
    .sort((a, b) => positionOf(a.event) - positionOf(b.event) || a.row.id - b.row.id);

  // Handlers run one event at a time, in order; bus publishes are sent as we go and their
  // confirms awaited together, so a batch costs about one broker round trip.
  type Outcome = { row: (typeof rows)[number]; error: unknown };
  const pending: Promise<Outcome>[] = [];
  for (const { row, event } of ordered) {
    if (event instanceof Error) {
      pending.push(Promise.resolve({ row, error: event }));
      continue;
    }
    try {
      await publishToHandlers(handlers, event);
    } catch (error) {
      pending.push(Promise.resolve({ row, error: error ?? new Error("handler failed") }));
      continue;
    }
    const confirmed = bus ? bus.publish(event) : Promise.resolve();
    // Settled into an outcome here, so a rejection is never left unhandled while we go on.
    pending.push(confirmed.then(() => ({ row, error: undefined }), (error: unknown) => ({ row, error: error ?? new Error("publish failed") })));
  }
  const outcomes = await Promise.all(pending);

  const done = outcomes.filter((o) => o.error === undefined).map((o) => o.row.id);
  if (done.length > 0) {
    // The append-to-publish latency on the database's clock: created_at is the append's.
    const marked = await store.sql<{ latency: number | string }>(
      `UPDATE outbox SET processed_at = coalesce($2::timestamptz, now()), last_error = NULL
        WHERE id = ANY ($1::bigint[]) AND processed_at IS NULL
        RETURNING extract(epoch FROM clock_timestamp() - created_at)::float8 AS latency`,
      [done, options.now ?? null],
    );
    result.published = done.length;
    // With a fixed clock (tests) the latency means nothing: count the rows only.
    recordPublished(done.length, options.now ? [] : marked.map((r) => Number(r.latency)));
  }
  for (const { row, error } of outcomes) {
    if (error === undefined) continue;
    const attempts = row.attempts + 1;
    const dead = attempts >= options.maxAttempts;
    await store.sql(
      `UPDATE outbox SET attempts = $2, last_error = $3,
              next_retry_at = CASE WHEN $4::boolean THEN next_retry_at
                                   ELSE coalesce($5::timestamptz, now()) + $6::integer * interval '1 millisecond' END,
              dead_lettered_at = CASE WHEN $4::boolean THEN coalesce($5::timestamptz, now()) END
        WHERE id = $1 AND processed_at IS NULL AND dead_lettered_at IS NULL`,
      [row.id, attempts, errorSummary(error), dead, options.now ?? null, dead ? 0 : backoffMs(attempts, options.random)],
    );
    if (dead) result.deadLettered++;
    else result.retried++;
  }
  recordPublishFailures(result.retried, result.deadLettered);
  componentLogger("outbox").info({ ...result, durationMs: Math.round((performance.now() - startedAt) * 10) / 10 }, "outbox batch");
  return result;
}

function positionOf(event: StoredEvent | Error): number {
  return event instanceof Error ? Number.MAX_SAFE_INTEGER : event.globalPosition;
}
