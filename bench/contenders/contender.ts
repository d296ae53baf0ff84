// The three columns: our store, the raw SQL ceiling and the peer (Emmett). Every workload
// drives them through this one shape, so each does the same rows.
import type { NewEvent } from "../../server/eventStore/types";
import type { BenchState, ReplayState } from "../lib/events";

export type ContenderName = "ours" | "raw" | "peer";

export type AppendOutcome = { ok: true; version: number } | { ok: false; actual: number | null };

export type Contender = {
  name: ContenderName;
  /** Installs this contender's process-wide driver settings before it is measured. */
  enter(): void;
  /** Appends with `expected` as the stream's version (0: the stream must not exist yet). */
  append(streamId: string, events: NewEvent[], expected: number): Promise<AppendOutcome>;
  /** The stream's current version: what a writer reads after losing a race. */
  version(streamId: string): Promise<number>;
  /** Folds the stream into state: from the latest snapshot when `useSnapshot`, else from the start. */
  load(streamId: string, useSnapshot: boolean): Promise<{ state: BenchState; version: number }>;
  /** Stores a snapshot of `state` at `version`; false when the contender has no snapshots. */
  saveSnapshot(streamId: string, version: number, state: BenchState): Promise<boolean>;
  /** The state right after event `version`, without snapshots (to seed a snapshot). */
  stateAt(streamId: string, version: number): Promise<BenchState>;
  /** How many events the contender's log holds (a count, not a read). */
  count(): Promise<number>;
  /** Waits until its log reader can see all `stored` events (when it cuts at a server-wide horizon). */
  untilVisible?(stored: number): Promise<void>;
  /** VACUUM (ANALYZE) of the log's tables: what autovacuum does after a burst of writes. */
  vacuumLog(): Promise<void>;
  /** Reads the whole log in commit order, `pageSize` events at a time, folding every event. */
  replay(pageSize: number): Promise<ReplayState>;
  close(): Promise<void>;
};

export type Contenders = { ours: Contender; raw: Contender; peer: Contender; all: Contender[] };
