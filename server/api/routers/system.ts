import { DEGRADED_WAIT_MS } from "../../../shared/health";
import type { Database, PoolState } from "../../db/client";
import { migrationStatus, type MigrationStatus } from "../../db/migrate";
import { publicProcedure, router } from "../trpc";
import { componentLogger } from "../../log";
import { CLOCK_SKEW_WARN_SECONDS } from "../../../shared/clock";
import { isLockTimeout } from "../../errors";

export type HealthDetails = {
  mode: "postgresql" | "embedded";
  location: string;
  migration: { latest: string | null; applied: number; pending: number };
  /**
   * Estimates, never a count over the tables (every open console asks every 10 s): events is the
   * highest global position (an upper bound: a rolled-back append leaves a gap); streams is the
   * statistics' live-row estimate, null until the database has gathered any.
   */
  estimates: { events: number; streams: number | null } | null;
  /**
   * Why estimates is null: a lock held on the tables they are read from (a DBA's LOCK TABLE, a
   * migration) kept them from being read within LOCK_WAIT_MS, rather than hold the answer up.
   */
  estimatesBlocked: boolean;
  /**
   * The database refuses writes: a standby not yet promoted (a failover under way), or
   * default_transaction_read_only set by a DBA. Every change, sign-in and chart opening is
   * answered 503 "read-only" until it is writable again.
   */
  readOnly: boolean;
  /**
   * Sessions on this database waiting for a lock another session holds (PostgreSQL; null on the
   * embedded database, one session): how many, the longest wait (of this login's sessions), the
   * tables waited on, and who holds them (process id, user, application; the statement is not
   * shown). A request waits at most DB_STATEMENT_TIMEOUT_SECONDS and is then answered 503.
   */
  lockWaits: { sessions: number; longestSeconds: number; tables: string[]; blockers: { pid: number; user: string | null; application: string | null }[] } | null;
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

/** A wait for a lock longer than this is no longer two requests taking turns: "degraded". */
export const DEGRADED_LOCK_WAIT_SECONDS = 5;

/** How long the estimates wait for a table lock before they are left out (estimatesBlocked). */
const LOCK_WAIT_MS = 1_000;

type Situation = { read_only: boolean; now: Date; sessions: number | null; longest: number | null; tables: string[] | null; blockers: unknown };

/**
 * Whether the database is read-only, and who waits on whose locks. Reads only the server's views,
 * never a table: a lock on a table cannot hold it up. Lock waits: any session on this database
 * waiting for a lock (pg_locks, visible to every role), row locks included; how long is known of
 * this login's own sessions (pg_stat_activity hides the others' times).
 */
async function databaseSituation(db: Database): Promise<Situation> {
  if (db.mode === "embedded") {
    const rows = await db.prisma.$queryRawUnsafe<Situation[]>(
      `SELECT current_setting('transaction_read_only') = 'on' AS read_only, clock_timestamp() AS now,
              NULL::int AS sessions, NULL::float8 AS longest, NULL::text[] AS tables, NULL::json AS blockers`,
    );
    return rows[0]!;
  }
  const rows = await db.prisma.$queryRawUnsafe<Situation[]>(
    `WITH waiting AS (
       SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE NOT l.granted AND a.datname = current_database() AND l.pid <> pg_backend_pid()
     ), blockers AS (
       SELECT DISTINCT unnest(pg_blocking_pids(pid)) AS pid FROM waiting
     )
     SELECT current_setting('transaction_read_only') = 'on' AS read_only,
            clock_timestamp() AS now,
            (SELECT count(*) FROM waiting)::int AS sessions,
            (SELECT coalesce(extract(epoch FROM clock_timestamp() - min(a.query_start)), 0)
               FROM pg_stat_activity a JOIN waiting w ON w.pid = a.pid)::float8 AS longest,
            (SELECT coalesce(array_agg(DISTINCT l.relation::regclass::text ORDER BY l.relation::regclass::text), '{}')
               FROM pg_locks l JOIN waiting w ON w.pid = l.pid
              WHERE NOT l.granted AND l.relation IS NOT NULL) AS tables,
            (SELECT coalesce(json_agg(json_build_object('pid', a.pid, 'user', a.usename, 'application', nullif(a.application_name, '')) ORDER BY a.pid), '[]')
               FROM pg_stat_activity a JOIN blockers b ON b.pid = a.pid) AS blockers`,
  );
  return rows[0]!;
}

type Estimates = { events: bigint | null; streams: bigint | null };

/**
 * The estimates, waiting at most LOCK_WAIT_MS for a lock on events or streams: null when a lock
 * held them up (a DBA's LOCK TABLE answered this after the whole statement bound, 503, before).
 */
async function estimates(db: Database): Promise<Estimates | null> {
  try {
    const [, rows] = await db.prisma.$transaction([
      db.prisma.$executeRawUnsafe(`SET LOCAL lock_timeout = ${LOCK_WAIT_MS}`),
      // Streams: the planner's estimate, or the live-tuple count when that is higher. The count
      // alone restarts from zero whenever the statistics do (the embedded database on every
      // reopen: "about 4" streams of more than a thousand); a table never analyzed is counted.
      db.prisma.$queryRawUnsafe<Estimates[]>(
        `SELECT (SELECT max(global_position) FROM events)::bigint AS events,
                (SELECT CASE WHEN c.reltuples >= 0 THEN greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0))
                             ELSE (SELECT count(*) FROM streams) END
                   FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                  WHERE c.oid = 'streams'::regclass) AS streams`,
      ),
    ]);
    return rows[0] ?? null;
  } catch (error) {
    if (isLockTimeout(error)) return null;
    throw error;
  }
}

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
    // Two connections at most, as before: the situation first, then the estimates.
    const [migrations, [situation, counts]] = await Promise.all([
      recentMigrationStatus(ctx.db),
      databaseSituation(ctx.db).then(async (found) => [found, await estimates(ctx.db)] as const),
    ]);
    const answered = Date.now();
    const serverTime = situation.now;
    // The database read its clock somewhere in the round trip: its middle is the best guess.
    const clockSkewSeconds = ((sent + answered) / 2 - serverTime.getTime()) / 1000;
    warnOfSkew(clockSkewSeconds);
    const lockWaits =
      situation.sessions === null
        ? null
        : {
            sessions: situation.sessions,
            longestSeconds: Math.round((situation.longest ?? 0) * 10) / 10,
            tables: situation.tables ?? [],
            blockers: (situation.blockers as { pid: number; user: string | null; application: string | null }[] | null) ?? [],
          };
    // Signed-in users are told of the database's own trouble too: read-only, or requests queuing
    // behind a lock.
    const troubled = situation.read_only || counts === null || (lockWaits !== null && lockWaits.sessions > 0 && lockWaits.longestSeconds > DEGRADED_LOCK_WAIT_SECONDS);
    return {
      status: troubled ? "degraded" : status,
      pool,
      details: {
        mode: ctx.db.mode,
        location: ctx.db.mode === "embedded" ? ctx.db.location : "PostgreSQL",
        migration: { latest: migrations.latest, applied: migrations.applied.length, pending: migrations.pending.length },
        estimates: counts === null ? null : { events: Number(counts.events ?? 0), streams: counts.streams == null ? null : Number(counts.streams) },
        estimatesBlocked: counts === null,
        readOnly: situation.read_only,
        lockWaits,
        serverTime,
        clockSkewSeconds: Math.round(clockSkewSeconds * 10) / 10,
      },
    };
  }),
});
