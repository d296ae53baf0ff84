// What the maintenance scripts (keys:rotate, projections:rebuild, snapshots:historic) share: the
// database from the environment, migrated as the console does, and closed with this process's
// metric minutes written however the script ends; and the exit with the script's code.
import { ensureMigrated, openDatabase, type Database } from "../db/client";
import { env, type Env } from "../db/env";
import { flushRollupsAtExit } from "../metrics/rollups";

/** Opens the database, migrates it as the console does, runs `body`, and closes it whatever happens. */
export async function withScriptDatabase<T>(poolMax: number, body: (db: Database, e: Env) => Promise<T>): Promise<T> {
  const e = env();
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax });
  try {
    // Migrate only as the owner (MIGRATION_DATABASE_URL), and start beside a schema a newer
    // release has already migrated instead of refusing (a rolling deploy).
    await ensureMigrated(db, e.MIGRATION_DATABASE_URL);
    return await body(db, e);
  } finally {
    await flushRollupsAtExit(db.prisma);
    await db.close();
  }
}

/** Runs a script's `main` and exits with its code; a thrown error is printed as `describe` says, and exits 1. */
export function runScript(main: () => Promise<number>, describe: (error: unknown) => string): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(describe(error));
      process.exit(1);
    },
  );
}

/**
 * For a script that takes no arguments: `--help` prints `usage` (exit 0), anything else is refused
 * with it (exit 2). Ignored, they ran the real thing: `keys:rotate -- --dry-run` re-wrapped every key.
 */
export function refuseArguments(usage: string, args = process.argv.slice(2)): void {
  if (args.length === 0) return;
  if (args.length === 1 && (args[0] === "--help" || args[0] === "-h")) {
    console.log(usage);
    process.exit(0);
  }
  console.error(`${args.join(" ")}: this command takes no arguments\n${usage}`);
  process.exit(2);
}
