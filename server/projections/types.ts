// What a projection is: a name, a code version, the tables it owns, and how a batch of events
// (in commit order, each stream's events in version order) changes those tables.
import type { Db, FoldEvent, Store, StoredEvent } from "../eventStore";

/**
 * Where a projection writes. A live run maps each owned table to itself; a rebuild maps them to
 * shadow tables that are swapped in when the rebuild has caught up, so readers never see a
 * half-built table. Always build SQL through `table()`, never with a table name written inline.
 */
export type ProjectionTarget = {
  table(name: string): string;
};

export type Projection = {
  /** Stable identifier (snake_case): the checkpoint's key and the name admins see. */
  name: string;
  /** What it is for, in a sentence an admin understands. */
  description: string;
  /** Bump when the code changes what the tables hold: the projection is then flagged "needs rebuild". */
  version: number;
  /** The tables it owns, created by a migration; a rebuild recreates each as a shadow `LIKE` it. */
  tables: readonly string[];
  /** Only these event types reach `apply` (all when absent); the runner filters in SQL. */
  eventTypes?: readonly string[];
  /**
   * Applies one batch inside the runner's transaction (the checkpoint is stored in the same one),
   * so a crash replays at most the uncommitted batch. Must be idempotent per event for
   * at-least-once safety only where it says so; the runner gives exactly-once in effect.
   */
  apply(tx: Db, events: readonly StoredEvent[], target: ProjectionTarget): Promise<void>;
  /**
   * Optional: a rebuild's replay into the shadow, faster than `apply` batch by batch. It is given the
   * events as a fold reads them (streamAllForFold: no envelope beyond the time they occurred). It may hold
   * state across batches (and write rows later than the batch that changed them) and writes
   * through `store` outside any transaction; after `finish` the shadow must hold exactly what
   * `apply` over the same events would have written. The swap's tail still goes through `apply`.
   * Every write goes through `fenced` (reads may use `store`).
   */
  replay?(store: Store, target: ProjectionTarget, fenced: Fenced): Replay;
};

/**
 * Runs a rebuild's writes to its shadow in one transaction that first holds the rebuild's row as
 * still running, and throws when it is not. A rebuild whose lock session died while its process
 * ran on is ended by the rebuild that takes over (which then makes the shadow tables afresh, under
 * the same names): from then on nothing of the old one lands in them.
 */
export type Fenced = <T>(fn: (tx: Db) => Promise<T>) => Promise<T>;

/** A rebuild's replay (see Projection.replay): batches in commit order, then finish once. */
export type Replay = {
  /** Folds a batch. May leave writes running; a failed write fails a later call. */
  batch(events: readonly FoldEvent[]): Promise<void>;
  /** Writes everything still held and waits for every write. */
  finish(): Promise<void>;
  /** A rebuild that stops: waits for any write still running (its outcome ignored), so none lands after the shadow is dropped. */
  settle(): Promise<void>;
};

/** The target of a live run: every owned table is itself. */
export const liveTarget: ProjectionTarget = { table: (name) => name };
