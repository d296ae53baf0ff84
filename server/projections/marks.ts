// How far each async projection has got, for the pages' "as of": every batch a projection applies
// moves its mark to the newest event in it (in the same transaction), and the lag is the time
// between that event and the newest event of the projection's types in the log.
import { prismaRunner, type Db, type StoredEvent } from "../eventStore";
import type { Projection } from "./types";

/**
 * Records the newest event of the batch as applied. Only forwards (GREATEST), so a rebuild that
 * replays old events into shadow tables never makes the live pages look older than they are.
 */
export async function markApplied(tx: Db, projection: string, events: readonly StoredEvent[]): Promise<void> {
  if (events.length === 0) return;
  let recordedAt = events[0]!.metadata.recordedAt;
  let position = events[0]!.globalPosition;
  for (const e of events) {
    if (e.metadata.recordedAt > recordedAt) recordedAt = e.metadata.recordedAt;
    if (e.globalPosition > position) position = e.globalPosition;
  }
  await prismaRunner(tx)(
    `INSERT INTO projection_marks AS m (projection, last_recorded_at, last_position, updated_at)
     VALUES ($1, $2::timestamptz, $3::bigint, now())
     ON CONFLICT (projection) DO UPDATE
        SET last_recorded_at = GREATEST(m.last_recorded_at, EXCLUDED.last_recorded_at),
            last_position = GREATEST(m.last_position, EXCLUDED.last_position),
            updated_at = now()`,
    [projection, recordedAt.toISOString(), position],
  );
}

export type ProjectionLag = {
  /** The newest event the projection has applied (recorded time); null before its first batch. */
  appliedUpTo: Date | null;
  /** The newest event of the projection's types in the log; null when there is none. */
  newestInLog: Date | null;
  /** Seconds the page's numbers trail the log by: 0 when caught up, null before the first batch. */
  lagSeconds: number | null;
};

/** The lag of one projection, from its mark and the log's newest event of its types. */
export async function projectionLag(db: Db, projection: Pick<Projection, "name" | "eventTypes">): Promise<ProjectionLag> {
  const types = projection.eventTypes ? [...projection.eventTypes] : null;
  // Newest by position, one backward index step per type: cheap on a log of any size.
  const [row] = await prismaRunner(db)<{ applied: Date | null; newest: Date | null }>(
    `SELECT (SELECT last_recorded_at FROM projection_marks WHERE projection = $1) AS applied,
            CASE WHEN $2::text[] IS NULL
                 THEN (SELECT recorded_at FROM events ORDER BY global_position DESC LIMIT 1)
                 ELSE (SELECT max((SELECT recorded_at FROM events e WHERE e.event_type = t ORDER BY e.global_position DESC LIMIT 1))
                         FROM unnest($2::text[]) AS t)
            END AS newest`,
    [projection.name, types],
  );
  const appliedUpTo = row?.applied ? new Date(row.applied) : null;
  const newestInLog = row?.newest ? new Date(row.newest) : null;
  let lagSeconds: number | null = null;
  if (appliedUpTo) lagSeconds = newestInLog ? Math.max(0, (newestInLog.getTime() - appliedUpTo.getTime()) / 1000) : 0;
  else if (!newestInLog) lagSeconds = 0;
  return { appliedUpTo, newestInLog, lagSeconds };
}
