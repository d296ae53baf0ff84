// Types shared by the store and the domain. The store knows no domain: events are
// { type, data } pairs, and deciders are plain records of functions.

export type EventData = Record<string, unknown>;

/** A domain event as deciders produce and evolve it: a tag and its payload. */
export type DomainEvent<T extends string = string, D extends EventData = EventData> = {
  readonly type: T;
  readonly data: D;
};

export type ExpectedVersion = number | "no_stream" | "stream_exists" | "any";

/** Free key/values carried with an event besides the standard fields. */
export type MetadataExtra = Record<string, string | number | boolean | null>;

/** What the caller supplies with each event it appends. */
export type EventEnvelopeInput = {
  eventId: string;
  occurredAt: Date;
  userId: string;
  correlationId: string;
  causationId: string | null;
  extra?: MetadataExtra;
};

export type NewEvent = DomainEvent & EventEnvelopeInput;

/** Every stored event carries all of these. */
export type EventMetadata = {
  eventId: string;
  occurredAt: Date;
  recordedAt: Date;
  userId: string;
  correlationId: string;
  causationId: string | null;
  /** The payload's schema version as stored (before upcasting). */
  schemaVersion: number;
  extra: MetadataExtra;
};

export type StoredEvent<E extends DomainEvent = DomainEvent> = E & {
  streamId: string;
  aggregateType: string;
  version: number;
  globalPosition: number;
  /** The writing transaction's id (xid8, as text): with globalPosition, the commit-order checkpoint. */
  transactionId: string;
  metadata: EventMetadata;
};

export type AppendResult = {
  streamId: string;
  /** The stream's version after the append. */
  nextExpectedVersion: number;
  events: { eventId: string; version: number; globalPosition: number; recordedAt: Date }[];
  /** True when these event ids had been appended before: nothing was written. */
  repeated: boolean;
};

/**
 * An event as a fold of the log needs it (streamFold): type, payload, stream, version, position
 * and when it occurred, without the rest of the envelope. Every StoredEvent is one.
 */
export type FoldEvent = DomainEvent & {
  streamId: string;
  version: number;
  globalPosition: number;
  transactionId: string;
  metadata: Pick<EventMetadata, "occurredAt" | "schemaVersion">;
};

/** A position in the global log, in commit order. */
export type LogCheckpoint = { transactionId: string; globalPosition: number };

/**
 * A decider: pure functions that turn commands into events and fold events into state.
 * Time and ids come inside commands, never from inside.
 */
export type Decider<C, E extends DomainEvent, S> = {
  /** The stream type recorded with every event (patient, encounter, order). */
  aggregateType: string;
  initialState: () => S;
  evolve: (state: S, event: E) => S;
  decide: (command: C, state: S) => E[];
  /** Bump when the state's shape changes: older snapshots are then ignored. */
  stateVersion: number;
  /**
   * When what an event records happened, where its payload says so (an encounter entered after
   * the fact starts and ends at the times the clinician gave): its `occurred_at`, the "as it
   * happened" axis. Otherwise (undefined) the command's time.
   */
  occurredAt?: (event: E) => string | undefined;
};
