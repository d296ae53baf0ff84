// Reading the log: one stream, the global log in commit order (gap-safe), and the audit
// look-ups by correlation, causation, type and time.
import { ValidationError } from "../errors";
import type { Store } from "./db";
import { decodeStored, preparePhi } from "./protect";
import type { EventMetadata, FoldEvent, LogCheckpoint, MetadataExtra, StoredEvent } from "./types";

type EventRow = {
  global_position: bigint;
  event_id: string;
  stream_id: string;
  aggregate_type: string;
  event_type: string;
  version: number;
  event_version: number;
  data: unknown;
  metadata: MetadataExtra;
  occurred_at: Date;
  recorded_at: Date;
  user_id: string;
  correlation_id: string;
  causation_id: string | null;
  transaction_id: string;
};

/** The select list that `selectEvents` decodes; other modules' queries over events use it too. */
export const eventColumns = `global_position, event_id::text AS event_id, stream_id, aggregate_type, event_type, version,
  event_version, data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id,
  transaction_id::text AS transaction_id`;

/**
 * How rows become events: "validated" upcasts and validates every payload against today's schema
 * (what people's screens and commands read); "trusted" is the bulk-read path (replays,
 * projections) that relies on the validation on write: see EventRegistry.decodeTrusted.
 */
export type DecodeMode = "validated" | "trusted";

function toStored(store: Store, row: EventRow, decode: DecodeMode = "validated"): StoredEvent {
  const metadata: EventMetadata = {
    eventId: row.event_id,
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
    userId: row.user_id,
    correlationId: row.correlation_id,
    causationId: row.causation_id,
    schemaVersion: row.event_version,
    extra: row.metadata ?? {},
  };
  return {
    type: row.event_type,
    data: decodeStored(store, row.event_type, row.event_version, row.data, decode, row.stream_id, row.event_id),
    streamId: row.stream_id,
    aggregateType: row.aggregate_type,
    version: row.version,
    globalPosition: Number(row.global_position),
    transactionId: row.transaction_id,
    metadata,
  };
}

/** Runs a query whose select list is `eventColumns` and decodes the rows (upcast + validate, or trusted). */
export async function selectEvents(store: Store, sql: string, params: readonly unknown[], decode: DecodeMode = "validated"): Promise<StoredEvent[]> {
  const rows = await store.sql<EventRow>(sql, params);
  await preparePhi(store, rows.map((r) => r.data));
  return rows.map((row) => toStored(store, row, decode));
}

function select(store: Store, where: string, params: unknown[], tail: string): Promise<StoredEvent[]> {
  return selectEvents(store, `SELECT ${eventColumns} FROM events WHERE ${where} ${tail}`, params);
}

function limitOf(value: number | undefined, fallback: number, max = 10_000): number {
  const n = value ?? fallback;
  if (!Number.isInteger(n) || n < 1 || n > max) throw new ValidationError(`limit must be 1..${max}, got ${n}`, "limit");
  return n;
}

export type ReadStreamOptions = {
  /** Lowest version to return (inclusive); default 1 (forwards) or the end (backwards). */
  fromVersion?: number;
  /** Highest version to return (inclusive). */
  toVersion?: number;
  direction?: "forwards" | "backwards";
  maxCount?: number;
  /** Only events recorded at or before this time: the stream as the system knew it then. */
  asOf?: Date;
};

export async function readStream(store: Store, streamId: string, options: ReadStreamOptions = {}): Promise<StoredEvent[]> {
  const params: unknown[] = [streamId];
  const where = ["stream_id = $1"];
  if (options.fromVersion !== undefined) {
    params.push(options.fromVersion);
    where.push(`version >= $${params.length}`);
  }
  if (options.toVersion !== undefined) {
    params.push(options.toVersion);
    where.push(`version <= $${params.length}`);
  }
  if (options.asOf) {
    params.push(options.asOf);
    where.push(`recorded_at <= $${params.length}`);
  }
  const order = options.direction === "backwards" ? "DESC" : "ASC";
  let tail = `ORDER BY version ${order}`;
  if (options.maxCount !== undefined) {
    params.push(limitOf(options.maxCount, 1, 1_000_000));
    tail += ` LIMIT $${params.length}`;
  }
  return select(store, where.join(" AND "), params, tail);
}

export type ReadByOccurrenceOptions = {
  /** Only events that occurred at or before this instant (millisecond precision). */
  occurredBy: Date;
  /** Only events recorded at or before this instant (millisecond precision). */
  recordedBy?: Date;
  /** Continue after this version's event in (occurred_at, version) order. */
  afterVersion?: number;
  maxCount: number;
};

/**
 * One stream in clinical order: by occurred_at, then version, up to an instant, optionally only
 * what was recorded by another: a page of a cursor over the (stream_id, occurred_at, version) index.
 */
export async function readStreamByOccurrence(store: Store, streamId: string, options: ReadByOccurrenceOptions): Promise<StoredEvent[]> {
  const params: unknown[] = [streamId, options.occurredBy, limitOf(options.maxCount, 1, 10_000)];
  // Dates cross as milliseconds while the columns hold microseconds: "at or before t" is "before t + 1 ms".
  const where = ["stream_id = $1", "occurred_at < $2::timestamptz + interval '1 millisecond'"];
  if (options.recordedBy) {
    params.push(options.recordedBy);
    where.push(`recorded_at < $${params.length}::timestamptz + interval '1 millisecond'`);
  }
  if (options.afterVersion !== undefined) {
    params.push(options.afterVersion);
    const v = `$${params.length}::integer`;
    where.push(`(occurred_at, version) > ((SELECT c.occurred_at FROM events c WHERE c.stream_id = $1 AND c.version = ${v}), ${v})`);
  }
  return select(store, where.join(" AND "), params, "ORDER BY occurred_at, version LIMIT $3");
}

/**
 * The stream's last version recorded at or before an instant (millisecond precision), 0 when none.
 * recorded_at never decreases along a stream, so "recorded by then" is a version prefix: a binary
 * search over versions on the (stream_id, version) index, in one statement (about 17 index probes
 * for 100,000 events), instead of scanning back over every event recorded after the instant.
 */
export async function versionRecordedBy(store: Pick<Store, "sql">, streamId: string, recordedBy: Date): Promise<number> {
  const [row] = await store.sql<{ v: number | null }>(
    `WITH RECURSIVE bs(lo, hi) AS (
       SELECT 0, coalesce((SELECT version FROM streams WHERE stream_id = $1),
                          (SELECT version FROM events WHERE stream_id = $1 ORDER BY version DESC LIMIT 1), 0)
       UNION ALL
       SELECT CASE WHEN p.ok THEN s.mid ELSE s.lo END, CASE WHEN p.ok THEN s.hi ELSE s.mid - 1 END
         FROM (SELECT lo, hi, (lo + hi + 1) / 2 AS mid FROM bs WHERE lo < hi) s
         CROSS JOIN LATERAL (
           SELECT coalesce((SELECT e.recorded_at < $2::timestamptz + interval '1 millisecond'
                              FROM events e WHERE e.stream_id = $1 AND e.version = s.mid), false) AS ok
         ) p
     )
     SELECT lo AS v FROM bs WHERE lo >= hi LIMIT 1`,
    [streamId, recordedBy],
  );
  return row?.v ?? 0;
}

export type ReadAllOptions = {
  /** Read strictly after this checkpoint; from the start when omitted. */
  after?: LogCheckpoint | null;
  limit?: number;
  eventTypes?: readonly string[];
  /** "trusted" for bulk readers (replays, projections); default "validated". */
  decode?: DecodeMode;
  /**
   * A horizon read before (`logReadHorizon`), instead of computing it again: every transaction
   * below it had ended when it was read, so it stays a safe cut, only a more cautious one.
   */
  horizon?: string;
};

export type ReadAllResult = {
  events: StoredEvent[];
  /** Where the next read starts: the last event's position, or `after` when nothing was read. */
  checkpoint: LogCheckpoint | null;
};

/**
 * The global log in commit order. Only transactions that ended before every transaction still
 * able to write here are visible (transaction_id < log_read_horizon(): the oldest running
 * transaction of this database, see its migration), ordered by (transaction_id,
 * global_position), so an event that took a lower position but commits later is read after,
 * never skipped. There is no timeout: a long transaction here delays readers, it never makes
 * them skip; transactions of other databases on the server do not delay them.
 */
export async function readAll(store: Store, options: ReadAllOptions = {}): Promise<ReadAllResult> {
  const rows = await readAllRows<EventRow>(store, eventColumns, options);
  await preparePhi(store, rows.map((r) => r.data));
  const events = rows.map((row) => toStored(store, row, options.decode));
  return { events, checkpoint: checkpointAfter(events, options.after) };
}

const checkpointAfter = (events: readonly FoldEvent[], after: LogCheckpoint | null | undefined): LogCheckpoint | null => {
  const last = events.at(-1);
  return last ? { transactionId: last.transactionId, globalPosition: last.globalPosition } : (after ?? null);
};

/** readAll's page of rows, with the select list given. */
async function readAllRows<R>(store: Store, columns: string, options: ReadAllOptions): Promise<R[]> {
  const limit = limitOf(options.limit, 1000);
  const after = options.after ?? { transactionId: "0", globalPosition: 0 };
  if (!/^\d{1,20}$/.test(after.transactionId) || !Number.isSafeInteger(after.globalPosition) || after.globalPosition < 0) {
    throw new ValidationError("a log checkpoint is a transaction id and a position, both whole numbers", "after");
  }
  const params: unknown[] = [after.transactionId, after.globalPosition, limit];
  let typeFilter = "";
  if (options.eventTypes && options.eventTypes.length > 0) {
    params.push([...options.eventTypes]);
    typeFilter = `AND event_type = ANY ($${params.length}::text[])`;
  }
  let horizon = "(SELECT log_read_horizon())";
  if (options.horizon !== undefined) {
    if (!/^\d{1,20}$/.test(options.horizon)) throw new ValidationError("a log horizon is a transaction id, a whole number", "horizon");
    params.push(options.horizon);
    horizon = `$${params.length}::text::xid8`;
  }
  // The inner query walks the commit-order index and stops at the limit; the outer filter then
  // cuts the page at the horizon. In (transaction_id, position) order every row at or past that
  // cut comes after every row before it, so the page stays a gap-free prefix. The horizon is a
  // sub-select: computed once per statement (same snapshot), where a bare call in a filter runs
  // once per row (it reads pg_stat_activity: ~55 of a 1,000-event page's ~60 ms).
  return store.sql<R>(
    `SELECT ${columns} FROM (
       SELECT * FROM events
        WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint) ${typeFilter}
        ORDER BY transaction_id, global_position
        LIMIT $3
     ) AS events
     WHERE transaction_id < ${horizon}
     -- Qualified: the select list makes transaction_id text, which would sort "10" before "9".
     ORDER BY events.transaction_id, events.global_position`,
    params,
  );
}

type FoldRow = Pick<EventRow, "global_position" | "stream_id" | "event_type" | "version" | "event_version" | "data" | "occurred_at" | "transaction_id"> & { event_id: string | null };
// The event id only where the payload has an envelope, which is sealed to it (format 2).
const foldColumns = `global_position, stream_id, event_type, version, event_version, data, occurred_at, transaction_id::text AS transaction_id,
  CASE WHEN data ? '$phi' THEN event_id::text END AS event_id`;

/**
 * readAll (same order, same horizon, same decode) with only what a fold of the log needs: half
 * the columns the driver has to parse, and no metadata or ids (but a sealed payload's, which its
 * seal binds). Rebuilds replay through it.
 */
export async function readAllForFold(store: Store, options: ReadAllOptions = {}): Promise<{ events: FoldEvent[]; checkpoint: LogCheckpoint | null }> {
  const rows = await readAllRows<FoldRow>(store, foldColumns, options);
  await preparePhi(store, rows.map((r) => r.data));
  const events = rows.map(
    (row): FoldEvent => ({
      type: row.event_type,
      data: decodeStored(store, row.event_type, row.event_version, row.data, options.decode, row.stream_id, row.event_id ?? undefined),
      streamId: row.stream_id,
      version: row.version,
      globalPosition: Number(row.global_position),
      transactionId: row.transaction_id,
      metadata: { occurredAt: row.occurred_at, schemaVersion: row.event_version },
    }),
  );
  return { events, checkpoint: checkpointAfter(events, options.after) };
}

type StreamAllOptions = { after?: LogCheckpoint | null; pageSize?: number; eventTypes?: readonly string[]; decode?: DecodeMode };

/**
 * Pages of `read` to the end of what is visible now, the next one read while the caller works on
 * this one. The horizon is read once and reused by every page (computing it reads
 * pg_stat_activity: ~0.8 ms a page, a fifth of a 1,000-event page's time on the server); a page
 * that comes back short reads it again, and the stream goes on while it has moved, so it still
 * ends at what is visible when it ends.
 */
async function* pages<E extends FoldEvent>(
  read: (options: ReadAllOptions) => Promise<{ events: E[]; checkpoint: LogCheckpoint | null }>,
  store: Pick<Store, "sql">,
  options: StreamAllOptions,
): AsyncGenerator<{ events: E[]; checkpoint: LogCheckpoint | null }> {
  const pageSize = limitOf(options.pageSize, 1000);
  let horizon = await logReadHorizon(store);
  const readAfter = (after: LogCheckpoint | null) => {
    const page = read({ after, limit: pageSize, eventTypes: options.eventTypes, decode: options.decode, horizon });
    page.catch(() => {}); // awaited below; a consumer that stops early must not leave it unhandled
    return page;
  };
  let next = readAfter(options.after ?? null);
  // Whether the page awaited was asked with a horizon read after the previous page came back short.
  let refreshed = false;
  for (;;) {
    const page = await next;
    let more = page.events.length === pageSize;
    if (more) refreshed = false;
    else if (!refreshed) {
      // Short: the end of what this horizon shows. One more page with the horizon as it is now
      // if it has moved; a short page after that ends the stream, as a short page always did.
      const now = await logReadHorizon(store);
      more = now !== horizon;
      horizon = now;
      refreshed = true;
    }
    if (more) next = readAfter(page.checkpoint);
    if (page.events.length > 0) yield page;
    if (!more) return;
  }
}

/** The global log's read horizon now (xid8 as text): see readAll. */
export async function logReadHorizon(store: Pick<Store, "sql">): Promise<string> {
  const [row] = await store.sql<{ h: string }>("SELECT log_read_horizon()::text AS h", []);
  if (!row) throw new Error("log_read_horizon() returned nothing");
  return row.h;
}

/**
 * The global log in commit order (readAll's guarantees), one page at a time, to the end of what
 * is visible now. The next page is read while the caller works on the current one; no more than
 * two pages are held, so memory stays flat however long the log is. Breaking out of the loop
 * stops the reading.
 *
 * The horizon is read once and reused by every page (computing it reads pg_stat_activity: ~0.8
 * ms a page, a fifth of a 1,000-event page's time on the server); a page that comes back short
 * reads it again, and the stream goes on while it has moved, so it still ends at what is visible
 * when it ends.
 */
export function streamAll(store: Store, options: StreamAllOptions = {}): AsyncGenerator<ReadAllResult> {
  return pages((o) => readAll(store, o), store, options);
}

/** streamAll through readAllForFold: the same pages with only what a fold needs. */
export function streamAllForFold(store: Store, options: StreamAllOptions = {}): AsyncGenerator<{ events: FoldEvent[]; checkpoint: LogCheckpoint | null }> {
  return pages((o) => readAllForFold(store, o), store, options);
}

export type LogReaderLag = {
  /** Readers see transactions below this id (xid8 as text). */
  horizon: string;
  /** The oldest transaction of this database that holds readers back, when one does. */
  heldBackBy: { pid: number; since: Date | null; state: string | null } | null;
  /** Committed events at or past the horizon: visible to readers once it moves (a bounded count). */
  eventsWaiting: number;
};

/**
 * How far the global log's readers are held back and by what: the transaction at the horizon
 * (a long report, an idle-in-transaction session) and how many committed events wait behind it.
 * `idle_in_transaction_session_timeout` bounds how long a forgotten session can do this.
 */
export async function logReaderLag(store: Pick<Store, "sql">, countUpTo = 10_000): Promise<LogReaderLag> {
  const [row] = await store.sql<{ horizon: string; pid: number | null; since: Date | null; state: string | null; waiting: bigint }>(
    `WITH h AS (SELECT log_read_horizon() AS x)
     SELECT h.x::text AS horizon, a.pid, a.xact_start AS since, a.state,
            (SELECT count(*) FROM (SELECT 1 FROM events e WHERE e.transaction_id >= h.x LIMIT $1) w) AS waiting
       FROM h
       LEFT JOIN pg_stat_activity a
         ON a.backend_xid IS NOT NULL AND a.backend_xid::text::bigint = (h.x::text::numeric % 4294967296)::bigint
        AND a.datname = current_database()`,
    [countUpTo],
  );
  if (!row) throw new Error("log_read_horizon() returned nothing");
  return {
    horizon: row.horizon,
    heldBackBy: row.pid === null ? null : { pid: row.pid, since: row.since, state: row.state },
    eventsWaiting: Number(row.waiting),
  };
}

export async function readByCorrelationId(store: Store, correlationId: string, options: { limit?: number } = {}) {
  return select(store, "correlation_id = $1", [correlationId, limitOf(options.limit, 1000)], "ORDER BY global_position LIMIT $2");
}

/** The causal chain that starts at one event: it, the events it caused, the events those caused, and on. */
export async function readByCausation(store: Store, eventId: string, options: { limit?: number } = {}) {
  const rows = await store.sql<EventRow & { depth: number }>(
    `WITH RECURSIVE chain AS (
       SELECT e.*, 0 AS depth FROM events e WHERE e.event_id = $1::uuid
       UNION ALL
       SELECT e.*, c.depth + 1 FROM events e JOIN chain c ON e.causation_id = c.event_id::text
        -- Always true here (an event id is a uuid); it lets PostgreSQL use the partial index
        -- events_caused_by_event_idx, which leaves out command causes.
        WHERE c.depth < 100 AND e.causation_id NOT LIKE 'command:%'
     )
     SELECT ${eventColumns}, depth FROM chain ORDER BY depth, global_position LIMIT $2`,
    [eventId, limitOf(options.limit, 1000)],
  );
  await preparePhi(store, rows.map((r) => r.data));
  return rows.map((row) => ({ ...toStored(store, row), depth: row.depth }));
}

export type CausalTree = {
  /** The root's cause: "command:<id>" when a user's command wrote the root events, null when it has none. */
  rootCause: string | null;
  /** Every event of the chain, the root's events at depth 1, each with the event that caused it (null at the root). */
  events: (StoredEvent & { depth: number; parentId: string | null })[];
  truncated: boolean;
};

/**
 * The whole causal chain an event belongs to, in ONE query: up its causation ids to the root,
 * then down from the root (every event the root's command wrote, or the root event alone when it
 * was not written by a command) through everything those caused, across streams. Depth is
 * bounded, so a cycle (which the API cannot write) cannot loop. The walk up uses the unique index
 * on event_id; a command's events are found by their correlation id (hash index) and the walk
 * down by the partial index of events caused by events (`causation_id NOT LIKE 'command:%'`).
 */
export async function readCausalTree(store: Store, eventId: string, options: { limit?: number; maxDepth?: number } = {}): Promise<CausalTree | null> {
  const limit = limitOf(options.limit, 500, 5_000);
  const maxDepth = options.maxDepth ?? 50;
  const rows = await store.sql<EventRow & { depth: number; parent_id: string | null; root_cause: string | null }>(
    `WITH RECURSIVE up AS (
       SELECT e.event_id, e.causation_id, 0 AS depth FROM events e WHERE e.event_id = $1::uuid
       UNION ALL
       SELECT p.event_id, p.causation_id, u.depth + 1
         FROM up u JOIN events p
           ON p.event_id = CASE WHEN u.causation_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN u.causation_id::uuid END
        WHERE u.depth < $3
     ),
     root AS (SELECT u.event_id, u.causation_id, e.correlation_id FROM up u JOIN events e ON e.event_id = u.event_id ORDER BY u.depth DESC LIMIT 1),
     down AS (
       SELECT a.*, 1 AS depth, NULL::text AS parent_id FROM (
         SELECT e.* FROM events e
          WHERE e.correlation_id = (SELECT correlation_id FROM root WHERE causation_id LIKE 'command:%')
            AND e.causation_id = (SELECT causation_id FROM root)
         UNION ALL
         SELECT e.* FROM events e
          WHERE e.event_id = (SELECT event_id FROM root WHERE causation_id IS NULL OR causation_id NOT LIKE 'command:%')
       ) a
       UNION ALL
       SELECT e.*, d.depth + 1, d.event_id::text FROM down d JOIN events e ON e.causation_id = d.event_id::text
        WHERE d.depth < $3 AND e.causation_id NOT LIKE 'command:%'
     )
     SELECT ${eventColumns}, depth, parent_id, (SELECT causation_id FROM root) AS root_cause
       FROM down ORDER BY depth, global_position LIMIT $2`,
    [eventId, limit + 1, maxDepth],
  );
  if (rows.length === 0) return null;
  await preparePhi(store, rows.map((r) => r.data));
  return {
    rootCause: rows[0]!.root_cause,
    events: rows.slice(0, limit).map((row) => ({ ...toStored(store, row), depth: row.depth, parentId: row.parent_id })),
    truncated: rows.length > limit,
  };
}

export async function readByType(
  store: Store,
  eventType: string,
  options: { afterPosition?: number; limit?: number } = {},
) {
  return select(
    store,
    "event_type = $1 AND global_position > $2",
    [eventType, options.afterPosition ?? 0, limitOf(options.limit, 1000)],
    "ORDER BY global_position LIMIT $3",
  );
}

/** Events that occurred in [from, to). */
export async function readByTimeRange(store: Store, from: Date, to: Date, options: { limit?: number } = {}) {
  if (to <= from) throw new ValidationError("time range: 'to' must be after 'from'", "to");
  return select(
    store,
    "occurred_at >= $1 AND occurred_at < $2",
    [from, to, limitOf(options.limit, 1000)],
    "ORDER BY occurred_at, global_position LIMIT $3",
  );
}

/** The stream's current version (0 when it does not exist), in O(1) from the streams table. */
export async function streamVersion(store: Pick<Store, "sql">, streamId: string): Promise<number> {
  const rows = await store.sql<{ version: number }>("SELECT version FROM streams WHERE stream_id = $1", [streamId]);
  return rows[0]?.version ?? 0;
}

/** Several streams' events interleaved, newest first, paged by global position (a record's history). */
export async function readStreamsBackwards(
  store: Store,
  streamIds: readonly string[],
  options: { beforePosition?: number; limit?: number } = {},
): Promise<StoredEvent[]> {
  if (streamIds.length === 0) return [];
  return select(
    store,
    "stream_id = ANY ($1::text[]) AND global_position < $2",
    [[...streamIds], options.beforePosition ?? Number.MAX_SAFE_INTEGER, limitOf(options.limit, 50, 1000)],
    "ORDER BY global_position DESC LIMIT $3",
  );
}
