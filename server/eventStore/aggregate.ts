// Loading and saving event-sourced aggregates: latest snapshot + later events, temporal loads,
// and handleCommand (load, decide, append with the loaded version, snapshot every N events).
import { createHash, createHmac, randomUUID } from "node:crypto";
import { ConcurrencyError, IdempotencyKeyReusedError } from "../errors";
import { appendToStream, DuplicateEventError } from "./append";
import { uuidFromName } from "./ids";
import { isRetryableTransactionError, type Db, type Store } from "./db";
import { crossesSnapshotThreshold, saveSnapshot } from "./snapshots";
import { decodeStored, fingerprintKey, openState, preparePhi, sealState } from "./protect";
import type { AppendResult, Decider, DomainEvent, MetadataExtra, NewEvent, StoredEvent } from "./types";
import { recordConflict, recordLoad } from "../metrics/registry";

export type Loaded<S> = {
  state: S;
  /** The stream version the state reflects (0: the stream does not exist, or not yet at that time). */
  version: number;
  /** The snapshot the load started from, if any. */
  fromSnapshot: number | null;
  eventsApplied: number;
};

export type LoadOptions = { useSnapshots?: boolean };

type LoadRow = { kind: "snapshot" | "event"; version: number; event_id: string | null; event_type: string | null; event_version: number | null; data: unknown };

/** Events fetched per round trip of a fold: a long stream is folded page by page, never held whole. */
export const foldPageSize = 1_000;

/**
 * The newest usable snapshot at or below the target (when allowed) and the first page of the
 * stream's later events up to the target, in one round trip; then the following pages, keyed
 * on the version (a cursor over the (stream_id, version) index). Only the columns a fold needs.
 */
async function foldFrom<C, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  target: number | undefined,
  useSnapshots: boolean,
): Promise<Loaded<S>> {
  const startedAt = performance.now();
  const upTo = target ?? 2_147_483_647;
  let rows = await store.sql<LoadRow>(
    `WITH snap AS (
       SELECT version, data FROM snapshots
        WHERE $5::boolean AND stream_id = $1 AND snapshot_type = $2 AND state_version = $3 AND version <= $4
        ORDER BY version DESC LIMIT 1
     )
     SELECT 'snapshot' AS kind, version, NULL::text AS event_id, NULL::text AS event_type, NULL::integer AS event_version, data FROM snap
     UNION ALL
     (SELECT 'event', e.version, e.event_id::text, e.event_type, e.event_version, e.data FROM events e
       WHERE e.stream_id = $1 AND e.version > coalesce((SELECT version FROM snap), 0) AND e.version <= $4
       ORDER BY e.version LIMIT $6)
     ORDER BY 2`,
    [streamId, decider.aggregateType, decider.stateVersion, upTo, useSnapshots, foldPageSize],
  );
  await preparePhi(store, rows.map((r) => r.data));
  let state = decider.initialState();
  let version = 0;
  let fromSnapshot: number | null = null;
  let eventsApplied = 0;
  for (;;) {
    let eventRows = 0;
    for (const row of rows) {
      if (row.kind === "snapshot") {
        const opened = await openState(store, { streamId, version: row.version, stateVersion: decider.stateVersion }, decider.aggregateType, row.data);
        // Sealed under an erased subject's key, or not this stream's at this version: only a
        // cache, so fold every event instead.
        if (opened === null) return foldFrom(store, streamId, decider, target, false);
        state = opened as S;
        fromSnapshot = row.version;
      } else {
        const data = decodeStored(store, row.event_type!, row.event_version!, row.data, "validated", streamId, row.event_id!);
        state = decider.evolve(state, { type: row.event_type, data } as E);
        eventsApplied += 1;
        eventRows += 1;
      }
      version = row.version;
    }
    if (eventRows < foldPageSize || version >= upTo) break;
    rows = await store.sql<LoadRow>(
      `SELECT 'event' AS kind, version, event_id::text AS event_id, event_type, event_version, data FROM events
        WHERE stream_id = $1 AND version > $2 AND version <= $3 ORDER BY version LIMIT $4`,
      [streamId, version, upTo, foldPageSize],
    );
    await preparePhi(store, rows.map((r) => r.data));
  }
  recordLoad(decider.aggregateType, startedAt, { fromSnapshot, eventsApplied, temporal: target !== undefined });
  return { state, version, fromSnapshot, eventsApplied };
}

/** The current state: the newest usable snapshot, then the events after it. */
export function loadAggregate<C, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  options: LoadOptions = {},
): Promise<Loaded<S>> {
  return foldFrom(store, streamId, decider, undefined, options.useSnapshots ?? true);
}

/** The state right after event `version` (a snapshot is used only when it is not later). */
export function loadAtVersion<C, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  version: number,
  options: LoadOptions = {},
): Promise<Loaded<S>> {
  return foldFrom(store, streamId, decider, Math.max(0, Math.floor(version)), options.useSnapshots ?? true);
}

/** The state as the system recorded it at `asOf`: every event recorded at or before that instant. */
export async function loadAsOf<C, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  asOf: Date,
  options: LoadOptions = {},
): Promise<Loaded<S>> {
  // recorded_at never decreases along a stream, so "recorded by then" is a version prefix.
  const rows = await store.sql<{ v: number | null }>(
    "SELECT max(version) AS v FROM events WHERE stream_id = $1 AND recorded_at <= $2",
    [streamId, asOf],
  );
  const target = rows[0]?.v ?? 0;
  if (target === 0) return { state: decider.initialState(), version: 0, fromSnapshot: null, eventsApplied: 0 };
  return loadAtVersion(store, streamId, decider, target, options);
}

/** Who and why, for every event a command produces. */
export type CommandEnvelope = {
  userId: string;
  correlationId: string;
  /** Identifies this command: the causation id of its events, and the seed of their ids. */
  commandId: string;
  extra?: MetadataExtra;
};

/**
 * Runs inside the append's transaction with the events just stored and the aggregate's new
 * state: inline read models. A failure rolls the append back.
 */
export type InlineProjector<S> = (tx: Db, change: { events: readonly StoredEvent[]; state: S; version: number }) => Promise<void>;

export type HandleOptions<S> = {
  /** The version the user saw. A different current version is a conflict, never retried. */
  expectedVersion?: number;
  /** Re-run load + decide this many times on a conflict; only for commands safe to retry. */
  retries?: number;
  snapshotEvery?: number;
  keepSnapshots?: number;
  /** Besides the newest `keepSnapshots`, keep the earliest snapshot of every run of this many versions. */
  historicSnapshotEvery?: number;
  project?: InlineProjector<S>;
  /**
   * The command id came from the client (an idempotency key): when its first event is already
   * stored, the command ran before, and the result is returned without deciding again.
   */
  checkRepeat?: boolean;
  /**
   * What the client asked, when the command carries more: facts the server read for the decider
   * (the patient's allergies and status when an order is placed), which may change between a
   * command and its re-sending. A repeat is told from another command by this, not by the
   * command's data. Without it, the command's data is what was asked.
   */
  asked?: Record<string, unknown>;
  /**
   * The command starts its stream under a new id (random, or made from the client's command id):
   * decide on the empty state and append expecting no stream, without reading the stream or the
   * command id first (two round trips fewer). When the stream exists after all (the command sent
   * again, whose id names the same stream), or the decision is refused (a repeat may be refused on
   * facts that changed since its first run), the usual way follows: load, check the repeat, decide.
   * A command id already used for another record is refused by the append (the event id is taken).
   */
  startsStream?: boolean;
  /** Called when a snapshot could not be written (the command itself succeeded). */
  onSnapshotError?: (error: unknown) => void;
};

export type HandleResult<S, E extends DomainEvent> = {
  streamId: string;
  events: E[];
  append: AppendResult | null;
  state: S;
  /** The stream version after the command (unchanged when it produced no events). */
  version: number;
  snapshotted: boolean;
  /** The same command id had already been handled: nothing was written this time. */
  repeated: boolean;
};

/**
 * Event ids derived from the command id: a client that re-sends the same command (same id)
 * gets the same event ids, and the store answers with the first result instead of writing twice.
 */
export function eventIdFor(commandId: string, index: number): string {
  return uuidFromName(`${commandId}:${index}`);
}

export const newCommandId = (): string => randomUUID();

/**
 * A command's events name it as their cause in a namespace of its own: `command:<id>`. An event
 * id is a bare uuid, so a client's command id can never make a stored event the recorded cause
 * of new events; only events raised by handlers name an event (the trigger's id) as their cause.
 */
export const commandCausationPrefix = "command:";
export const commandCausationId = (commandId: string): string => `${commandCausationPrefix}${commandId}`;
/** The command id in a causation id, or null when the cause is an event. */
export function commandIdOfCausation(causationId: string | null): string | null {
  return causationId?.startsWith(commandCausationPrefix) ? causationId.slice(commandCausationPrefix.length) : null;
}

function canonical(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/**
 * What a client-keyed command asked for, without its time: the stream, the aggregate type, the
 * command's own fields and who asked. Stored with its events (`metadata.commandFingerprint`), so
 * a re-sent command can be told apart from a different command sent under the same key. The
 * fields include PHI and metadata is not sealed, so the digest is keyed: an HMAC under a key
 * derived from the subject's data key (protect.ts), which erasure destroys; a plain SHA-256 only
 * for a record with no subject, which holds no PHI. "v2:" marks these; a fingerprint without it
 * was stored before, unkeyed, and is still compared as it was made.
 */
export async function commandFingerprint(
  store: Store,
  streamId: string,
  aggregateType: string,
  command: { data?: unknown; metadata: unknown },
  userId: string,
): Promise<string> {
  const { metadata: _time, ...asked } = command as Record<string, unknown>;
  const key = await fingerprintKey(store, streamId, (command.data as Record<string, unknown> | undefined)?.patientId);
  const text = JSON.stringify(canonical({ streamId, aggregateType, asked, userId }));
  const digest = key ? createHmac("sha256", key).update(text) : createHash("sha256").update(text);
  return `v2:${digest.digest("hex").slice(0, 32)}`;
}

/** The fingerprint as stored before v2 (unkeyed, no user): only compared, never written. */
export function legacyCommandFingerprint(streamId: string, aggregateType: string, command: { metadata: unknown }): string {
  const { metadata: _time, ...asked } = command as Record<string, unknown>;
  return createHash("sha256")
    .update(JSON.stringify(canonical({ streamId, aggregateType, asked })))
    .digest("hex")
    .slice(0, 32);
}

type Fingerprints = { current: (store: Store) => Promise<string>; legacy: () => string };

function envelopeEvents<E extends DomainEvent>(events: E[], envelope: CommandEnvelope, now: Date, occurredAt?: (event: E) => string | undefined): NewEvent[] {
  return events.map((event, i) => {
    const clinical = occurredAt?.(event);
    return {
      type: event.type,
      data: event.data,
      eventId: eventIdFor(envelope.commandId, i),
      occurredAt: clinical === undefined ? now : new Date(clinical),
      userId: envelope.userId,
      correlationId: envelope.correlationId,
      causationId: commandCausationId(envelope.commandId),
      extra: envelope.extra,
    };
  });
}

/** The batch with the command's fingerprint in every event's metadata (made with `store`, inside the append's transaction). */
async function fingerprinted(store: Store, batch: NewEvent[], fingerprints: Fingerprints | null): Promise<NewEvent[]> {
  if (!fingerprints) return batch;
  const commandFingerprint = await fingerprints.current(store);
  return batch.map((event) => ({ ...event, extra: { ...event.extra, commandFingerprint } }));
}

/**
 * Refuses a client's command id that was used for another record or another command. For a
 * repeat of the same command, the version its events brought the stream to (its stored result:
 * a command's events are appended together and name it as their cause); null for a new command id.
 */
async function checkCommandRepeat(store: Store, streamId: string, envelope: CommandEnvelope, fingerprints: Fingerprints): Promise<number | null> {
  const [seen] = await store.sql<{ stream_id: string; fingerprint: string | null; causation_id: string | null; last_version: number }>(
    `SELECT e0.stream_id, e0.metadata->>'commandFingerprint' AS fingerprint, e0.causation_id,
            coalesce((SELECT max(e.version) FROM events e
                       WHERE e.stream_id = e0.stream_id AND e.version >= e0.version AND e.causation_id = e0.causation_id), e0.version) AS last_version
       FROM events e0 WHERE e0.event_id = $1::uuid`,
    [eventIdFor(envelope.commandId, 0)],
  );
  if (!seen) return null;
  if (seen.stream_id !== streamId) throw new IdempotencyKeyReusedError(envelope.commandId, "record");
  if (seen.fingerprint === null) {
    // Since fingerprints are stored, every client's command id gets one, and commands name
    // themselves "command:<id>". Such an event without a fingerprint ran under an id the server
    // made (the command came without one), which a client learns only from the record's history:
    // naming it is not sending that command again, and answering "repeated" would drop this one.
    if (seen.causation_id === commandCausationId(envelope.commandId)) throw new IdempotencyKeyReusedError(envelope.commandId, "command");
    // Events written before fingerprints (their cause the bare command id) carry none: the release
    // that wrote them answered any command sent again under the id with its stored result, and a
    // form sent just before an upgrade, whose answer was lost, is sent again after it. Answered as
    // that release did.
    return Number(seen.last_version);
  }
  const asked = seen.fingerprint.startsWith("v2:") ? await fingerprints.current(store) : fingerprints.legacy();
  if (seen.fingerprint !== asked) throw new IdempotencyKeyReusedError(envelope.commandId, "command");
  return Number(seen.last_version);
}

/** Transaction attempts when an append is refused for being older than the stream's last writer. */
const TRANSACTION_RETRIES = 5;

/** The events as stored: payloads as the serializer wrote them, with their positions. */
function toStoredEvents(
  streamId: string,
  aggregateType: string,
  batch: readonly NewEvent[],
  encoded: readonly { eventVersion: number; data: Record<string, unknown> }[],
  result: AppendResult,
): StoredEvent[] {
  return batch.map((event, i) => {
    const written = result.events[i]!;
    const { eventVersion, data } = encoded[i]!;
    return {
      type: event.type,
      data,
      streamId,
      aggregateType,
      version: written.version,
      globalPosition: written.globalPosition,
      transactionId: "",
      metadata: {
        eventId: event.eventId,
        occurredAt: event.occurredAt,
        recordedAt: written.recordedAt,
        userId: event.userId,
        correlationId: event.correlationId,
        causationId: event.causationId,
        schemaVersion: eventVersion,
        extra: event.extra ?? {},
      },
    };
  });
}

/**
 * Load, decide, append with the loaded version as the expected version, then snapshot when the
 * stream crossed a multiple of `snapshotEvery`. With `project`, the append and the inline read
 * models commit in one transaction.
 */
export async function handleCommand<C extends { metadata: { now: Date } }, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  command: C,
  envelope: CommandEnvelope,
  options: HandleOptions<S> = {},
): Promise<HandleResult<S, E>> {
  const attempts = options.expectedVersion === undefined ? 1 + Math.max(0, options.retries ?? 0) : 1;
  const fingerprint: Fingerprints | null = options.checkRepeat
    ? {
        current: (s) =>
          commandFingerprint(s, streamId, decider.aggregateType, options.asked ? { data: options.asked, metadata: null } : command, envelope.userId),
        legacy: () => legacyCommandFingerprint(streamId, decider.aggregateType, command),
      }
    : null;
  let orderRetries = 0;
  // Whether this attempt takes the stream to be new (startsStream) instead of reading it.
  let assumeNew = options.startsStream === true && options.expectedVersion === undefined;
  for (let attempt = 1; ; attempt++) {
    const loaded: Loaded<S> = assumeNew
      ? { state: decider.initialState(), version: 0, fromSnapshot: null, eventsApplied: 0 }
      : await loadAggregate(store, streamId, decider);
    const storedVersion = fingerprint && !assumeNew ? await checkCommandRepeat(store, streamId, envelope, fingerprint) : null;
    if (storedVersion !== null) {
      // The stored result: the version (and state) the first run left, whether the stream has
      // moved on since or the first run committed only after this load.
      const state = storedVersion === loaded.version ? loaded.state : (await loadAtVersion(store, streamId, decider, storedVersion)).state;
      return { streamId, events: [], append: null, state, version: storedVersion, snapshotted: false, repeated: true };
    }
    if (options.expectedVersion !== undefined && loaded.version !== options.expectedVersion) {
      recordConflict(decider.aggregateType);
      throw new ConcurrencyError(streamId, options.expectedVersion, loaded.version);
    }
    // Decided again on a newer state (a retry after a conflict): at the time of that decision.
    // With the first attempt's time, the event went into the stream's clinical order before the
    // event it was decided after, and "as it happened by" folded the two the other way round (an
    // allergy, then "no known allergies" over it: a state the decider never allowed).
    const now = attempt === 1 ? command.metadata.now : new Date(Math.max(command.metadata.now.getTime(), Date.now()));
    const decided = now === command.metadata.now ? command : { ...command, metadata: { ...command.metadata, now } };
    let events: E[];
    try {
      events = decider.decide(decided, loaded.state);
    } catch (error) {
      // Refused on the facts the server added (an order for an encounter completed since): a
      // command sent again is answered with its stored result first, the usual way.
      if (!assumeNew) throw error;
      assumeNew = false;
      attempt--;
      continue;
    }
    if (events.length === 0) {
      return { streamId, events, append: null, state: loaded.state, version: loaded.version, snapshotted: false, repeated: false };
    }
    const batch = envelopeEvents(events, envelope, now, decider.occurredAt);
    // Fold what the serializer stores (defaults applied, validated), so the state and any
    // snapshot of it equal a later fold of the stored events.
    const encoded = batch.map((event) => store.registry.encode(event));
    const state = events.reduce((acc, event, i) => decider.evolve(acc, { ...event, data: encoded[i]!.data } as E), loaded.state);
    const appendOptions = { expectedVersion: loaded.version === 0 ? ("no_stream" as const) : loaded.version, aggregateType: decider.aggregateType };
    let append: AppendResult;
    try {
      if (options.project && store.transaction) {
        const project = options.project;
        append = await store.transaction(async (txStore) => {
          const written = await fingerprinted(txStore, batch, fingerprint);
          const result = await appendToStream(txStore, streamId, written, appendOptions);
          if (!result.repeated) {
            const stored = toStoredEvents(streamId, decider.aggregateType, written, encoded, result);
            await project(txStore.db, { events: stored, state, version: result.nextExpectedVersion });
          }
          return result;
        });
      } else if (options.project) {
        // Already inside the caller's transaction.
        const written = await fingerprinted(store, batch, fingerprint);
        append = await appendToStream(store, streamId, written, appendOptions);
        if (!append.repeated) {
          const stored = toStoredEvents(streamId, decider.aggregateType, written, encoded, append);
          await options.project(store.db, { events: stored, state, version: append.nextExpectedVersion });
        }
      } else {
        append = await appendToStream(store, streamId, await fingerprinted(store, batch, fingerprint), appendOptions);
      }
    } catch (error) {
      if (assumeNew && error instanceof ConcurrencyError) {
        // The stream exists: read it as every other command does (not counted as an attempt).
        assumeNew = false;
        attempt--;
        continue;
      }
      if (error instanceof ConcurrencyError && attempt < attempts) continue;
      // Refused for sorting before the stream's last writer: a new transaction will not.
      if (store.transaction && isRetryableTransactionError(error) && ++orderRetries < TRANSACTION_RETRIES) {
        attempt--;
        continue;
      }
      if (fingerprint && error instanceof DuplicateEventError) {
        throw new IdempotencyKeyReusedError(envelope.commandId, "record");
      }
      throw error;
    }
    if (append.repeated && assumeNew) {
      // The command's events are stored already (sent again): its stored result, the usual way.
      assumeNew = false;
      attempt--;
      continue;
    }
    // A concurrent first run of this key won the append: it is a repeat only if it asked the same.
    if (append.repeated && fingerprint) await checkCommandRepeat(store, streamId, envelope, fingerprint);
    const version = append.nextExpectedVersion;
    let snapshotted = false;
    const every = options.snapshotEvery;
    if (every && !append.repeated && crossesSnapshotThreshold(loaded.version, version, every)) {
      try {
        const stored = await sealState(store, { streamId, version, stateVersion: decider.stateVersion }, decider.aggregateType, state);
        await saveSnapshot(
          store.db,
          { streamId, aggregateType: decider.aggregateType, snapshotType: decider.aggregateType, stateVersion: decider.stateVersion, version, state: stored },
          options.keepSnapshots,
          options.historicSnapshotEvery,
        );
        snapshotted = true;
      } catch (error) {
        // A snapshot is only a cache: the command has succeeded without it.
        options.onSnapshotError?.(error);
      }
    }
    // A repeat wrote nothing this time, however it was found (before the append or by it).
    return { streamId, events: append.repeated ? [] : events, append, state, version, snapshotted, repeated: append.repeated };
  }
}
