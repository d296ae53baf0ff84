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

// global_position is int8: BigInt through Prisma, a string through pg; Number() takes both.
type AppendRow = {
  event_id: string;
  version: number;
  global_position: bigint | string;
  recorded_at: Date;
  repeated: boolean;
  /** The stream was not at the expected version: one row, `version` the actual one, nothing written. */
  conflict: boolean;
};

export type AppendOptions = {
  expectedVersion: ExpectedVersion;
  /** The stream's type, recorded as aggregate_type on every event. */
  aggregateType: string;
};

/**
 * The JSON batch append_to_stream takes: payloads validated and stamped with their schema
 * version, then sealed (their PHI encrypted, protect.ts) when a sealer is given.
 */
export function encodeBatch(
  registry: EventRegistry,
  events: readonly NewEvent[],
  seal?: ((event: NewEvent, data: Record<string, unknown>) => Record<string, unknown>) | null,
): string {
  return JSON.stringify(
    events.map((event) => {
      const { eventVersion, data } = registry.encode(event);
      return {
        event_id: event.eventId,
        event_type: event.type,
        event_version: eventVersion,
        data: seal ? seal(event, data) : data,
        metadata: event.extra ?? {},
        occurred_at: event.occurredAt.toISOString(),
        user_id: event.userId,
        correlation_id: event.correlationId,
        causation_id: event.causationId,
      };
    }),
  );
}

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
  const expected = encodeExpectedVersion(options.expectedVersion);
  const startedAt = performance.now();
  const batch = encodeBatch(store.registry, events, await phiSealer(store, streamId, events));
  const ownTransaction = store.transaction !== undefined;
  let rows: AppendRow[];
  for (let attempt = 1; ; attempt++) {
    try {
      rows = await store.sql<AppendRow>(
        "SELECT * FROM append_to_stream($1, $2, $3::integer, $4::jsonb)",
        [streamId, options.aggregateType, expected, batch],
        { name: "append_to_stream" },
      );
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
  if (rows[0]?.conflict) recordConflict(options.aggregateType);
  if (rows[0]?.conflict) throw new ConcurrencyError(streamId, options.expectedVersion, rows[0].version);
  appendObserved(store.db, options.aggregateType, events.length, startedAt, rows[0]?.repeated ?? false);
  return resultOf(streamId, rows);
}

function resultOf(streamId: string, rows: AppendRow[]): AppendResult {
  const last = rows.at(-1);
  return {
    streamId,
    nextExpectedVersion: last?.version ?? 0,
    repeated: rows[0]?.repeated ?? false,
    events: rows.map((r) => ({
      eventId: r.event_id,
      version: r.version,
      globalPosition: Number(r.global_position),
      recordedAt: r.recorded_at,
    })),
  };
}

/** The stored result of this exact batch when every one of its ids is stored in this stream. */
async function storedBatch(store: Store, streamId: string, events: readonly NewEvent[]): Promise<AppendResult | null> {
  const rows = await store.sql<AppendRow & { stream_id: string }>(
    `SELECT event_id::text AS event_id, version, global_position, recorded_at, stream_id, true AS repeated, false AS conflict
       FROM events WHERE event_id = ANY ($1::uuid[]) ORDER BY version`,
    [events.map((e) => e.eventId)],
  );
  if (rows.length !== events.length || rows.some((r) => r.stream_id !== streamId)) return null;
  return resultOf(streamId, rows);
}
