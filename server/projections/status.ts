// What the admin console shows about each projection, from the checkpoint table, the running or
// last rebuild, and (for async ones) how much of the log is still after the checkpoint.
import { prismaRunner, type Db } from "../eventStore";
import { ensureCheckpoints } from "./runner";
import { isStalled, rebuildColumns, toRebuild, type RebuildRow } from "./rebuild";
import { isInline } from "./registry";
import type { Projection } from "./types";

export type ProjectionState = "running" | "behind" | "rebuilding" | "rebuild_stalled" | "failed" | "needs_rebuild";

export type ProjectionStatus = {
  name: string;
  description: string;
  kind: "inline" | "async";
  tables: readonly string[];
  codeVersion: number;
  builtVersion: number;
  state: ProjectionState;
  needsRebuild: boolean;
  checkpoint: { transactionId: string; globalPosition: number } | null;
  lagEvents: number;
  lagSeconds: number;
  eventsPerSecond: number;
  lastAppliedAt: Date | null;
  lastError: { message: string; eventId: string | null; at: Date | null } | null;
  rebuild: RebuildRow | null;
  lastRebuild: RebuildRow | null;
};

type Row = {
  name: string; transaction_id: string; global_position: string | number; code_version: number; status: string;
  last_error: string | null; last_error_event_id: string | null; last_error_at: Date | null; events_per_second: number;
  applied_at: Date | null; lag_events: string | number; lag_seconds: number;
};

/**
 * An async projection's lag: the events of its types after its checkpoint in commit order
 * (counted up to `cap`) and the age of the oldest of them. The console and the metrics both say this.
 */
export async function lagOf(
  db: Db,
  projection: Projection,
  checkpoint: { transaction_id: string; global_position: string | number },
  cap = 1_000_000,
): Promise<{ events: number; seconds: number }> {
  const types = projection.eventTypes && projection.eventTypes.length > 0 ? [...projection.eventTypes] : null;
  const [lag] = await prismaRunner(db)<{ n: string | number; age: number | null }>(
    `SELECT count(*) AS n, extract(epoch FROM now() - min(recorded_at))::float8 AS age
       FROM (SELECT recorded_at FROM events
              WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
                AND ($3::text[] IS NULL OR event_type = ANY ($3::text[]))
              LIMIT $4) AS behind`,
    [checkpoint.transaction_id, Number(checkpoint.global_position), types, cap],
  );
  return { events: Number(lag?.n ?? 0), seconds: Math.max(0, Number(lag?.age ?? 0)) };
}

export async function projectionStatuses(db: Db, projections: readonly Projection[]): Promise<ProjectionStatus[]> {
  await ensureCheckpoints(db, projections);
  const names = projections.map((p) => p.name);
  const rows = await prismaRunner(db)<Row>(
    `SELECT name, transaction_id::text AS transaction_id, global_position, code_version, status, last_error,
            last_error_event_id::text AS last_error_event_id, last_error_at, events_per_second, applied_at, lag_events, lag_seconds
       FROM projection_checkpoints WHERE name = ANY ($1::text[])`,
    [names],
  );
  const rebuilds = await prismaRunner(db)<Parameters<typeof toRebuild>[0] & { rank: number }>(
    `SELECT * FROM (
       SELECT ${rebuildColumns}, row_number() OVER (PARTITION BY name ORDER BY (status = 'running') DESC, started_at DESC) AS rank
         FROM projection_rebuilds WHERE name = ANY ($1::text[])
     ) r WHERE rank <= 2`,
    [names],
  );
  const byName = new Map(rows.map((r) => [r.name, r]));
  const out: ProjectionStatus[] = [];
  for (const projection of projections) {
    const row = byName.get(projection.name)!;
    const mine = rebuilds.filter((r) => r.name === projection.name).map(toRebuild);
    const rebuild = mine.find((r) => r.status === "running") ?? null;
    const lastRebuild = mine.find((r) => r.status !== "running") ?? null;
    const inline = isInline(projection);
    const lag = inline ? { events: 0, seconds: 0 } : await lagOf(db, projection, row);
    const needsRebuild = row.code_version !== projection.version;
    const failed = row.status === "failed";
    const state: ProjectionState = rebuild ? (isStalled(rebuild) ? "rebuild_stalled" : "rebuilding") : failed ? "failed" : needsRebuild ? "needs_rebuild" : lag.events > 0 ? "behind" : "running";
    out.push({
      name: projection.name,
      description: projection.description,
      kind: inline ? "inline" : "async",
      tables: projection.tables,
      codeVersion: projection.version,
      builtVersion: row.code_version,
      state,
      needsRebuild,
      checkpoint: inline ? null : { transactionId: row.transaction_id, globalPosition: Number(row.global_position) },
      lagEvents: lag.events,
      lagSeconds: lag.seconds,
      eventsPerSecond: Number(row.events_per_second),
      lastAppliedAt: row.applied_at,
      lastError: row.last_error ? { message: row.last_error, eventId: row.last_error_event_id, at: row.last_error_at } : null,
      rebuild,
      lastRebuild,
    });
  }
  return out;
}
