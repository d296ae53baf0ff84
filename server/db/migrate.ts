// Applies prisma/migrations/<timestamp>_<name>/migration.sql in order, each in its own
// transaction, recorded in _prisma_migrations exactly as Prisma records them (id, sha256
// checksum, timestamps, applied_steps_count), so `prisma migrate status/deploy` agree with us.
// Under Prisma's own advisory lock, so two instances starting together, or this and Prisma's
// CLI, never apply the same migration twice.
import { createHash, randomUUID } from "node:crypto";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import type { Database, SqlSession } from "./client";

/** The key `prisma migrate` takes with pg_advisory_lock. */
const PRISMA_ADVISORY_LOCK = 72707369;

export const defaultMigrationsDir = join(process.cwd(), "prisma", "migrations");

export class MigrationError extends Error {
  override readonly name = "MigrationError";
}

export type MigrationFile = { name: string; sql: string; checksum: string };
export type MigrationStatus = { applied: string[]; pending: string[]; latest: string | null };

export function readMigrations(dir = defaultMigrationsDir): MigrationFile[] {
  return readdirSync(/*turbopackIgnore: true*/ dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(/*turbopackIgnore: true*/ join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = readFileSync(/*turbopackIgnore: true*/ join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

const createTable = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"            VARCHAR(64) NOT NULL,
    "finished_at"         TIMESTAMPTZ,
    "migration_name"      VARCHAR(255) NOT NULL,
    "logs"                TEXT,
    "rolled_back_at"      TIMESTAMPTZ,
    "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

type AppliedRow = { migration_name: string; checksum: string; finished_at: Date | null; rolled_back_at: Date | null };

async function appliedRows(session: SqlSession): Promise<AppliedRow[]> {
  return session.query<AppliedRow>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );
}

/** Refuses a database whose history disagrees with the files: edited, missing or failed migrations. */
function verify(rows: AppliedRow[], files: MigrationFile[]): Set<string> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const done = new Set<string>();
  for (const row of rows) {
    if (row.rolled_back_at) continue;
    if (!row.finished_at) {
      throw new MigrationError(
        `Migration ${row.migration_name} started but never finished; repair the database before migrating again`,
      );
    }
    const file = byName.get(row.migration_name);
    if (!file) throw new MigrationError(`Migration ${row.migration_name} is applied but its file is missing`);
    if (file.checksum !== row.checksum) {
      throw new MigrationError(
        `Migration ${row.migration_name} was modified after it was applied (checksum ${row.checksum.slice(0, 12)}… in the database, ${file.checksum.slice(0, 12)}… on disk); add a new migration instead`,
      );
    }
    done.add(row.migration_name);
  }
  return done;
}

export async function migrate(
  db: Database,
  options: { dir?: string; log?: (line: string) => void } = {},
): Promise<MigrationStatus> {
  const files = readMigrations(options.dir);
  const log = options.log ?? (() => {});
  return db.withSession(async (session) => {
    await session.query(`SELECT pg_advisory_lock(${PRISMA_ADVISORY_LOCK})`);
    try {
      // Only the owner may create it; a restricted role finding it in place reads on.
      const [table] = await session.query<{ t: string | null }>(`SELECT to_regclass('"_prisma_migrations"')::text AS t`);
      if (!table?.t) await session.exec(createTable);
      const done = verify(await appliedRows(session), files);
      const pending = files.filter((f) => !done.has(f.name));
      for (const file of pending) {
        const started = Date.now();
        await session.exec("BEGIN");
        try {
          await session.exec(file.sql);
          await session.query(
            `INSERT INTO "_prisma_migrations" (id, checksum, finished_at, migration_name, logs, started_at, applied_steps_count)
             VALUES ($1, $2, now(), $3, NULL, now(), 1)`,
            [randomUUID(), file.checksum, file.name],
          );
          await session.exec("COMMIT");
        } catch (error) {
          await session.exec("ROLLBACK");
          throw new MigrationError(`Migration ${file.name} failed and was rolled back: ${(error as Error).message}`);
        }
        log(`applied ${file.name} (${Date.now() - started} ms)`);
      }
      const applied = files.map((f) => f.name);
      return { applied, pending: [], latest: applied.at(-1) ?? null };
    } finally {
      await session.query(`SELECT pg_advisory_unlock(${PRISMA_ADVISORY_LOCK})`);
    }
  });
}

const filesByDir = new Map<string, MigrationFile[]>();

/** What is applied and what is not, without changing anything (one query on the app's pool). */
export async function migrationStatus(db: Pick<Database, "prisma">, dir = defaultMigrationsDir): Promise<MigrationStatus> {
  // The files do not change while the process runs; read them once.
  if (!filesByDir.has(dir)) filesByDir.set(dir, readMigrations(dir));
  const files = filesByDir.get(dir)!;
  const rows = await db.prisma.$queryRawUnsafe<{ name: string | null }[]>(
    `SELECT CASE WHEN to_regclass('"_prisma_migrations"') IS NULL THEN NULL ELSE 'present' END AS name`,
  );
  const done = new Set<string>();
  if (rows[0]?.name) {
    const applied = await db.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
      `SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    for (const r of applied) done.add(r.migration_name);
  }
  const applied = files.filter((f) => done.has(f.name)).map((f) => f.name);
  return { applied, pending: files.filter((f) => !done.has(f.name)).map((f) => f.name), latest: applied.at(-1) ?? null };
}
