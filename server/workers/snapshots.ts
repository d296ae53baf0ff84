// What an admin sees and does about snapshots, the cache of folded state (eventStore/snapshots.ts):
// - the figures, per aggregate type and state version, with the version this build folds with,
//   so snapshots nobody loads any more (written before a state version bump) show as dead weight;
// - a check of a sample against a fold of the events (no snapshot used): the state version
//   catches a changed state shape only when someone bumped it, and a fold changed without a bump
//   leaves snapshots that loads still trust; a check finds them;
// - a discard, for a reason, recorded as an operations event in the DELETE's transaction.
// Never a snapshot's state (sealed PHI) leaves here: ids, versions, counts and sizes.
import { randomUUID } from "node:crypto";
import { appendToStream, foldPageSize, readStream, sameJson, type Decider, type Store } from "../eventStore";
import { openState, preparePhi } from "../eventStore/protect";
import { OPERATIONS_AGGREGATE, SnapshotsDiscarded, snapshotsStream } from "../domain/operations/events";
import type { Who } from "./deadLetters";

/** Any aggregate's decider: the check folds each with its own events and compares JSON, whatever its types. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDecider = Decider<any, any, any>;

type Num = bigint | string | number;
type FigureRow = { aggregate_type: string; state_version: number; snapshots: Num; streams: Num; bytes: Num | null; newest: Date; oldest: Date };

export type SnapshotGroup = {
  aggregateType: string;
  stateVersion: number;
  /** Loads of this build start from these (false: written by another state shape, never read). */
  used: boolean;
  snapshots: number;
  /** Streams with at least one snapshot of this version. */
  streams: number;
  /** Stored size of the snapshots' data (pg_column_size: after TOAST compression). */
  bytes: number;
  newestAt: Date;
  oldestAt: Date;
};

/** Snapshots per aggregate type and state version, and the state version each aggregate type folds with now. */
export async function snapshotFigures(store: Pick<Store, "sql">, deciders: readonly AnyDecider[]) {
  const current = new Map(deciders.map((d) => [d.aggregateType, d.stateVersion]));
  // One scan of the table: a few snapshots per stream (saveSnapshot prunes), never the whole log.
  const rows = await store.sql<FigureRow>(
    `SELECT aggregate_type, state_version, count(*) AS snapshots, count(DISTINCT stream_id) AS streams,
            sum(pg_column_size(data)) AS bytes, max(created_at) AS newest, min(created_at) AS oldest
       FROM snapshots GROUP BY aggregate_type, state_version ORDER BY aggregate_type, state_version DESC`,
    [],
  );
  const groups: SnapshotGroup[] = rows.map((r) => ({
    aggregateType: r.aggregate_type,
    stateVersion: Number(r.state_version),
    used: current.get(r.aggregate_type) === Number(r.state_version),
    snapshots: Number(r.snapshots),
    streams: Number(r.streams),
    bytes: Number(r.bytes ?? 0),
    newestAt: r.newest,
    oldestAt: r.oldest,
  }));
  return { groups, foldedWith: deciders.map((d) => ({ aggregateType: d.aggregateType, stateVersion: d.stateVersion })) };
}

export const maxCheckSample = 200;

export type CheckResult = {
  aggregateType: string;
  stateVersion: number;
  checked: number;
  matched: number;
  /** Sealed under an erased patient's key, or not sealed for its stream and version (altered, moved, or written before snapshots were bound to their place): loads fold the events instead, so nothing to compare. */
  unopenable: number;
  /** Snapshots whose state is not what a fold of the events up to their version gives. */
  mismatches: { streamId: string; version: number }[];
};

type SampleRow = { stream_id: string; version: number; data: unknown };

/**
 * The newest `sample` snapshots of each aggregate type at the state version this build folds with
 * (the ones loads use), each compared with a fold of its stream's events from the start to its
 * version, without snapshots. One stream at a time: the check is an admin's question, not a load
 * that should crowd the clinicians' commands on a shared database.
 */
export async function checkSnapshots(store: Store, deciders: readonly AnyDecider[], sample: number): Promise<CheckResult[]> {
  const n = Math.max(1, Math.min(maxCheckSample, Math.floor(sample)));
  const results: CheckResult[] = [];
  for (const decider of deciders) {
    const rows = await store.sql<SampleRow>(
      `SELECT stream_id, version, data FROM snapshots
        WHERE aggregate_type = $1 AND snapshot_type = $1 AND state_version = $2
        ORDER BY id DESC LIMIT $3`,
      [decider.aggregateType, decider.stateVersion, n],
    );
    await preparePhi(store, rows.map((r) => r.data));
    const result: CheckResult = { aggregateType: decider.aggregateType, stateVersion: decider.stateVersion, checked: 0, matched: 0, unopenable: 0, mismatches: [] };
    for (const row of rows) {
      result.checked += 1;
      const opened = await openState(store, { streamId: row.stream_id, version: row.version, stateVersion: decider.stateVersion }, decider.aggregateType, row.data);
      if (opened === null) {
        result.unopenable += 1;
        continue;
      }
      const folded = await foldEvents(store, row.stream_id, decider, row.version);
      // A snapshot beyond the stream's events (its events are never deleted) is as wrong as a different state.
      if (folded.version === row.version && sameJson(opened, folded.state)) result.matched += 1;
      else result.mismatches.push({ streamId: row.stream_id, version: row.version });
    }
    results.push(result);
  }
  return results;
}

/**
 * The stream's state at `upTo` from its first event, page by page, as writeHistoricSnapshots folds:
 * not through loadAtVersion, whose loads the metrics count (the check's folds would read as loads
 * that missed their snapshot, and the hit rate on Admin → Metrics would drop for an admin's check).
 */
async function foldEvents(store: Store, streamId: string, decider: AnyDecider, upTo: number): Promise<{ state: unknown; version: number }> {
  let state: unknown = decider.initialState();
  let version = 0;
  for (;;) {
    const page = await readStream(store, streamId, { fromVersion: version + 1, toVersion: upTo, maxCount: foldPageSize });
    for (const event of page) {
      state = decider.evolve(state, event);
      version = event.version;
    }
    if (page.length < foldPageSize || version >= upTo) return { state, version };
  }
}

export type Discard = { aggregateType: string; which: "stale" | "all"; reason: string };

/**
 * Deletes the snapshots of one aggregate type (`stale`: those of state versions this build does
 * not fold with; `all`: every one) and records SnapshotsDiscarded with how many went, in one
 * transaction. Two admins at once: each DELETE counts the rows it removed (the second waits on the
 * first's row locks and finds them gone), so the two events add up to what was there. Nothing
 * discarded, nothing recorded.
 */
export async function discardSnapshots(store: Store, deciders: readonly AnyDecider[], discard: Discard, who: Who) {
  const currentStateVersion = deciders.find((d) => d.aggregateType === discard.aggregateType)?.stateVersion ?? null;
  const run = async (tx: Store) => {
    const [gone] = await tx.sql<{ discarded: Num; bytes: Num | null }>(
      `WITH gone AS (
         DELETE FROM snapshots
          WHERE aggregate_type = $1 AND ($2::text = 'all' OR $3::integer IS NULL OR state_version <> $3 OR snapshot_type <> aggregate_type)
          RETURNING pg_column_size(data) AS size)
       SELECT count(*) AS discarded, sum(size) AS bytes FROM gone`,
      [discard.aggregateType, discard.which, currentStateVersion],
    );
    const discarded = Number(gone?.discarded ?? 0);
    const bytes = Number(gone?.bytes ?? 0);
    if (discarded > 0) {
      const data = SnapshotsDiscarded.schema.parse({ aggregateType: discard.aggregateType, which: discard.which, currentStateVersion, discarded, bytes, reason: discard.reason });
      await appendToStream(
        tx,
        snapshotsStream(discard.aggregateType),
        [{ type: SnapshotsDiscarded.type, data, eventId: randomUUID(), occurredAt: new Date(), userId: who.userId, correlationId: who.correlationId, causationId: null }],
        { expectedVersion: "any", aggregateType: OPERATIONS_AGGREGATE },
      );
    }
    return { aggregateType: discard.aggregateType, which: discard.which, discarded, bytes };
  };
  return store.transaction ? store.transaction(run) : run(store);
}
