import type { Database, PoolState } from "../../db/client";
import { migrationStatus, type MigrationStatus } from "../../db/migrate";
import { publicProcedure, router } from "../trpc";
import { componentLogger } from "../../log";
import { CLOCK_SKEW_WARN_SECONDS } from "../../../shared/clock";

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
  /**
   * This process's clock against the database's, in seconds (positive: this process is ahead),
   * within the query's round trip. Session expiry, the sign-in limits and the clinical times a
   * command records come from this process's clock; recorded times and leases from the database's.
   */
  clockSkewSeconds: number;
};

let lastSkewWarning = 0;

/** Says once a minute, as a JSON line, that this process's clock is off the database's. */
function warnOfSkew(skewSeconds: number): void {
  if (Math.abs(skewSeconds) <= CLOCK_SKEW_WARN_SECONDS || Date.now() - lastSkewWarning < 60_000) return;
  lastSkewWarning = Date.now();
  componentLogger("clock").warn(
    { clockSkewSeconds: Math.round(skewSeconds * 10) / 10 },
    `this process's clock is ${Math.abs(skewSeconds).toFixed(1)} s ${skewSeconds > 0 ? "ahead of" : "behind"} the database's: sign-outs, role changes and sign-in limits across processes and clinical times depend on it (README: "Clocks")`,
  );
}

/**
 * "degraded": requests have waited longer than DEGRADED_WAIT_MS for a database connection (the
 * pool is exhausted: slow statements, too small a DB_POOL_MAX); past DB_POOL_WAIT_SECONDS they are
 * answered 503. `pool` (signed-in users) says how full it is; null on the embedded database.
 */
export type Health = { status: "up" | "degraded"; pool?: PoolState | null; details?: HealthDetails };

/** A wait for a connection longer than this is no longer a blip. */
export const DEGRADED_WAIT_MS = 1_000;

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
    // Read from the pool itself, never through it: an exhausted pool must not hold up the answer.
    const pool = ctx.db.poolState();
    const status = pool && pool.waiting > 0 && pool.longestWaitMs > DEGRADED_WAIT_MS ? "degraded" : "up";
    if (!ctx.user) return { status };
    // The details need the database: skipped while requests are already queuing for it.
    if (status === "degraded") return { status, pool };
    const sent = Date.now();
    const [migrations, rows] = await Promise.all([
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
                clock_timestamp() AS now`,
      ),
    ]);
    const answered = Date.now();
    const row = rows[0];
    const serverTime = row?.now ?? new Date();
    // The database read its clock somewhere in the round trip: its middle is the best guess.
    const clockSkewSeconds = ((sent + answered) / 2 - serverTime.getTime()) / 1000;
    warnOfSkew(clockSkewSeconds);
    return {
      status,
      pool,
      details: {
        mode: ctx.db.mode,
        location: ctx.db.mode === "embedded" ? ctx.db.location : "PostgreSQL",
        migration: { latest: migrations.latest, applied: migrations.applied.length, pending: migrations.pending.length },
        estimates: { events: Number(row?.events ?? 0), streams: row?.streams == null ? null : Number(row.streams) },
        serverTime,
        clockSkewSeconds: Math.round(clockSkewSeconds * 10) / 10,
      },
    };
  }),
});
