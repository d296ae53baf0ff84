// The transactional outbox's worker, in two stages per pass. Stage one hands each row's event to
// the in-process handlers (the critical-result flag) and marks it handled; it never waits for the
// broker, so a RabbitMQ outage does not hold a critical lab result back from the chart. Stage two
// publishes handled rows to the external bus and marks them processed. Without a bus a handled row
// is processed at once.
//
// Claim by lease. Each stage's claim is one statement (its own short transaction) that picks due
// rows with FOR UPDATE SKIP LOCKED and pushes their next_retry_at a lease ahead; its row locks end
// with it. The work then runs with no lock and no transaction open, and each row is finally
// marked, or failed with backoff. Why this is safe with several workers:
// - two claims never take the same row: a row locked by one is skipped by the other, and once
//   the first commits the row is no longer due (next_retry_at is in the future), which the
//   other's FOR UPDATE re-checks on the new row version;
// - at-least-once, not exactly-once: a worker that dies (or outlives the lease) after the work
//   but before marking leaves the row due again when the lease ends, and it is done again.
//   So every consumer, in-process or on the bus, must dedupe by event id (metadata.eventId, the
//   AMQP messageId);
// - marks are guarded (handled_at / processed_at IS NULL), so a late worker never undoes another's
//   outcome; and a failure, a hold or a release is written only by the lease's holder (the lease
//   end its claim set is its token), so a late worker never cuts short or dead-letters the claim
//   of a worker still at work on the row.
// Order on the bus: a stream's events go out in the order they were appended. A row is claimed for
// the bus only when no earlier row of its stream is still waiting (not yet handled, backing off,
// leased to another worker, or dead-lettered: a dead letter holds its stream, as Axon's sequenced
// dead-letter queue does, until an admin puts it back in line); bus claims take a transaction
// advisory lock so two workers' claims cannot both see a stream's head as free; and within a batch
// a stream's events are published one after another, each after the broker confirmed the one
// before. Different streams go out in parallel, in no promised order. The in-process handlers run
// in global position order within a batch, but a retried row runs after rows behind it.
import { eventColumns, pgErrorInfo, selectEvents, type Store, type StoredEvent } from "../eventStore";
import { componentLogger } from "../log";
import { processId } from "../metrics/rollups";
import { recordPublished, recordPublishFailures } from "../metrics/registry";

/** An in-process consumer. Runs at least once per event: dedupe by event.metadata.eventId. */
export type OutboxHandler = (event: StoredEvent) => Promise<void>;

/** In-process consumers by event type. */
export type HandlerRegistry = Map<string, OutboxHandler[]>;

export function addHandler(registry: HandlerRegistry, eventType: string, handler: OutboxHandler): HandlerRegistry {
  registry.set(eventType, [...(registry.get(eventType) ?? []), handler]);
  return registry;
}

/**
 * The name of a publish's error when the broker's confirm did not come in time (it stopped
 * answering): the bus's state, not the message's, so it costs the row no attempt.
 */
export const CONFIRM_TIMEOUT = "ConfirmTimeout";

/**
 * The name of a publish's error when the connection to the broker was lost before its confirm
 * came (a broker restart, a network cut, a missed heartbeat), or could not be opened again for it:
 * like CONFIRM_TIMEOUT, the bus's state, so it costs the row no attempt.
 */
export const CONNECTION_LOST = "BusConnectionLost";

/**
 * The name of a publish's error when the broker closed the channel over this publisher or its
 * exchange (no permission to write, the exchange gone), not over the message (bus.ts
 * refusedChannel): the bus's state, so it costs the row no attempt either.
 */
export const BUS_REFUSED = "BrokerRefusedPublisher";

/**
 * The name of a publish's error when the broker closed the channel over a message (406: larger
 * than max_message_size): the message's failure, counted against its row, unless other publishes
 * were in flight on the channel, each failed with the same reason (see publishStage).
 */
export const CHANNEL_CLOSED = "BrokerChannelClosed";

/** Publish errors that say the broker is away or refuses this publisher, not that it refused the message. */
const BUS_AWAY = new Set<unknown>([CONFIRM_TIMEOUT, CONNECTION_LOST, BUS_REFUSED]);

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
  /**
   * Events stage one read and handled, kept for stage two in the same process so that it need not
   * read them again (runOutboxLoop passes one; bounded, oldest dropped first).
   */
  handledEvents?: Map<string, StoredEvent>;
  /** This process in outbox_publishers (default: the metrics' process id); tests name two. */
  processId?: string;
};

/**
 * Workers that publish say so in outbox_publishers (a heartbeat at most every 30 s). A worker
 * without a bus that sees one within this many seconds runs the handlers only and leaves the rows
 * to them: started without AMQP_URL beside workers with it, it used to mark its share of every
 * stream processed without publishing it, and consumers never saw those events. With no
 * publisher seen that long (RabbitMQ removed), it finishes the rows itself, as without a bus.
 */
export const PUBLISHER_FRESH_SECONDS = 300;
const HEARTBEAT_EVERY_MS = 30_000;
// The throttles below measure intervals on the steady clock (performance.now(), or the options'
// monotonicNow), never on Date.now(): the wall clock steps (an NTP step, a VM resumed), and one
// stepped back by X kept each throttle shut for X, so a publisher's heartbeat stopped and, five
// minutes on, workers without a bus took it for gone and marked rows processed unpublished. What is
// written to the database, or compared with its times, stays on the database's clock (now()).
// Per database, per process id: when (steady clock) this process last said it publishes.
const lastHeartbeat = new WeakMap<object, Map<string, number>>();
// Per database, per process id: the last answer to "does another process publish?", and when (steady clock).
const othersAnswer = new WeakMap<object, Map<string, { others: boolean; at: number }>>();
let lastLeftWarning: number | undefined;
// Per database, per process id: when (steady clock) a worker without a bus last looked for handled, unpublished rows.
const lastSwept = new WeakMap<object, Map<string, number>>();

const steadyNow = (options: Pick<DrainOptions, "monotonicNow">): number => (options.monotonicNow ? options.monotonicNow() : performance.now());

/** Whether `everyMs` has passed on the steady clock since `last` (true when there was none). */
const elapsed = (now: number, last: number | undefined, everyMs: number): boolean => last === undefined || now - last >= everyMs;

function sweepDue(deps: OutboxDeps, options: DrainOptions): boolean {
  const times = timesOf(lastSwept, deps);
  const me = deps.processId ?? processId;
  const now = steadyNow(options);
  if (!elapsed(now, times.get(me), options.sweepEveryMs ?? 0)) return false;
  times.set(me, now);
  return true;
}

function timesOf<T>(map: WeakMap<object, Map<string, T>>, deps: OutboxDeps): Map<string, T> {
  let times = map.get(deps.store.db);
  if (!times) map.set(deps.store.db, (times = new Map()));
  return times;
}

/**
 * Said before the broker is asked, not after it answered: the row means "a worker here has a bus
 * and will publish", which a broker outage does not change. Said only once connected, it stopped
 * with the outage, and five minutes into one a worker without a bus took the publishers for gone
 * and marked the backlog, and every row appended after, processed without publishing.
 */
async function heartbeat(deps: OutboxDeps, options: DrainOptions): Promise<void> {
  const times = timesOf(lastHeartbeat, deps);
  const me = deps.processId ?? processId;
  const now = steadyNow(options);
  if (!elapsed(now, times.get(me), HEARTBEAT_EVERY_MS)) return;
  times.set(me, now);
  await deps.store.sql(
    `WITH gone AS (DELETE FROM outbox_publishers WHERE seen_at < now() - interval '1 day')
     INSERT INTO outbox_publishers (process_id, seen_at) VALUES ($1, now())
     ON CONFLICT (process_id) DO UPDATE SET seen_at = now()`,
    [deps.processId ?? processId],
  );
}

/**
 * Whether another process published within PUBLISHER_FRESH_SECONDS. A yes is trusted for 10 s (a
 * mixed deployment asks six times a minute), a no for 2 s: a publisher that starts beside this
 * worker is seen within 2 s, while an idle bus-less worker polling every second asks every other
 * pass rather than every pass.
 */
async function othersPublish(deps: OutboxDeps, options: DrainOptions): Promise<boolean> {
  const answers = timesOf(othersAnswer, deps);
  const me = deps.processId ?? processId;
  const known = answers.get(me);
  if (known && !elapsed(steadyNow(options), known.at, known.others ? 10_000 : 2_000)) return known.others;
  const [row] = await deps.store.sql<{ others: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM outbox_publishers
                     WHERE process_id <> $1 AND seen_at > now() - $2::integer * interval '1 second') AS others`,
    [me, PUBLISHER_FRESH_SECONDS],
  );
  const others = row?.others === true;
  const at = steadyNow(options);
  answers.set(me, { others, at });
  if (others && elapsed(at, lastLeftWarning, PUBLISHER_FRESH_SECONDS * 1000)) {
    lastLeftWarning = at;
    componentLogger("outbox").warn(
      {},
      "this worker has no AMQP_URL while other workers publish to RabbitMQ: it runs the in-process handlers only and leaves publishing to them",
    );
  }
  return others;
}

/** How many handled events a loop keeps for its bus stage: a few batches' worth. */
const HANDLED_EVENTS_KEPT = 1_000;

export type DrainOptions = {
  batchSize: number;
  /** Attempts before a row is dead-lettered (the seed uses 5). */
  maxAttempts: number;
  /**
   * The wall clock for due checks and schedules, written to and compared with the database's
   * times; default: the database's now().
   */
  now?: Date;
  /**
   * The steady clock (milliseconds, any origin, never stepping back) for this process's throttles:
   * its publisher heartbeat, its cached "does another worker publish?" and sweepEveryMs. Default:
   * performance.now(). Tests step it; it is never written to the database.
   */
  monotonicNow?: () => number;
  /** How long a claim keeps a row from other workers while it is being published. */
  leaseMs?: number;
  /** [0, 1) source for the backoff jitter (tests fix it). */
  random?: () => number;
  /**
   * Stage one only, handled rows left for the bus (the worker's loop runs stage two in a loop of
   * its own, publishOutbox). Without a bus it changes nothing.
   */
  skipBus?: boolean;
  /**
   * Without a bus: look for rows handled and left unpublished by a worker that had one at most this
   * often (the worker's loop passes 30 s; default: every pass, as the cron route and tests want).
   */
  sweepEveryMs?: number;
};

export type DrainResult = {
  /** Rows the in-process handlers were done with this pass (or that had none to run). */
  handled: number;
  /** Rows taken by the stage that finishes them: the bus's claim, or the handlers' without a bus. */
  claimed: number;
  /** Rows finished: confirmed by the broker, or handled when there is no bus. */
  published: number;
  retried: number;
  deadLettered: number;
  /** The bus could not be reached (its error, summarised): handled rows wait for it, no attempt counted. */
  busUnavailable?: string;
};

export const BACKOFF_BASE_MS = 2_000;
export const BACKOFF_GROWTH = 4;
export const BACKOFF_CAP_MS = 5 * 60_000;
export const DEFAULT_LEASE_MS = 60_000;

/**
 * Exponential backoff with equal jitter: uniform in [w/2, w), w = min(cap, base * growth^(attempt-1)),
 * so after the 1st to 4th failures 1-2 s, 4-8 s, 16-32 s and 64-128 s. The five tries (the seed's)
 * then span 85 to 170 s: a failure shorter than that (a handler's dependency restarting, a full
 * queue, a database failover) never dead-letters. With full jitter from 1 s doubling, they spanned
 * at most 15 s (7.5 s on average), and a twenty-second outage dead-lettered the head of every
 * record it touched. The bus being away costs no try at all.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const window = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * BACKOFF_GROWTH ** Math.max(0, attempt - 1));
  return Math.floor(window / 2 + random() * (window / 2));
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

type Num = bigint | string | number;
type ClaimedRow = {
  id: Num;
  event_id: string;
  stream_id: string;
  global_position: Num;
  attempts: number;
  failed_before: boolean;
  handled: boolean;
  latency: Num;
  /** The lease this claim set (next_retry_at, microseconds since the epoch): its token. */
  lease_until_us?: Num | null;
};
/** failedBefore: tried and failed before (an admin's retry of a dead letter keeps its last error). */
type Claimed = {
  id: number;
  eventId: string;
  streamId: string;
  position: number;
  attempts: number;
  failedBefore: boolean;
  handled: boolean;
  latency: number;
  /** The claim's lease end (microseconds since the epoch, as a string: exact); null from a schema before the bus claim returned it. */
  leaseUntil: string | null;
};

// What a claim returns of each row; latency (append to now, on the database's clock) is for rows
// the claim itself finished.
const returned = `o.id, o.event_id::text AS event_id, o.stream_id, o.global_position, o.attempts,
  o.last_error IS NOT NULL AS failed_before, o.handled_at IS NOT NULL AS handled,
  extract(epoch FROM clock_timestamp() - o.created_at)::float8 AS latency,
  (extract(epoch FROM o.next_retry_at) * 1000000)::bigint AS lease_until_us`;

const claimed = (rows: ClaimedRow[]): Claimed[] =>
  rows
    .map((r) => ({
      id: Number(r.id),
      eventId: r.event_id,
      streamId: r.stream_id,
      position: Number(r.global_position),
      attempts: r.attempts,
      failedBefore: r.failed_before,
      handled: r.handled,
      latency: Number(r.latency),
      leaseUntil: r.lease_until_us == null ? null : String(r.lease_until_us),
    }))
    .sort((a, b) => a.position - b.position || a.id - b.id);

/**
 * Stage one's claim: rows not yet handled. A row whose type has no handler is marked handled in
 * the same statement (and processed, without a bus): most events have none, and they cost no
 * second round trip. The others are leased and returned with handled = false.
 */
async function claimForHandlers(store: Store, options: DrainOptions, handlerTypes: string[], leaveForBus: boolean): Promise<Claimed[]> {
  const rows = await store.sql<ClaimedRow>(
    `WITH due AS (
       SELECT id FROM outbox
        WHERE handled_at IS NULL AND processed_at IS NULL AND dead_lettered_at IS NULL
          AND next_retry_at <= coalesce($1::timestamptz, now())
        ORDER BY id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     )
     UPDATE outbox o
        SET handled_at = CASE WHEN o.event_type = ANY ($4::text[]) THEN NULL ELSE coalesce($1::timestamptz, now()) END,
            processed_at = CASE WHEN o.event_type = ANY ($4::text[]) OR $5::boolean THEN NULL ELSE coalesce($1::timestamptz, now()) END,
            next_retry_at = coalesce($1::timestamptz, now())
                            + CASE WHEN o.event_type = ANY ($4::text[]) THEN $3::integer * interval '1 millisecond' ELSE interval '0' END
       FROM due WHERE o.id = due.id
     RETURNING ${returned}`,
    [options.now ?? null, options.batchSize, options.leaseMs ?? DEFAULT_LEASE_MS, handlerTypes, leaveForBus],
  );
  return claimed(rows);
}

/**
 * Stage two's claim (the migration's outbox_claim_for_bus): handled rows that are due and first in
 * their stream's line, no earlier row of the stream waiting for anything this claim does not also
 * take; one claim at a time, under an advisory lock held for the claim only.
 */
async function claimForBus(store: Store, options: DrainOptions): Promise<Claimed[]> {
  const rows = await store.sql<ClaimedRow>(`SELECT * FROM outbox_claim_for_bus($1::timestamptz, $2::integer, $3::integer)`, [
    options.now ?? null,
    options.batchSize,
    options.leaseMs ?? DEFAULT_LEASE_MS,
  ]);
  return claimed(rows);
}

const loadSql = `SELECT ${eventColumns} FROM events WHERE event_id = ANY ($1::uuid[]) ORDER BY global_position`;

/**
 * The claimed rows' events; one that cannot be read or decoded becomes that row's failure only.
 * Decoded events keep the form they were stored in: the bus publishes PHI as stored (sealed,
 * bus.ts messageOf), the handlers read the opened payload.
 */
async function load(outboxStore: Store, eventIds: string[]): Promise<Map<string, StoredEvent | Error>> {
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

type Failure = { row: Claimed; error: unknown };

/**
 * A late worker's marks stop at another worker's lease: a failure, a hold or a release is written
 * only while next_retry_at is still the lease this worker's claim set (`l.lease_us`; null from a
 * schema whose bus claim did not return it, as before). A worker that outlived its lease wrote
 * over the row another had claimed since: counted an attempt, cut that lease short (a third worker
 * took the row too, and a stream's line could go out of order) or dead-lettered the row under it.
 * Successes are not guarded: the work was done, and their marks already take only unfinished rows.
 */
const leaseHeld = `(l.lease_us IS NULL OR (extract(epoch FROM o.next_retry_at) * 1000000)::bigint = l.lease_us)`;

/** Stage two's events: those stage one kept, the others read (as stored, for the bus). */
async function loadForBus(deps: OutboxDeps, eventIds: string[]): Promise<Map<string, StoredEvent | Error>> {
  const kept = deps.handledEvents;
  const found = new Map<string, StoredEvent | Error>();
  const missing: string[] = [];
  for (const id of eventIds) {
    const event = kept?.get(id);
    if (event) {
      kept!.delete(id);
      found.set(id, event);
    } else {
      missing.push(id);
    }
  }
  if (missing.length > 0) for (const [id, event] of await load(deps.store, missing)) found.set(id, event);
  return found;
}

/**
 * Attempts counted, a retry scheduled with backoff, or the row dead-lettered after maxAttempts.
 * A handler's failure counts only while the row is still unhandled: a worker that outlived its
 * lease (a handler slower than leaseMs) found another worker had handled the row meanwhile, and
 * its failure then pushed the row, waiting for the bus, back by a backoff, counted an attempt
 * against the bus, or dead-lettered it as a bus failure, holding its stream until an admin came.
 */
async function recordFailures(store: Store, failures: Failure[], options: DrainOptions, result: DrainResult, stage: "handlers" | "bus"): Promise<void> {
  for (const { row, error } of failures) {
    const attempts = row.attempts + 1;
    const dead = attempts >= options.maxAttempts;
    const marked = await store.sql(
      `UPDATE outbox o SET attempts = $2, last_error = $3,
              next_retry_at = CASE WHEN $4::boolean THEN o.next_retry_at
                                   ELSE coalesce($5::timestamptz, now()) + $6::integer * interval '1 millisecond' END,
              dead_lettered_at = CASE WHEN $4::boolean THEN coalesce($5::timestamptz, now()) END
          FROM (SELECT $8::bigint AS lease_us) l
        WHERE o.id = $1 AND ${leaseHeld} AND o.processed_at IS NULL AND o.dead_lettered_at IS NULL AND (o.handled_at IS NULL OR NOT $7::boolean)
        RETURNING o.id`,
      [row.id, attempts, errorSummary(error), dead, options.now ?? null, dead ? 0 : backoffMs(attempts, options.random), stage === "handlers", row.leaseUntil],
    );
    // Another worker finished the row meanwhile: no retry or dead letter to count (nor to put in
    // emr_outbox_publish_failures_total, whose dead_lettered outcome would say one was made).
    if (marked.length === 0) continue;
    if (dead) result.deadLettered++;
    else result.retried++;
  }
}

/** Rows finished: counted, and their append-to-finish latency (database clock) into the metrics. */
function finished(result: DrainResult, count: number, latencies: number[], options: DrainOptions): void {
  result.published += count;
  // With a fixed clock (tests) the latency means nothing: count the rows only.
  if (count > 0) recordPublished(count, options.now ? [] : latencies);
}

/**
 * Done with these rows: `published` when the broker confirmed them. A confirm can come after the
 * lease ran out and another worker dead-lettered the row: it went out all the same, so it is no
 * dead letter (an admin's retry would send a second copy, and a processed dead letter reads as
 * "set aside, never published"). Without a bus, a row dead-lettered meanwhile is left to the admin.
 */
async function markProcessed(store: Store, ids: number[], published: boolean, options: DrainOptions, result: DrainResult): Promise<void> {
  if (ids.length === 0) return;
  const marked = await store.sql<{ latency: number | string }>(
    `UPDATE outbox SET processed_at = coalesce($2::timestamptz, now()), last_error = NULL, dead_lettered_at = NULL
      WHERE id = ANY ($1::bigint[]) AND processed_at IS NULL AND ($3::boolean OR dead_lettered_at IS NULL)
      RETURNING extract(epoch FROM clock_timestamp() - created_at)::float8 AS latency`,
    [ids, options.now ?? null, published],
  );
  // Rows another worker finished meanwhile (this one's lease ran out) are not counted again.
  finished(result, marked.length, marked.map((r) => Number(r.latency)), options);
}

/** Stage one: the in-process handlers. `leaveForBus`: handled rows wait for a bus (this worker's or others'). */
async function handleStage(deps: OutboxDeps, options: DrainOptions, leaveForBus: boolean, result: DrainResult): Promise<void> {
  const { store, handlers } = deps;
  const rows = await claimForHandlers(store, options, [...handlers.keys()], leaveForBus);
  if (!leaveForBus) result.claimed += rows.length;
  const passed = rows.filter((r) => r.handled);
  result.handled += passed.length;
  if (!leaveForBus) finished(result, passed.length, passed.map((r) => r.latency), options);
  const todo = rows.filter((r) => !r.handled);
  if (todo.length === 0) return;

  const events = await load(store, todo.map((r) => r.eventId));
  const done: number[] = [];
  const failures: Failure[] = [];
  const kept = deps.bus ? deps.handledEvents : undefined;
  for (const row of todo) {
    const event = events.get(row.eventId)!;
    try {
      if (event instanceof Error) throw event;
      for (const handler of handlers.get(event.type) ?? []) await handler(event);
      done.push(row.id);
      if (kept) {
        kept.set(row.eventId, event);
        if (kept.size > HANDLED_EVENTS_KEPT) kept.delete(kept.keys().next().value!);
      }
    } catch (error) {
      failures.push({ row, error: error ?? new Error("handler failed") });
    }
  }
  if (done.length > 0) {
    // Handled: due for the bus at once, with the bus's own tries (attempts start again).
    const marked = await store.sql<{ latency: number | string }>(
      `UPDATE outbox SET handled_at = coalesce($2::timestamptz, now()), attempts = 0, last_error = NULL,
              next_retry_at = coalesce($2::timestamptz, now()),
              processed_at = CASE WHEN $3::boolean THEN NULL ELSE coalesce($2::timestamptz, now()) END
        WHERE id = ANY ($1::bigint[]) AND handled_at IS NULL AND dead_lettered_at IS NULL
        RETURNING extract(epoch FROM clock_timestamp() - created_at)::float8 AS latency`,
      [done, options.now ?? null, leaveForBus],
    );
    // Rows another worker handled meanwhile (this one's handler outlived its lease) are not counted again.
    result.handled += marked.length;
    if (!leaveForBus) finished(result, marked.length, marked.map((r) => Number(r.latency)), options);
  }
  await recordFailures(store, failures, options, result, "handlers");
}

/** Which of the claimed rows, tried before, last failed by a channel the broker closed over a message. */
async function closedTheChannel(store: Store, rows: Claimed[]): Promise<Set<number>> {
  const tried = rows.filter((r) => r.failedBefore).map((r) => r.id);
  if (tried.length === 0) return new Set();
  const found = await store.sql<{ id: bigint | number }>(`SELECT id FROM outbox WHERE id = ANY ($1::bigint[]) AND starts_with(last_error, $2)`, [tried, CHANNEL_CLOSED]);
  return new Set(found.map((r) => Number(r.id)));
}

/**
 * Stage two: the bus. A batch holds only rows first in their stream's line (the claim), and a
 * stream's rows are sent in order on the one channel, which the broker keeps: published together,
 * they are confirmed together, about one round trip for the batch. A row that failed before is
 * sent alone (one last failed by a channel the broker closed, with nothing else in flight, after the
 * batch's other rows): the rest of its stream goes only once the broker has taken it, and waits
 * behind it again (no attempt counted) when it fails anew, so a message the broker keeps refusing
 * holds its stream. The one exception to stream order: a first refusal (a nack) of a row while a later row
 * of its stream, sent with it, is taken (README "Consuming `emr.events`"). A row whose event cannot
 * be read holds the rest of its stream the same way.
 */
async function publishStage(deps: OutboxDeps & { bus: Bus | null }, options: DrainOptions, result: DrainResult): Promise<void> {
  const { store, bus } = deps;
  const rows = await claimForBus(store, options);
  result.claimed += rows.length;
  if (rows.length === 0) return;
  if (!bus) {
    // Handled by a worker that has a bus (or set aside by an admin, who leaves this to the workers),
    // never published: AMQP_URL removed since (then this is the way out), or a worker started
    // without it beside ones that have it, which takes its share of every stream off the bus with
    // nothing else to show for it. Said, every time.
    componentLogger("outbox").warn(
      { unpublished: rows.length },
      "outbox rows handled by a worker with a message bus (or set aside by an admin after failing in the handlers) marked processed WITHOUT publishing: this worker has no AMQP_URL; if other workers publish to RabbitMQ, set it here too (consumers miss these events)",
    );
    await markProcessed(store, rows.map((r) => r.id), false, options, result);
    return;
  }

  const events = await loadForBus(deps, rows.map((r) => r.eventId));
  const lines = new Map<string, Claimed[]>();
  for (const row of rows) {
    const line = lines.get(row.streamId);
    if (line) line.push(row);
    else lines.set(row.streamId, [row]);
  }
  const done: number[] = [];
  const held: Claimed[] = [];
  const failures: Failure[] = [];
  // Rows whose publish overlapped another's: when the broker closes the channel, every publish in
  // flight on it fails with the same reason, and only one of them may have been the cause.
  const inFlight = new Set<number>();
  const overlapped = new Set<number>();
  const send = (row: Claimed, event: StoredEvent): Promise<boolean> => {
    if (inFlight.size > 0) for (const id of [...inFlight, row.id]) overlapped.add(id);
    inFlight.add(row.id);
    return bus.publish(event).then(
      () => (inFlight.delete(row.id), done.push(row.id), true),
      (error: unknown) => (inFlight.delete(row.id), failures.push({ row, error: error ?? new Error("publish failed") }), false),
    );
  };
  /** A line's rows in order; true when all went out (else the rest is held behind the failure). */
  const sendLine = async (line: Claimed[]): Promise<boolean> => {
    const sent: Promise<boolean>[] = [];
    for (const [i, row] of line.entries()) {
      const event = events.get(row.eventId)!;
      const alone = row.failedBefore || event instanceof Error;
      // Sent alone only once the rows before it were taken: one of them refused, it waits
      // behind that one (it was going out after an earlier row of its stream the broker refused).
      if (alone && !(await Promise.all(sent)).every(Boolean)) {
        held.push(...line.slice(i));
        return false;
      }
      const ok = event instanceof Error ? (failures.push({ row, error: event }), false) : alone ? await send(row, event) : (sent.push(send(row, event)), true);
      if (!ok) {
        held.push(...line.slice(i + 1));
        await Promise.all(sent);
        return false;
      }
    }
    return (await Promise.all(sent)).every(Boolean);
  };
  // Rows last failed by a channel the broker closed while other publishes were in flight on it
  // (below) go out one line at a time after the rest, each with nothing else in flight: then the
  // message the broker closes the channel over is charged alone. Up to them, lines go out together.
  const suspects = await closedTheChannel(store, rows);
  const later: Claimed[][] = [];
  await Promise.all(
    [...lines.values()].map(async (line) => {
      const suspect = line.findIndex((r) => suspects.has(r.id));
      const first = suspect < 0 ? line : line.slice(0, suspect);
      const rest = line.slice(first.length);
      if (first.length > 0 && !(await sendLine(first))) held.push(...rest);
      else if (rest.length > 0) later.push(rest);
    }),
  );
  for (const [i, line] of later.entries()) {
    // The broker away or refusing this publisher: the rest wait for the next pass, at no cost.
    if (failures.some((f) => BUS_AWAY.has((f.error as { name?: unknown } | null)?.name))) {
      held.push(...later.slice(i).flat());
      break;
    }
    await sendLine(line);
  }
  await markProcessed(store, done, true, options, result);
  // No confirm in time: the broker stopped answering (a resource alarm blocks publishers, a wedged
  // node), whatever the message; or the connection was lost before the confirm came (a broker
  // restart, a network cut). Like a refused connection it costs no attempt (five such passes
  // dead-lettered every stream's head within two minutes of a disk alarm, each then holding its
  // stream until an admin put it back; a lost connection counted as the broker's refusal did the
  // same in five cuts); the rows are back in line at once, first of their streams (last_error set:
  // sent alone next time), and the stage reports the bus unavailable so that its loop backs off.
  // The same when the broker refuses this publisher (a write permission missing, the exchange
  // deleted: BUS_REFUSED), whatever the message.
  const silent = failures.filter((f) => BUS_AWAY.has((f.error as { name?: unknown } | null)?.name));
  if (silent.length > 0) {
    result.busUnavailable = errorSummary(silent[0]!.error);
    const rows = silent.map((f) => f.row);
    await store.sql(
      `UPDATE outbox o SET last_error = $4, next_retry_at = coalesce($3::timestamptz, now())
         FROM unnest($1::bigint[], $2::bigint[]) AS l(id, lease_us)
        WHERE o.id = l.id AND ${leaseHeld} AND o.processed_at IS NULL AND o.dead_lettered_at IS NULL`,
      [rows.map((r) => r.id), rows.map((r) => r.leaseUntil), options.now ?? null, result.busUnavailable],
    );
    failures.splice(0, failures.length, ...failures.filter((f) => !silent.includes(f)));
  }
  // A channel the broker closed over a message fails every publish in flight on it: charged to
  // each, one message the broker never takes cost every row sent beside it a try on every pass,
  // until all were dead-lettered with it. Rows that were not alone on the channel are charged
  // nothing and go back in line at once, last error set, so that they go out alone next time:
  // then the message the broker refuses is the one charged, and the others go out.
  const unsure = failures.filter((f) => (f.error as { name?: unknown } | null)?.name === CHANNEL_CLOSED && overlapped.has(f.row.id));
  if (unsure.length > 0) {
    await store.sql(
      `UPDATE outbox o SET last_error = l.error, next_retry_at = coalesce($3::timestamptz, now())
         FROM unnest($1::bigint[], $2::bigint[], $4::text[]) AS l(id, lease_us, error)
        WHERE o.id = l.id AND ${leaseHeld} AND o.processed_at IS NULL AND o.dead_lettered_at IS NULL`,
      [unsure.map((f) => f.row.id), unsure.map((f) => f.row.leaseUntil), options.now ?? null, unsure.map((f) => errorSummary(f.error))],
    );
    failures.splice(0, failures.length, ...failures.filter((f) => !unsure.includes(f)));
  }
  if (held.length > 0) {
    // Their lease ends now; they go out after the failed row, which holds its stream until then.
    await store.sql(
      `UPDATE outbox o SET next_retry_at = coalesce($3::timestamptz, now())
         FROM unnest($1::bigint[], $2::bigint[]) AS l(id, lease_us)
        WHERE o.id = l.id AND ${leaseHeld} AND o.processed_at IS NULL`,
      [held.map((r) => r.id), held.map((r) => r.leaseUntil), options.now ?? null],
    );
  }
  await recordFailures(store, failures, options, result, "bus");
}

function checkOptions(options: DrainOptions): void {
  if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError("batchSize must be a whole number >= 1");
  if (!Number.isInteger(options.maxAttempts) || options.maxAttempts < 1) throw new RangeError("maxAttempts must be a whole number >= 1");
}

const noRows = (): DrainResult => ({ handled: 0, claimed: 0, published: 0, retried: 0, deadLettered: 0 });

/** Metrics and the one log line of a pass that moved something; an idle pass says nothing. */
function report(result: DrainResult, startedAt: number): DrainResult {
  recordPublishFailures(result.retried, result.deadLettered);
  if (result.handled + result.claimed > 0) {
    const { busUnavailable: _reported, ...counts } = result;
    componentLogger("outbox").info({ ...counts, durationMs: Math.round((performance.now() - startedAt) * 10) / 10 }, "outbox batch");
  }
  return result;
}

/**
 * One pass: stage one (handlers) on up to batchSize rows, then stage two (the bus) on up to
 * batchSize handled rows, each row's outcome recorded. The bus unreachable is not the rows' fault:
 * it is found out before stage two claims anything, so it costs no attempts, and reported in
 * `busUnavailable` after the handlers have run. (The worker's loop runs the two stages apart, so
 * that handlers never wait for a broker's connect or confirm timeouts: runOutboxLoop.)
 */
export async function drainOutbox(deps: OutboxDeps, options: DrainOptions): Promise<DrainResult> {
  const { bus } = deps;
  checkOptions(options);
  const startedAt = performance.now();
  const result = noRows();
  // A worker with a bus says so whether or not the broker answers (see heartbeat).
  if (bus) await heartbeat(deps, options);
  // Without a bus of its own, a worker leaves the rows to the workers that publish, if any do.
  const others = bus ? false : await othersPublish(deps, options);
  await handleStage(deps, options, Boolean(bus) || others, result);
  if (!bus) {
    // Rows a worker with a bus handled and did not publish, none publishing for a while (AMQP_URL
    // removed), would otherwise wait forever: without a bus anywhere, handled is done. Such rows
    // come only from a deployment that changed, so the worker's loop looks at most every 30 s
    // (sweepEveryMs), and again at once while it finds some.
    if (!others && result.claimed < options.batchSize && sweepDue(deps, options)) {
      const before = result.claimed;
      await publishStage({ ...deps, bus: null }, options, result);
      if (result.claimed > before) timesOf(lastSwept, deps).delete(deps.processId ?? processId);
    }
  } else if (!options.skipBus) {
    try {
      await bus.ready();
    } catch (error) {
      result.busUnavailable = errorSummary(error);
    }
    if (!result.busUnavailable) await publishStage({ ...deps, bus }, options, result);
  }
  return report(result, startedAt);
}

/** The broker could not be reached: nothing was claimed, no attempt counted. */
export class BusUnavailableError extends Error {
  override name = "BusUnavailable";
}

/** Stage two alone (the bus's own loop): throws BusUnavailableError when the broker cannot be reached. */
export async function publishOutbox(deps: OutboxDeps & { bus: Bus }, options: DrainOptions): Promise<DrainResult> {
  checkOptions(options);
  await heartbeat(deps, options);
  try {
    await deps.bus.ready();
  } catch (error) {
    throw new BusUnavailableError(errorSummary(error), { cause: error });
  }
  const startedAt = performance.now();
  const result = noRows();
  await publishStage(deps, options, result);
  report(result, startedAt);
  // The broker stopped answering mid-batch: the loop backs off as when it cannot be reached.
  if (result.busUnavailable) throw new BusUnavailableError(result.busUnavailable);
  return result;
}
