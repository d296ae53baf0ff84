// npm start: build the console when the sources are newer than the last build, migrate, seed
// synthetic demo data into an empty database, then serve on :3000 (PORT). The database is
// closed before Next opens it: the embedded PGlite must be owned by one process at a time.
import { spawn } from "node:child_process";
import { ensureBuild, nextBin } from "./build";
import { openDatabase } from "../db/client";
import { env } from "../db/env";
import { migrate } from "../db/migrate";
import { prepareDemo } from "../../prisma/seed";
import { logProjectionVersions } from "../projections/runner";
import { allProjections } from "../projections/registry";

async function main() {
  const e = env();
  ensureBuild();

  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 4 });
  try {
    console.log(db.mode === "postgresql" ? `database: PostgreSQL ${db.location}` : `database: embedded PGlite at ${db.location}`);
    const status = await migrate(db, { log: (line) => console.log(`  migration ${line}`) });
    console.log(`migrations: ${status.applied.length} applied, latest ${status.latest ?? "none"}`);
    await prepareDemo(db, e);
    await logProjectionVersions(db.prisma, allProjections, (line) => console.log(line));
  } finally {
    await db.close();
  }

  const port = process.env.PORT ?? "3000";
  // The outbox is drained inside the console's process unless told otherwise: the embedded
  // database cannot be shared with a separate worker process.
  const server = spawn(process.execPath, [nextBin, "start", "-p", port], {
    stdio: "inherit",
    env: { OUTBOX_WORKER: "inline", ...process.env },
  });
  const stop = (signal: NodeJS.Signals) => server.kill(signal);
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  server.on("exit", (code) => process.exit(code ?? 0));
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
