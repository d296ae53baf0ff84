// npm run db:migrate: applies pending migrations as the owner (MIGRATION_DATABASE_URL, else
// DATABASE_URL), or to the embedded database.
import { openDatabase, type Database } from "../db/client";
import { env, withoutAppSecrets } from "../db/env";
import { migrate } from "../db/migrate";
import { refuseLogAheadOfServer } from "../db/restoredLog";
import { refuseArguments } from "./script";

refuseArguments(`usage: npm run db:migrate
applies pending migrations as the owner (MIGRATION_DATABASE_URL, else DATABASE_URL), or to the embedded database`);

/**
 * Only the logins granted it connect (20261205010000_connect_only_where_granted). A dump restored
 * into a new database does not carry the database's own privileges, so PUBLIC could connect
 * again, and every other install's login with it: taken back on every run, said when it was.
 */
async function revokePublicConnect(db: Database): Promise<void> {
  const [row] = await db.sql<{ open: boolean }>("SELECT has_database_privilege('public', current_database(), 'CONNECT') AS open", []);
  if (!row?.open) return;
  await db.sql("DO $$ BEGIN EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$", []);
  console.log(
    "  PUBLIC could connect to this database (a restore into a new database brings that back): revoked. " +
      "Grant CONNECT to this install's own logins if they lost it (README: Running on a real PostgreSQL).",
  );
}

async function main() {
  // The schema's owner runs this, not the app: neither the session secret nor the PHI key.
  withoutAppSecrets();
  const e = env();
  const db = await openDatabase({ url: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 1 });
  try {
    console.log(`migrating ${db.mode === "postgresql" ? `PostgreSQL ${db.location}` : `embedded database at ${db.location}`}`);
    const status = await migrate(db, { log: (line) => console.log(`  ${line}`) });
    // The DBA's step after a restore: the place to hear that the restore needs another step.
    await refuseLogAheadOfServer(db.sql);
    if (db.mode === "postgresql") await revokePublicConnect(db);
    console.log(`up to date: ${status.applied.length} migrations, latest ${status.latest ?? "none"}`);
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  const e = error as { message?: string; code?: string; cause?: { code?: string; originalCode?: string } };
  console.error(e.message ?? String(error));
  // 42501 insufficient_privilege: connected as the app's role, which may not change the schema.
  if ([e.code, e.cause?.code, e.cause?.originalCode].includes("42501") || /permission denied|must be owner of/i.test(e.message ?? "")) {
    console.error(
      "db:migrate changes the schema, so it must connect as the database's owner: set MIGRATION_DATABASE_URL to the owner's URL (DATABASE_URL stays the app's role).",
    );
  }
  process.exit(1);
});
