// Snapshots are a cache of folded state: a load with them must equal a load without them.
// A snapshot records the state's schema version; one written by another state shape is ignored.
// Snapshots are read by loadAggregate's single query (aggregate.ts); this module writes them.
import type { Db, Store } from "./db";
import { recordSnapshot } from "../metrics/registry";

export const defaultKeepSnapshots = 3;
/**
 * Besides the newest few, the first snapshot in every run of this many versions stays: a load
 * at an old version (time travel, audits) starts from one of them, not from version 1, so it
 * folds at most about this many events plus the snapshot interval, however long the stream.
 */
export const defaultHistoricSnapshotEvery = 500;

/**
 * Writes a snapshot (once per version) and prunes the others except the newest `keep` and the
 * earliest one of each run of `historicEvery` versions (sparse historic snapshots).
 */
export async function saveSnapshot(
  db: Db,
  snapshot: { streamId: string; aggregateType: string; snapshotType: string; stateVersion: number; version: number; state: unknown },
  keep = defaultKeepSnapshots,
  historicEvery = defaultHistoricSnapshotEvery,
): Promise<void> {
  await db.$executeRawUnsafe(
    `WITH saved AS (
       INSERT INTO snapshots (stream_id, aggregate_type, version, snapshot_type, state_version, data)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb)
       ON CONFLICT (stream_id, version) DO NOTHING
       RETURNING id
     )
     DELETE FROM snapshots d WHERE d.stream_id = $1 AND d.id IN (
       -- The newest $7 stay, the one being saved among them wherever its version falls (this
       -- statement's DELETE cannot see it: it stands in with no id; a historic one saved below
       -- the newest must not push one of them out).
       SELECT id FROM (
         SELECT id, version FROM snapshots WHERE stream_id = $1
         UNION ALL
         SELECT NULL::bigint, $3::integer WHERE NOT EXISTS (SELECT 1 FROM snapshots WHERE stream_id = $1 AND version = $3)
       ) kept ORDER BY version DESC OFFSET $7
     ) AND EXISTS (
       -- historic: kept unless an earlier snapshot holds the same run of versions
       SELECT 1 FROM snapshots o WHERE o.stream_id = $1 AND o.version / $8 = d.version / $8 AND o.version < d.version
     )`,
    snapshot.streamId,
    snapshot.aggregateType,
    snapshot.version,
    snapshot.snapshotType,
    snapshot.stateVersion,
    JSON.stringify(snapshot.state),
    Math.max(keep, 1),
    Math.max(1, Math.floor(historicEvery)),
  );
  recordSnapshot(snapshot.aggregateType);
}

/** True when appending moved the stream across a multiple of `every`. */
export function crossesSnapshotThreshold(fromVersion: number, toVersion: number, every: number): boolean {
  return Math.floor(toVersion / every) > Math.floor(fromVersion / every);
}

/** The newest snapshot of the stream at or below `version` written by this state shape, if any. */
export async function snapshotAtOrBelow(
  store: Pick<Store, "sql">,
  streamId: string,
  snapshot: { snapshotType: string; stateVersion: number },
  version: number,
): Promise<{ version: number; state: unknown } | null> {
  if (version < 1) return null;
  const [row] = await store.sql<{ version: number; data: unknown }>(
    `SELECT version, data FROM snapshots
      WHERE stream_id = $1 AND snapshot_type = $2 AND state_version = $3 AND version <= $4
      ORDER BY version DESC LIMIT 1`,
    [streamId, snapshot.snapshotType, snapshot.stateVersion, version],
  );
  return row ? { version: row.version, state: row.data } : null;
}
