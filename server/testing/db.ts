// Test databases: the run's fresh PostgreSQL database (see globalSetup) and in-memory PGlite.
import pg from "pg";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, inject } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { migrate } from "../db/migrate";
import { grantConnect, urlAsUser } from "../db/roles";

export type TestDbKind = "postgresql" | "embedded";

/** The run's database as the app's restricted role (emr_app): what the app itself may do. */
export const pgUrl: string | null = inject("pgUrl");
/** The same database as its owner: for tests that play the DBA (or an attacker holding the owner). */
export const pgOwnerUrl: string | null = inject("pgOwnerUrl");

let embeddedImage: Blob | undefined;

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
  // A copy of the database globalSetup migrated: the same files a migration here would make.
  embeddedImage ??= new Blob([readFileSync(inject("embeddedImagePath"))]);
  return openDatabase({ dataDir: "memory://", embeddedImage });
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
 *
 * It is a copy of the run's migrated template (globalSetup), made in a fraction of the time the
 * migrations take; `runMigrations` migrates it from empty instead, for tests of what the
 * migrations themselves do on a new install.
 */
export async function openFreshPostgresDatabase(
  poolMax = 10,
  options: { runMigrations?: boolean } = {},
): Promise<{ db: Database; ownerUrl: string; drop: () => Promise<void> }> {
  if (!pgUrl) throw new Error("no PostgreSQL test database: set DATABASE_URL");
  const name = `emr_own_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
    const client = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl ?? undefined });
    await client.connect();
    try {
      return (await client.query<R>(sql, params)).rows;
    } finally {
      await client.end();
    }
  };
  const template = options.runMigrations ? null : inject("pgTemplate");
  const url = new URL(pgOwnerUrl ?? pgUrl);
  url.pathname = `/${name}`;
  if (template) {
    await admin(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    await copyDatabasePrivileges(admin, template, name);
  } else {
    await admin(`CREATE DATABASE ${name}`);
    const owner = await openDatabase({ url: url.toString(), poolMax: 1 });
    await migrate(owner);
    await owner.close();
  }
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
 * A database's own privileges (CONNECT, TEMPORARY: pg_database.datacl, which the migrations set)
 * are not part of what CREATE DATABASE copies from a template: the copy gets them as the template has them.
 */
async function copyDatabasePrivileges(
  admin: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<R[]>,
  from: string,
  to: string,
) {
  const [acl] = await admin<{ set: boolean }>("SELECT datacl IS NOT NULL AS set FROM pg_database WHERE datname = $1", [from]);
  if (!acl?.set) return;
  const grants = await admin<{ grantee: string; privilege: string }>(
    `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee, a.privilege_type AS privilege
       FROM pg_database d CROSS JOIN LATERAL aclexplode(d.datacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
      WHERE d.datname = $1 AND a.grantee <> d.datdba`,
    [from],
  );
  await admin(`REVOKE ALL ON DATABASE ${to} FROM PUBLIC`);
  for (const { grantee, privilege } of grants) await admin(`GRANT ${privilege} ON DATABASE ${to} TO ${grantee}`);
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
