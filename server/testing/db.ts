// Test databases: the run's fresh PostgreSQL database (see globalSetup) and in-memory PGlite.
import pg from "pg";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { migrate } from "../db/migrate";
import { grantConnect, urlAsUser } from "../db/roles";

export type TestDbKind = "postgresql" | "embedded";

/** The run's database as the app's restricted role (emr_app): what the app itself may do. */
export const pgUrl: string | null = inject("pgUrl");
/** The same database as its owner: for tests that play the DBA (or an attacker holding the owner). */
export const pgOwnerUrl: string | null = inject("pgOwnerUrl");

const skipReasonPrinted = new Set<string>();
function printSkip(what: string) {
  if (skipReasonPrinted.has(what)) return;
  skipReasonPrinted.add(what);
  console.warn(`[skipped on PostgreSQL] ${what}: DATABASE_URL is not set, so no PostgreSQL server to test against (CI always sets it)`);
}

export async function openTestDatabase(kind: TestDbKind, poolMax = 10): Promise<Database> {
  if (kind === "postgresql") {
    if (!pgUrl) throw new Error("no PostgreSQL test database: set DATABASE_URL");
    return openDatabase({ url: pgUrl, poolMax });
  }
  const db = await openDatabase({ dataDir: "memory://" });
  await migrate(db);
  return db;
}

/**
 * Runs the same suite on the embedded database and on PostgreSQL (the latter skipped, with the
 * reason printed, when no server is configured).
 */
export function describeEachDatabase(name: string, suite: (db: () => Database, kind: TestDbKind) => void) {
  for (const kind of ["embedded", "postgresql"] as const) {
    const available = kind === "embedded" || pgUrl !== null;
    if (!available) printSkip(name);
    describe.skipIf(!available)(`${name} [${kind}]`, () => {
      let db: Database | undefined;
      beforeAll(async () => {
        db = await openTestDatabase(kind);
      });
      afterAll(async () => {
        await db?.close();
      });
      suite(() => {
        if (!db) throw new Error("database not open yet");
        return db;
      }, kind);
    });
  }
}

/**
 * As describeEachDatabase, but on PostgreSQL on a database of the suite's own
 * (openFreshPostgresDatabase), dropped after it: for suites that count a global table whole (the
 * outbox, the snapshots), which the other test files' rows on the shared database would upset.
 */
export function describeEachOwnDatabase(name: string, suite: (db: () => Database, kind: TestDbKind) => void) {
  for (const kind of ["embedded", "postgresql"] as const) {
    const available = kind === "embedded" || pgUrl !== null;
    if (!available) printSkip(name);
    describe.skipIf(!available)(`${name} [${kind}]`, () => {
      let db: Database | undefined;
      let drop: (() => Promise<void>) | null = null;
      beforeAll(async () => {
        if (kind === "embedded") db = await openTestDatabase("embedded");
        else ({ db, drop } = await openFreshPostgresDatabase());
      });
      afterAll(async () => {
        // drop() closes the database before dropping it.
        if (drop) await drop();
        else await db?.close();
      });
      suite(() => {
        if (!db) throw new Error("database not open yet");
        return db;
      }, kind);
    });
  }
}

/** A suite that needs several real connections: PostgreSQL only. */
export function describePostgres(name: string, suite: (db: () => Database) => void, poolMax = 20) {
  if (!pgUrl) printSkip(name);
  describe.skipIf(!pgUrl)(`${name} [postgresql]`, () => {
    let db: Database | undefined;
    beforeAll(async () => {
      db = await openTestDatabase("postgresql", poolMax);
    });
    afterAll(async () => {
      await db?.close();
    });
    suite(() => {
      if (!db) throw new Error("database not open yet");
      return db;
    });
  });
}

/**
 * A database of its own on the test server, migrated, for tests that must see the whole of a
 * table (the outbox) without the other test files' rows. Drop it when done.
 */
export async function openFreshPostgresDatabase(poolMax = 10): Promise<{ db: Database; ownerUrl: string; drop: () => Promise<void> }> {
  if (!pgUrl) throw new Error("no PostgreSQL test database: set DATABASE_URL");
  const name = `emr_own_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl ?? undefined });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(pgOwnerUrl ?? pgUrl);
  url.pathname = `/${name}`;
  const owner = await openDatabase({ url: url.toString(), poolMax: 1 });
  await migrate(owner);
  await owner.close();
  await grantConnect(url.toString(), new URL(pgUrl).username);
  const db = await openDatabase({ url: urlAsUser(url.toString(), new URL(pgUrl).username), poolMax });
  return {
    db,
    ownerUrl: url.toString(),
    drop: async () => {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/**
 * Runs fn with a connection as the database's owner: on PostgreSQL the run's owner URL (the DBA,
 * or an attacker who holds it), on the embedded database its one user. For tests of what the
 * database itself refuses to everyone, the owner included (triggers).
 */
export async function withOwner<T>(
  kind: TestDbKind,
  db: Database,
  fn: (sql: (text: string, params?: unknown[]) => Promise<unknown[]>) => Promise<T>,
): Promise<T> {
  if (kind === "embedded") return fn((text, params = []) => db.sql(text, params));
  if (!pgOwnerUrl) throw new Error("no PostgreSQL owner URL: set DATABASE_URL");
  const client = new pg.Client({ connectionString: pgOwnerUrl });
  await client.connect();
  try {
    return await fn(async (text, params = []) => (await client.query(text, params)).rows);
  } finally {
    await client.end();
  }
}

/**
 * A connection as the owner holding a stream's row in an open transaction, as a DBA's long
 * transaction would: an append to that stream waits on it. `owner.query("COMMIT")` lets it go;
 * `end()` rolls back whatever is still open and disconnects.
 */
export async function holdStreamRow(stream: string): Promise<{ owner: pg.Client; end: () => Promise<void> }> {
  const owner = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl! });
  await owner.connect();
  await owner.query("BEGIN");
  await owner.query("SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE", [stream]);
  return {
    owner,
    end: async () => {
      await owner.query("ROLLBACK").catch(() => {});
      await owner.end();
    },
  };
}
