// Sparse historic snapshots for streams that lack them: a stream laid down in bulk (an import) or
// grown long before snapshots kept one per run of versions has none below its newest few, and a
// load at an old version of it (time travel, an audit) folds from version 1. This finds those
// streams and writes the missing ones (writeHistoricSnapshots: one fold over the stream, a
// snapshot at every multiple of defaultHistoricSnapshotEvery). Snapshots are a cache: running it
// changes no load's result, only how much a load at an old version folds.
import { defaultHistoricSnapshotEvery, writeHistoricSnapshots, type Store } from "../eventStore";
import { ENVELOPE_KEY } from "../eventStore/phi";
import { InvariantError } from "../errors";
import type { AnyDecider } from "./snapshots";

/**
 * Streams of the given aggregate types with at least one run of versions past the first (versions
 * `every`..2·`every`-1, and so on, up to the stream's version) holding no snapshot that this
 * build's fold would use (its snapshot type and state version), in stream id order after `after`.
 */
type Missing = "count" | "page" | "among";
const missingSql = (mode: Missing) => `
  WITH folds AS (SELECT * FROM unnest($1::text[], $2::integer[]) AS f(aggregate_type, state_version))
  SELECT ${mode === "count" ? "count(*)::integer AS n" : "s.stream_id, s.stream_type, s.version"}
    FROM streams s JOIN folds f ON f.aggregate_type = s.stream_type
   WHERE s.version >= $3
     ${mode === "page" ? "AND s.stream_id > $4" : mode === "among" ? "AND s.stream_id = ANY($4::text[])" : ""}
     -- Not a record whose patient was erased: nothing is sealed under a destroyed key (the
     -- subject is the first event's, as protect.ts reads it; an erased key keeps its row, emptied).
     AND NOT EXISTS (
       SELECT 1 FROM events e JOIN phi_keys k ON k.subject_id = coalesce(e.data->'${ENVELOPE_KEY}'->>'kid', e.data->>'patientId')
        WHERE e.stream_id = s.stream_id AND e.version = 1 AND (k.wrapped_key IS NULL OR k.master_key_id IS NULL))
     AND (SELECT count(DISTINCT n.version / $3) FROM snapshots n
           WHERE n.stream_id = s.stream_id AND n.snapshot_type = s.stream_type
             AND n.state_version = f.state_version AND n.version >= $3) < s.version / $3
   ${mode === "page" ? "ORDER BY s.stream_id LIMIT $5" : ""}`;

const foldsOf = (deciders: readonly AnyDecider[]) => [deciders.map((d) => d.aggregateType), deciders.map((d) => d.stateVersion)];

/** How many streams lack historic snapshots (the admin's Snapshots panel shows it; the command below fills them). */
export async function countStreamsMissingHistoricSnapshots(store: Pick<Store, "sql">, deciders: readonly AnyDecider[]): Promise<number> {
  const [row] = await store.sql<{ n: number }>(missingSql("count"), [...foldsOf(deciders), defaultHistoricSnapshotEvery]);
  return row?.n ?? 0;
}

/** How long one call of the console's "Write them" works before answering with where it got to. */
export const historicBatchMs = 2_000;

export type HistoricBackfillProgress = {
  /** Streams lacking historic snapshots when the run started. */
  streams: number;
  /** Of those, looked at so far. */
  done: number;
  snapshotsWritten: number;
};

export type HistoricBackfillResult = HistoricBackfillProgress & {
  /**
   * Streams whose patient was erased during the run (erased ones are not looked for): nothing is
   * sealed under a destroyed key; loads of them show the erasure.
   */
  erased: string[];
  /**
   * Streams still lacking one after their fold: a snapshot of another state shape holds the
   * version (written before a state version bump; Admin → Snapshots discards stale ones).
   */
  stillMissing: string[];
  interrupted: boolean;
  /** The last stream looked at (stream id order): a later run given it as `after` carries on from there. */
  lastStreamId: string | null;
};

/**
 * Writes the missing historic snapshots, one stream at a time (a fold reads the stream page by
 * page; nothing of the log is held), in stream id order from after `after`, until done or
 * `signal` aborts (after the current stream: `lastStreamId` is where to carry on). Safe beside
 * live appends and another run: a snapshot is written once per version, and a stream's events at
 * a version never change.
 */
export async function backfillHistoricSnapshots(
  store: Store,
  deciders: readonly AnyDecider[],
  options: {
    signal?: AbortSignal;
    onProgress?: (p: HistoricBackfillProgress) => void;
    pageSize?: number;
    after?: string;
    /** Streams looked at before `signal` is heeded (a batch with a time budget always gets somewhere). */
    atLeast?: number;
  } = {},
): Promise<HistoricBackfillResult> {
  const every = defaultHistoricSnapshotEvery;
  const byType = new Map(deciders.map((d) => [d.aggregateType, d]));
  const streams = await countStreamsMissingHistoricSnapshots(store, deciders);
  const result: HistoricBackfillResult = { streams, done: 0, snapshotsWritten: 0, erased: [], stillMissing: [], interrupted: false, lastStreamId: null };
  options.onProgress?.({ streams, done: 0, snapshotsWritten: 0 });
  // What is still missing on the streams just folded (a version held by a snapshot of another shape).
  const checkLeft = async (folded: string[]) => {
    if (folded.length === 0) return;
    const left = await store.sql<{ stream_id: string }>(missingSql("among"), [...foldsOf(deciders), every, folded]);
    result.stillMissing.push(...left.map((r) => r.stream_id));
  };
  for (;;) {
    const page = await store.sql<{ stream_id: string; stream_type: string; version: number }>(missingSql("page"), [
      ...foldsOf(deciders),
      every,
      result.lastStreamId ?? options.after ?? "",
      options.pageSize ?? 100,
    ]);
    if (page.length === 0) return result;
    const folded: string[] = [];
    for (const stream of page) {
      if (options.signal?.aborted && result.done >= (options.atLeast ?? 0)) {
        await checkLeft(folded);
        return { ...result, interrupted: true };
      }
      result.lastStreamId = stream.stream_id;
      try {
        result.snapshotsWritten += await writeHistoricSnapshots(store, stream.stream_id, byType.get(stream.stream_type)!, every);
        folded.push(stream.stream_id);
      } catch (error) {
        if (!(error instanceof InvariantError && error.rule === "patient.erased")) throw error;
        result.erased.push(stream.stream_id);
      }
      result.done += 1;
      options.onProgress?.({ streams: Math.max(streams, result.done), done: result.done, snapshotsWritten: result.snapshotsWritten });
    }
    await checkLeft(folded);
  }
}
