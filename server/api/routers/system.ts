import type { Database } from "../../db/client";
import { migrationStatus, type MigrationStatus } from "../../db/migrate";
import { publicProcedure, router } from "../trpc";

export type HealthDetails = {
  mode: "postgresql" | "embedded";
  location: string;
  migration: { latest: string | null; applied: number; pending: number };
  /**
   * Estimates, never a count over the tables (every open console asks every 10 s): events is the
   * highest global position (an upper bound: a rolled-back append leaves a gap); streams is the
   * statistics' live-row estimate, null until the database has gathered any.
   */
  estimates: { events: number; streams: number | null };
  serverTime: Date;
};

export type Health = { status: "up"; details?: HealthDetails };

/**
 * Migrations change only when a deployment runs them, and every open console asks for health
 * every 10 s: the status is read at most once per STATUS_SECONDS per database.
 */
const STATUS_SECONDS = 5;
const statusCache = new WeakMap<Database, { at: number; status: Promise<MigrationStatus> }>();

function recentMigrationStatus(db: Database): Promise<MigrationStatus> {
  const cached = statusCache.get(db);
  if (cached && Date.now() - cached.at < STATUS_SECONDS * 1000) return cached.status;
  const status = migrationStatus(db);
  statusCache.set(db, { at: Date.now(), status });
  status.catch(() => statusCache.delete(db));
  return status;
}

export const systemRouter = router({
  /** "up" for anyone; for signed-in users, where the data lives and how far it is migrated. */
  health: publicProcedure.query(async ({ ctx }): Promise<Health> => {
    if (!ctx.user) return { status: "up" };
    const [status, rows] = await Promise.all([
      recentMigrationStatus(ctx.db),
      // Streams: the planner's estimate, or the live-tuple count when that is higher. The count
      // alone restarts from zero whenever the statistics do (the embedded database on every
      // reopen: "about 4" streams of more than a thousand); a table never analyzed is counted.
      ctx.db.prisma.$queryRawUnsafe<{ events: bigint | null; streams: bigint | null; now: Date }[]>(
        `SELECT (SELECT max(global_position) FROM events)::bigint AS events,
                (SELECT CASE WHEN c.reltuples >= 0 THEN greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0))
                             ELSE (SELECT count(*) FROM streams) END
                   FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                  WHERE c.oid = 'streams'::regclass) AS streams,
                now() AS now`,
      ),
    ]);
    const row = rows[0];
    return {
      status: "up",
      details: {
        mode: ctx.db.mode,
        location: ctx.db.mode === "embedded" ? ctx.db.location : "PostgreSQL",
        migration: { latest: status.latest, applied: status.applied.length, pending: status.pending.length },
        estimates: { events: Number(row?.events ?? 0), streams: row?.streams == null ? null : Number(row.streams) },
        serverTime: row?.now ?? new Date(),
      },
    };
  }),
});
