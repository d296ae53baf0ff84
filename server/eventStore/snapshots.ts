// Snapshots are a cache of folded state: a load with them must equal a load without them.
// A snapshot records the state's schema version; one written by another state shape is ignored.
// Snapshots are read by loadAggregate's single query (aggregate.ts); this module writes them.
import type { Db } from "./db";
import { recordSnapshot } from "../metrics/registry";

export const defaultKeepSnapshots = 3;

/** Writes a snapshot (once per version) and prunes all but the newest `keep`. */
export async function saveSnapshot(
  db: Db,
  snapshot: { streamId: string; aggregateType: string; snapshotType: string; stateVersion: number; version: number; state: unknown },
  keep = defaultKeepSnapshots,
): Promise<void> {
  await db.$executeRawUnsafe(
    `WITH saved AS (
       INSERT INTO snapshots (stream_id, aggregate_type, version, snapshot_type, state_version, data)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (stream_id, version) DO NOTHING
       RETURNING id
     )
     DELETE FROM snapshots WHERE stream_id = $1 AND id IN (
       SELECT id FROM snapshots WHERE stream_id = $1 ORDER BY version DESC OFFSET $7
     )`,
    snapshot.streamId,
    snapshot.aggregateType,
    snapshot.version,
    snapshot.snapshotType,
    snapshot.stateVersion,
    JSON.stringify(snapshot.state),
    // The row being inserted is invisible to this statement's DELETE: keep one fewer old ones.
    Math.max(keep - 1, 0),
  );
  recordSnapshot(snapshot.aggregateType);
}

/** True when appending moved the stream across a multiple of `every`. */
export function crossesSnapshotThreshold(fromVersion: number, toVersion: number, every: number): boolean {
  return Math.floor(toVersion / every) > Math.floor(fromVersion / every);
}
