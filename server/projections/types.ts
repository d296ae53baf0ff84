// What a projection is: a name, a code version, the tables it owns, and how a batch of events
// (in commit order, each stream's events in version order) changes those tables.
import type { Db, StoredEvent } from "../eventStore";

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
};

/** The target of a live run: every owned table is itself. */
export const liveTarget: ProjectionTarget = { table: (name) => name };
