// The database: PostgreSQL through @prisma/adapter-pg when DATABASE_URL is set, otherwise the
// embedded PGlite under .data/, in-process through one adapter (PGlite is a single session, so
// one process must own it).
import { PrismaPg } from "@prisma/adapter-pg";
import { pg_trgm } from "@electric-sql/pglite/contrib/pg_trgm";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import pg from "pg";
import { mkdirSync } from "node:fs";
import { PrismaClient } from "./generated/client";
import { env } from "./env";
import { migrate, migrationStatus, MigrationError, type MigrationStatus } from "./migrate";
import { embeddedFolderOf, lockEmbeddedDatabase } from "./embeddedLock";
import { refuseLogAheadOfServer } from "./restoredLog";
import { refuseWithoutWritePrivileges } from "./privileges";
import { checkMasterKeys, defaultKeyRing, refuseLostDevelopmentKey } from "./phiKey";
import { isDatabaseUnavailable } from "../errors";
import type { HeldSession } from "../eventStore/db";

export type DatabaseMode = "postgresql" | "embedded";

/**
 * Runs one parameterized statement outside any transaction, on the driver itself. Types as
 * Prisma's raw queries return them: int8 as bigint, timestamptz as Date, jsonb parsed. `name`:
 * a statement prepared once per pg connection (server/eventStore/db.ts); PGlite ignores it.
 */
export type SqlRunner = <R>(text: string, params: readonly unknown[], options?: { name?: string }) => Promise<R[]>;

export type Database = {
  prisma: PrismaClient;
  sql: SqlRunner;
  /**
   * `sql` for a statement that may rightly outlast the statement bound (statementTimeoutSeconds):
   * a scan of the whole log (the integrity check), a rebuild's index build, an extract's pages.
   * On a bounded PostgreSQL pool, connections of their own without the bound; otherwise `sql`.
   */
  longSql: SqlRunner;
  mode: DatabaseMode;
  /** Runs a multi-statement SQL script (migrations) on one session. */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Where the data lives, without credentials. */
  location: string;
  /** A session of its own for locks that end with their holder (eventStore HeldSession); closed by close() at the latest. */
  holdSession(): Promise<HeldSession>;
  /** The pool's connections and the requests waiting for one (PostgreSQL); null for the embedded database. */
  poolState(): PoolState | null;
  /**
   * For a child process about to take over this database (npm start's server): the embedded
   * database's lock stays held past close() and the child takes it over with the environment
   * returned, so no other process opens the folder in between. Nothing for PostgreSQL.
   */
  handOverLock(): Record<string, string>;
  close(): Promise<void>;
};

/** A single database session for scripts and advisory locks. */
export type SqlSession = {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  exec(script: string): Promise<void>;
};

export type PoolState = {
  max: number;
  total: number;
  idle: number;
  /** Requests queued for a connection. */
  waiting: number;
  /** How long the longest-waiting request has waited for a connection (0: none is waiting). */
  longestWaitMs: number;
};

export type OpenOptions = {
  url?: string;
  dataDir?: string;
  poolMax?: number;
  /** Seconds before an idle pooled connection is closed; 0 or unset: kept (DB_POOL_IDLE_SECONDS). */
  poolIdleSeconds?: number;
  /** Seconds a statement waits for a pooled connection before it fails (DB_POOL_WAIT_SECONDS; default 10). */
  poolWaitSeconds?: number;
  /**
   * Seconds a statement may take on the pool before it is cut, on the server and in the client
   * (DB_STATEMENT_TIMEOUT_SECONDS: the app's requests). 0 or unset: no bound, for the scripts that
   * open their own database for long work (migrations, seeding, audit:verify, rebuilds from the
   * command line, key rotation, the bench).
   */
  statementTimeoutSeconds?: number;
  /**
   * Seconds a transaction may sit idle (its client sending nothing) before the server ends it and
   * releases its locks; a client gone silent otherwise holds them until the server's TCP notices,
   * hours by default. Default: twice the statement bound on a bounded pool; a minute for the
   * scripts, whose work between statements takes milliseconds: a script stopped mid-transaction
   * (Ctrl-Z on a rebuild from the command line, a debugger) otherwise held its rows until it was
   * resumed or killed, and the console's own rebuild waited behind them. 0: never.
   */
  idleInTransactionSeconds?: number;
  /**
   * An in-memory embedded database starts as this copy of another one's files (dumpEmbedded)
   * instead of an empty cluster: the test suites start from one migrated database, without
   * initdb and the migrations for each (seconds apiece).
   */
  embeddedImage?: Blob;
};

/** A script's idle-in-transaction bound when it names none (OpenOptions.idleInTransactionSeconds). */
export const SCRIPT_IDLE_IN_TRANSACTION_SECONDS = 60;

// One type mapping for every runner, the same as Prisma's raw queries: int8 as bigint.
const INT8 = 20;
const pgTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8 ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format as "text")) as typeof pg.types.getTypeParser,
};
const pgliteParsers = { [INT8]: (value: string) => BigInt(value) };

function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "postgresql";
  }
}

export async function openDatabase(options: OpenOptions = {}): Promise<Database> {
  if (options.url) {
    const bound = options.statementTimeoutSeconds ?? 0;
    const idleInTransaction = options.idleInTransactionSeconds ?? (bound > 0 ? bound * 2 : SCRIPT_IDLE_IN_TRANSACTION_SECONDS);
    return openPostgres(options.url, options.poolMax ?? 10, options.poolIdleSeconds ?? 0, options.poolWaitSeconds ?? 10, bound, idleInTransaction);
  }
  return openEmbedded(options.dataDir ?? "memory://", options.embeddedImage);
}

/**
 * pg's pool, remembering since when each request for a connection has waited: the health check
 * says "degraded" when one has waited long, before anyone's request times out.
 */
class WaitTimedPool extends pg.Pool {
  private ticket = 0;
  private readonly started = new Map<number, number>();

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): void;
  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): Promise<pg.PoolClient> | void {
    const id = ++this.ticket;
    this.started.set(id, performance.now());
    const settle = () => {
      this.started.delete(id);
    };
    if (callback) {
      super.connect((err, client, done) => {
        settle();
        callback(err, client, done);
      });
      return;
    }
    return super.connect().finally(settle);
  }

  longestWaitMs(): number {
    const first = this.started.values().next();
    return first.done ? 0 : performance.now() - first.value;
  }
}

/**
 * How long the client waits for a statement's answer past the server's own bound: the server
 * cancels first and says so (57014), and the connection serves again; only a server that cannot
 * answer at all (packets dropped by a firewall or a failover: a network black hole) meets this.
 */
const clientGraceMs = 5_000;

/** The pg settings of a pool whose statements are bounded to `seconds` (0: none). */
export function statementBounds(seconds: number): Pick<pg.PoolConfig, "statement_timeout" | "query_timeout"> {
  if (seconds <= 0) return {};
  return {
    // On the server: a statement blocked on a lock or running long is cancelled, its transaction with it.
    statement_timeout: seconds * 1000,
    // In the client: a statement sent into a network black hole gets no answer, cancel included;
    // without this it waited until TCP gave up (minutes). The connection is then closed (BoundedClient).
    query_timeout: seconds * 1000 + clientGraceMs,
  };
}

/**
 * pg's client, closing its connection when a statement outlives query_timeout. pg answers the
 * statement with "Query read timeout" but leaves it active on the connection: a pooled client
 * released that way (Prisma's transactions release without the error) went back to the pool and
 * the next request on it queued behind a statement that would never end. Closed, it leaves the
 * pool, and what was queued on it fails at once (Connection terminated, a 503).
 */
class BoundedClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(config);
    const query = this.query.bind(this) as (...args: unknown[]) => unknown;
    const close = (error: unknown) => {
      if (error instanceof Error && error.message === "Query read timeout") {
        (this as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      }
    };
    (this as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const last = args.length - 1;
      const callback = args[last];
      if (typeof callback === "function") {
        args[last] = (error: unknown, result: unknown) => {
          close(error);
          (callback as (e: unknown, r: unknown) => void)(error, result);
        };
        return query(...args);
      }
      const result = query(...args);
      return result instanceof Promise
        ? result.catch((error: unknown) => {
            close(error);
            throw error;
          })
        : result;
    };
  }
}

/** The first key of this product's session advisory locks (two-key form; the second is hashtext of the lock's name). */
const HELD_LOCK_CLASS = 0x454d52; // "EMR"

/** Sessions a database has handed out and not yet closed: its close() ends them. */
function sessionTracker() {
  const open = new Set<HeldSession>();
  return {
    track(session: HeldSession): HeldSession {
      open.add(session);
      return {
        ...session,
        close: async () => {
          open.delete(session);
          await session.close();
        },
      };
    },
    closeAll: () => Promise.all([...open].map((session) => session.close().catch(() => {}))).then(() => open.clear()),
  };
}

/** A connection of its own holding session advisory locks: released by the server when it dies. */
async function postgresSession(url: string): Promise<HeldSession> {
  const client = new pg.Client({ connectionString: url, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
  let lost = false;
  let closing = false;
  client.on("error", () => void (lost = true));
  client.on("end", () => void (lost = !closing || lost));
  await client.connect();
  return {
    async tryLock(key) {
      const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS ok", [HELD_LOCK_CLASS, key]);
      return rows[0]?.ok === true;
    },
    lost: () => lost,
    async close() {
      closing = true;
      await client.end().catch(() => {});
    },
  };
}

/**
 * The embedded database's locks: PGlite is one session, where advisory locks are re-entrant (a
 * second rebuild in this process would get the first one's lock), and this process is the only
 * one on the folder (embeddedLock.ts), so the locks live here, one set per database.
 */
function embeddedSessions() {
  const held = new Set<string>();
  return (): HeldSession => {
    const mine = new Set<string>();
    return {
      async tryLock(key) {
        if (held.has(key)) return mine.has(key);
        held.add(key);
        mine.add(key);
        return true;
      },
      lost: () => false,
      async close() {
        for (const key of mine) held.delete(key);
        mine.clear();
      },
    };
  };
}

function openPostgres(url: string, poolMax: number, idleSeconds: number, waitSeconds: number, boundSeconds: number, idleInTransactionSeconds: number): Database {
  // Idle connections are kept by default (pg's own default closes them after 10 s). A connection
  // opened again has a cold backend: its first append compiles append_to_stream and plans its
  // statements, its first reads plan theirs and load the catalogs they touch. After a quiet spell
  // of more than 10 s the next burst opened up to poolMax of them at once, and on two cores a
  // register's p99 went from 25-55 to 226-468 ms (bench/README.md, round seven).
  // Kept connections get TCP keepalives: a firewall or NAT that forgets a quiet connection would
  // otherwise leave a socket that looks open and hangs the next statement until TCP gives up. A
  // connection the server ends (a restart, pg_terminate_backend) leaves the pool when it says so.
  // A request that gets no connection within waitSeconds fails ("timeout exceeded when trying to
  // connect"), which the API answers 503 (server/errors.ts isDatabaseUnavailable).
  // A statement that gets no answer within boundSeconds (a lock, a runaway plan, or a network
  // that drops packets) is cut (statementBounds), answered 503 too, its transaction rolled back.
  const pool = new WaitTimedPool({
    connectionString: url,
    max: poolMax,
    idleTimeoutMillis: idleSeconds * 1000,
    connectionTimeoutMillis: waitSeconds * 1000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
    ...statementBounds(boundSeconds),
    ...(idleInTransactionSeconds > 0 ? { idle_in_transaction_session_timeout: idleInTransactionSeconds * 1000 } : {}),
    ...(boundSeconds > 0 ? { Client: BoundedClient } : {}),
  });
  // An idle client's network error must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  // Long work of a bounded process (longSql) runs on a few connections of its own without the
  // bound, opened when first needed and closed when idle. A dead peer under a long statement is
  // still found by TCP keepalives (the first probe after 10 s): the socket is quiet while the
  // server works.
  let longPool: pg.Pool | null = null;
  const long = (): pg.Pool => {
    if (longPool) return longPool;
    longPool = new pg.Pool({
      connectionString: url,
      max: Math.min(poolMax, 4),
      idleTimeoutMillis: 10_000,
      connectionTimeoutMillis: waitSeconds * 1000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    });
    longPool.on("error", () => {});
    // Without the bound means without a DBA's either: a statement_timeout set on the role or the
    // database (ALTER ROLE ... SET) would otherwise cut the integrity check or an extract of a
    // large log every time, answered "try again" (the pool's own bound, sent when it connects,
    // already takes precedence over one set there). Queued before the connection's first use.
    longPool.on("connect", (client) => void client.query("SET statement_timeout = 0").catch(() => {}));
    return longPool;
  };
  const run = (on: pg.Pool): SqlRunner => async (text, params, options) =>
    (await on.query({ name: options?.name, text, values: params as unknown[], types: pgTypes })).rows;
  const sql = run(pool);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const sessions = sessionTracker();
  return {
    prisma,
    sql,
    longSql: boundSeconds > 0 ? (text, params, options) => run(long())(text, params, options) : sql,
    mode: "postgresql",
    location: redact(url),
    holdSession: async () => sessions.track(await postgresSession(url)),
    poolState: () => ({
      max: poolMax,
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
      longestWaitMs: pool.waitingCount > 0 ? Math.round(pool.longestWaitMs()) : 0,
    }),
    async withSession(fn) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await fn({
          query: async (sql, params) => (await client.query(sql, params)).rows,
          exec: async (script) => void (await client.query(script)),
        });
      } finally {
        await client.end();
      }
    },
    handOverLock: () => ({}),
    async close() {
      await sessions.closeAll();
      await prisma.$disconnect();
      await pool.end();
      await longPool?.end();
    },
  };
}

/** The PGlite of each open embedded database, for dumpEmbedded. */
const embeddedClients = new WeakMap<Database, PGlite>();

/** An in-memory embedded database's files as they are now (OpenOptions.embeddedImage). */
export async function dumpEmbedded(db: Database): Promise<Blob> {
  const client = embeddedClients.get(db);
  if (!client) throw new Error("not an embedded database");
  return client.dumpDataDir("none");
}

async function openEmbedded(given: string, image?: Blob): Promise<Database> {
  const dataDir = embeddedFolderOf(given);
  const inMemory = dataDir.startsWith("memory://");
  if (image && !inMemory) throw new Error("an embedded image loads only into an in-memory database");
  if (!inMemory) mkdirSync(dataDir, { recursive: true });
  const lock = inMemory ? null : lockEmbeddedDatabase(dataDir);
  let client: PGlite;
  try {
    // pg_trgm is a contrib extension: PGlite loads it only when named here (the patient search).
    client = await PGlite.create(dataDir, { extensions: { pg_trgm }, ...(image ? { loadDataDir: image } : {}) });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(client) });
  const newSession = embeddedSessions();
  const sessions = sessionTracker();
  // PGlite's query() waits for any open transaction, so a direct statement never lands inside one.
  const sql: SqlRunner = async (text, params) => (await client.query(text, params as unknown[], { parsers: pgliteParsers })).rows as never;
  const db: Database = {
    prisma,
    sql,
    // In-process: no network to lose, and no statement bound.
    longSql: sql,
    mode: "embedded",
    location: dataDir.startsWith("memory://") ? "in memory" : dataDir,
    holdSession: async () => sessions.track(newSession()),
    poolState: () => null,
    async withSession(fn) {
      return fn({
        query: async (sql, params) => (await client.query(sql, params)).rows as never,
        exec: async (script) => void (await client.exec(script)),
      });
    },
    handOverLock: () => lock?.handOver() ?? {},
    async close() {
      await sessions.closeAll();
      await prisma.$disconnect();
      await client.close();
      lock?.release();
    },
  };
  embeddedClients.set(db, client);
  return db;
}

/**
 * Brings the schema up to date before the app serves. Migrations need the owner: with
 * MIGRATION_DATABASE_URL set they run on a connection of their own as that role, and the app's
 * restricted role only reads the bookkeeping. Without it the app's own user migrates (the
 * embedded database, or a development server where one user owns everything).
 */
export async function ensureMigrated(
  db: Database,
  ownerUrl: string | undefined,
  log?: (line: string) => void,
): Promise<MigrationStatus> {
  const status = await migrateIfNeeded(db, ownerUrl, log);
  // A log restored onto another server would be written out of order from here on (restoredLog.ts).
  await refuseLogAheadOfServer(db.sql);
  // A role that may only read would start and then fail every write (privileges.ts).
  await refuseWithoutWritePrivileges(db);
  return status;
}

async function migrateIfNeeded(db: Database, ownerUrl: string | undefined, log?: (line: string) => void): Promise<MigrationStatus> {
  if (db.mode === "postgresql" && ownerUrl) {
    const status = await migrationStatus(db).catch(() => null);
    if (status && status.pending.length === 0) return status;
    const owner = await openDatabase({ url: ownerUrl, poolMax: 1 });
    try {
      return await migrate(owner, { log });
    } finally {
      await owner.close();
    }
  }
  try {
    // Cheap when up to date: one advisory lock and one read of _prisma_migrations.
    return await migrate(db, { log });
  } catch (error) {
    // The server unreachable or restarting is not a permissions problem: say what it is.
    if (isDatabaseUnavailable(error)) throw error;
    const status = await migrationStatus(db).catch(() => null);
    if (status && status.pending.length === 0) return status;
    // A changed or missing migration file says so itself; a role that may not migrate is told how.
    if (error instanceof MigrationError && !/permission denied|must be owner/.test(error.message)) throw error;
    throw new MigrationError(
      `Migrations are pending (${status?.pending.join(", ") ?? "unknown"}) and this database user cannot apply them ` +
        `(${(error as Error).message}): run \`npm run db:migrate\` with MIGRATION_DATABASE_URL set to the owner's URL first.`,
    );
  }
}

const globalKey = Symbol.for("emr.database");
type GlobalWithDb = typeof globalThis & { [globalKey]?: Promise<Database> };

/**
 * The process-wide database, opened from the environment on first use. Kept on globalThis so
 * that Next's separately bundled server layers share one PGlite instance.
 */
export function getDatabase(): Promise<Database> {
  const g = globalThis as GlobalWithDb;
  g[globalKey] ??= (async () => {
    const e = env();
    const db = await openDatabase({
      url: e.DATABASE_URL,
      dataDir: e.PGLITE_DIR,
      poolMax: e.DB_POOL_MAX,
      poolIdleSeconds: e.DB_POOL_IDLE_SECONDS,
      poolWaitSeconds: e.DB_POOL_WAIT_SECONDS,
      statementTimeoutSeconds: e.DB_STATEMENT_TIMEOUT_SECONDS,
    });
    try {
      await ensureMigrated(db, e.MIGRATION_DATABASE_URL);
      // A wrong PHI_MASTER_KEY stops here, before any chart is asked for.
      await refuseLostDevelopmentKey(db.sql, e);
      await checkMasterKeys(db.sql, defaultKeyRing());
    } catch (error) {
      await db.close();
      throw error;
    }
    return db;
  })();
  g[globalKey].catch(() => {
    // A failed open is not cached: the next request tries again.
    delete g[globalKey];
  });
  return g[globalKey];
}
