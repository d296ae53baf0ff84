// appendToStream: one call of the append_to_stream plpgsql function, one round trip. It writes
// the events, the stream's new version and the outbox rows in one transaction.
import { ConcurrencyError, ValidationError } from "../errors";
import { isRetryableTransactionError, pgErrorInfo, type Store } from "./db";
import type { EventRegistry } from "./serializer";
import { phiSealer } from "./protect";
import type { AppendResult, ExpectedVersion, NewEvent } from "./types";
import { recordConflict } from "../metrics/registry";
import { appendObserved } from "../metrics/store";

export class DuplicateEventError extends Error {
  override readonly name = "DuplicateEventError";
}

const expectedCode: Record<Exclude<ExpectedVersion, number>, number> = {
  any: -1,
  no_stream: -2,
  stream_exists: -3,
};

export function encodeExpectedVersion(expected: ExpectedVersion): number {
  if (typeof expected === "number") {
    if (!Number.isInteger(expected) || expected < 0) {
      throw new ValidationError(`expectedVersion must be a whole number >= 0, got ${expected}`, "expectedVersion");
    }
    return expected;
  }
  return expectedCode[expected];
}

/** Whether a stream at `actual` satisfies `expected`: the same rule the database applies. */
export function versionMatches(expected: ExpectedVersion, actual: number): boolean {
  if (expected === "any") return true;
  if (expected === "no_stream") return actual === 0;
  if (expected === "stream_exists") return actual > 0;
  return actual === expected;
}

// One row per append. positions are int8: bigint (or strings) per driver; Number() takes both.
type AppendRow = {
  /** The stream's version after the append; on a conflict, its actual version (nothing written). */
  version: number;
  /** Each event's global position, in stream order; null on a conflict. */
  positions: (bigint | string | number)[] | null;
  /** The recorded time every event of the append shares. */
  recorded_at: Date | null;
  repeated: boolean;
  /** The stream was not at the expected version: nothing written, `version` the actual one. */
  conflict: boolean;
};

export type AppendOptions = {
  expectedVersion: ExpectedVersion;
  /**
   * The stream's type, recorded as aggregate_type on every event. The stream id must start with
   * it and a hyphen ("patient-<id>"): the audit filter by aggregate type reads that range of
   * stream ids (CHECK events_stream_names_aggregate_check).
   */
  aggregateType: string;
};

// An element of a PostgreSQL array literal: bare when it cannot be misread (no separator,
// quote, brace, backslash or space, and not the word NULL), quoted and escaped otherwise.
const bare = /^[A-Za-z0-9_.:@+\-]+$/;
// A missing value (null, or undefined from an untyped caller) is NULL, as a key JSON left out was.
const element = (value: string | null | undefined): string =>
  value == null
    ? "NULL"
    : bare.test(value) && !(value.length === 4 && value.toUpperCase() === "NULL")
      ? value
      : `"${value.replace(/[\\"]/g, "\\$&")}"`;
const arrayLiteral = (values: readonly (string | null)[]): string => `{${values.map(element).join(",")}}`;

/**
 * The batch as append_to_stream takes it (its parameters $4..$12): one array per field, one
 * element per event in stream order, written as array literals; the payloads (validated,
 * stamped with their schema version, then sealed when a sealer is given: protect.ts) and the
 * metadata as one JSON array each, the metadata null when no event has any.
 */
export function encodeColumns(
  registry: EventRegistry,
  events: readonly NewEvent[],
  seal?: ((event: NewEvent, data: Record<string, unknown>) => Record<string, unknown>) | null,
): (string | null)[] {
  const n = events.length;
  const ids = new Array<string>(n);
  const types = new Array<string>(n);
  const versions = new Array<number>(n);
  const data = new Array<string>(n);
  const metadata = new Array<string>(n);
  const occurred = new Array<string>(n);
  const users = new Array<string>(n);
  const correlations = new Array<string>(n);
  const causations = new Array<string | null>(n);
  let anyMetadata = false;
  for (let i = 0; i < n; i++) {
    const event = events[i]!;
    const encoded = registry.encode(event);
    ids[i] = event.eventId;
    types[i] = event.type;
    versions[i] = encoded.eventVersion;
    data[i] = JSON.stringify(seal ? seal(event, encoded.data) : encoded.data);
    metadata[i] = event.extra ? JSON.stringify(event.extra) : "{}";
    anyMetadata ||= event.extra !== undefined;
    occurred[i] = event.occurredAt.toISOString();
    users[i] = event.userId;
    correlations[i] = event.correlationId;
    causations[i] = event.causationId;
  }
  return [
    arrayLiteral(ids),
    arrayLiteral(types),
    `{${versions.join(",")}}`,
    `[${data.join(",")}]`,
    anyMetadata ? `[${metadata.join(",")}]` : null,
    arrayLiteral(occurred),
    arrayLiteral(users),
    arrayLiteral(correlations),
    arrayLiteral(causations),
  ];
}

/** The call appendToStream prepares: the batch's columns as $4..$12. */
const appendCall = `SELECT * FROM append_to_stream($1, $2, $3::integer, $4::uuid[], $5::text[], $6::integer[], $7::jsonb,
  $8::jsonb, $9::timestamptz[], $10::text[], $11::text[], $12::text[])`;

/** Attempts of an append outside a transaction that meets an older-than-the-last-writer refusal. */
const ORDER_RETRIES = 5;

/**
 * Appends a batch to one stream. Outside a transaction, an append refused because its
 * transaction is older than the stream's last writer (40001: it would sort before that writer
 * in the global log) is retried here in a new one; inside a caller's transaction the error goes
 * up, and the caller retries the whole transaction (handleCommand does).
 */
export async function appendToStream(
  store: Store,
  streamId: string,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<AppendResult> {
  if (events.length === 0) throw new ValidationError("appendToStream needs at least one event", "events");
  if (!options.aggregateType || !streamId.startsWith(`${options.aggregateType}-`)) {
    throw new ValidationError(`stream id ${JSON.stringify(streamId)} must start with its aggregate type "${options.aggregateType}-"`, "streamId");
  }
  const expected = encodeExpectedVersion(options.expectedVersion);
  const startedAt = performance.now();
  const columns = encodeColumns(store.registry, events, await phiSealer(store, streamId, events));
  const ownTransaction = store.transaction !== undefined;
  let rows: AppendRow[];
  for (let attempt = 1; ; attempt++) {
    try {
      rows = await store.sql<AppendRow>(appendCall, [streamId, options.aggregateType, expected, ...columns], { name: "append_to_stream" });
      break;
    } catch (error) {
      if (ownTransaction && attempt < ORDER_RETRIES && isRetryableTransactionError(error)) continue;
      const info = pgErrorInfo(error);
      // 23505 on the event id: a repeat that raced its own first run past the fast path's probe.
      // Outside a transaction the store can still look: every id stored in this stream is a repeat.
      if (ownTransaction && info.code === "23505" && info.message.includes("events_event_id_key")) {
        const stored = await storedBatch(store, streamId, events);
        if (stored) return stored;
      }
      // ES002 from the function's repeat check; 23505 on events_event_id_key when its fast path
      // meets ids already stored in another stream.
      if (info.code === "ES002" || (info.code === "23505" && info.message.includes("events_event_id_key"))) {
        throw new DuplicateEventError(info.message);
      }
      throw error;
    }
  }
  const row = rows[0]!;
  if (row.conflict) {
    recordConflict(options.aggregateType);
    throw new ConcurrencyError(streamId, options.expectedVersion, row.version);
  }
  appendObserved(store.db, options.aggregateType, events.length, startedAt, row.repeated);
  return resultOf(streamId, events, row);
}

function resultOf(streamId: string, events: readonly NewEvent[], row: AppendRow): AppendResult {
  const first = row.version - events.length + 1;
  const positions = row.positions ?? [];
  const recordedAt = row.recorded_at!;
  return {
    streamId,
    nextExpectedVersion: row.version,
    repeated: row.repeated,
    events: events.map((event, i) => ({
      eventId: event.eventId,
      version: first + i,
      globalPosition: Number(positions[i]),
      recordedAt,
    })),
  };
}

/** The stored result of this exact batch when every one of its ids is stored in this stream. */
async function storedBatch(store: Store, streamId: string, events: readonly NewEvent[]): Promise<AppendResult | null> {
  const rows = await store.sql<AppendRow & { n: bigint | number; streams: string[] }>(
    `SELECT max(version) AS version, array_agg(global_position ORDER BY version) AS positions, min(recorded_at) AS recorded_at,
            true AS repeated, false AS conflict, count(*) AS n, array_agg(DISTINCT stream_id) AS streams
       FROM events WHERE event_id = ANY ($1::uuid[])`,
    [events.map((e) => e.eventId)],
  );
  const row = rows[0];
  if (!row || Number(row.n) !== events.length || row.streams.length !== 1 || row.streams[0] !== streamId) return null;
  return resultOf(streamId, events, row);
}
