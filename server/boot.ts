// What a Next server process (next start, next dev; npm start runs next start) does before it
// serves its first request: check every setting, then start the background work. Called by
// instrumentation.ts in the Node.js runtime, once per process.
import { getDatabase } from "./db/client";
import { embeddedDatabaseHolder, HANDED_OVER_LOCK_ENV } from "./db/embeddedLock";
import { env, EnvError, type Env } from "./db/env";
import { backgroundWorkWanted, startBackgroundWork } from "./workers/background";
import { observeProcess } from "./metrics/process";

/** Says why and ends the process: a server that cannot work must not print "Ready". */
function refuse(message: string): never {
  console.error(message);
  process.exit(1);
}

export async function bootServer(): Promise<void> {
  let e: Env;
  try {
    e = env();
  } catch (error) {
    if (error instanceof EnvError) refuse(error.message);
    throw error;
  }
  // A production server on the embedded database says so: a deploy whose DATABASE_URL came out
  // blank (a secret not injected) otherwise came up healthy on an empty folder in its container,
  // with only "console ready" to show for it. npm start's launcher has said it already.
  if (e.NODE_ENV === "production" && !e.DATABASE_URL && !process.env[HANDED_OVER_LOCK_ENV]) {
    console.warn(
      `[db] DATABASE_URL is ${process.env.DATABASE_URL === undefined ? "not set" : "empty"}: serving from the embedded database at ${e.PGLITE_DIR}, ` +
        "which is for trying the product, not for patients' data; set DATABASE_URL to the PostgreSQL database",
    );
  }
  // Background work opens the database at boot; so does a PostgreSQL deployment without it, so
  // that migrations and the PHI master key are checked before the first request (a wrong key
  // stops start-up here, not on the first chart). The embedded database without background work
  // is opened by its first request, as before; but one that another process holds stops start-up
  // here, naming the holder, instead of printing "Ready" and failing every page.
  if (!backgroundWorkWanted(e) && !e.DATABASE_URL) {
    const holder = embeddedDatabaseHolder(e.PGLITE_DIR);
    if (holder) refuse(holder);
    return;
  }
  let db;
  try {
    db = await getDatabase();
  } catch (error) {
    if (error instanceof EnvError) refuse(error.message);
    refuse(`Cannot open the database: ${(error as Error).message}`);
  }
  if (!backgroundWorkWanted(e)) return;
  // The metric history and the wake-up of other processes after this one's appends.
  const stopRollups = observeProcess(db);
  const work = startBackgroundWork(db, { env: e });
  // The handlers go in before the start-up line: an orchestrator may stop the process the moment
  // it reads that line, and a signal with no handler yet would kill it mid-pass. A second signal
  // while the loops finish their pass (orchestrators repeat them) changes nothing.
  let stopping: Promise<void> | null = null;
  const stop = () => void (stopping ??= work.stop().then(stopRollups));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  console.log(`background work: ${work.running.join(", ")}`);
}
