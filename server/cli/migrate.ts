// npm run db:migrate: applies pending migrations as the owner (MIGRATION_DATABASE_URL, else
// DATABASE_URL), or to the embedded database.
import { openDatabase } from "../db/client";
import { env } from "../db/env";
import { migrate } from "../db/migrate";

async function main() {
  const e = env();
  const db = await openDatabase({ url: e.MIGRATION_DATABASE_URL ?? e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 1 });
  try {
    console.log(`migrating ${db.mode === "postgresql" ? `PostgreSQL ${db.location}` : `embedded database at ${db.location}`}`);
    const status = await migrate(db, { log: (line) => console.log(`  ${line}`) });
    console.log(`up to date: ${status.applied.length} migrations, latest ${status.latest ?? "none"}`);
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
