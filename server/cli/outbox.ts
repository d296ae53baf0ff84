// npm run worker:outbox: the outbox worker, polling every OUTBOX_POLL_MS until SIGTERM/SIGINT.
// Several may run at once (rows are claimed with SKIP LOCKED and a lease).
import { openDatabase } from "../db/client";
import { env } from "../db/env";
import { migrate } from "../db/migrate";
import { storeFor } from "../api/context";
import { runOutboxLoop } from "../workers/loop";
import { outboxHandlers, OUTBOX_BATCH_SIZE, OUTBOX_MAX_ATTEMPTS, processBus } from "../workers/config";

async function main() {
  const e = env();
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 2 });
  const bus = processBus();
  const stop = new AbortController();
  process.once("SIGTERM", () => stop.abort());
  process.once("SIGINT", () => stop.abort());
  try {
    await migrate(db);
    console.log(`outbox worker: ${db.mode === "postgresql" ? `PostgreSQL ${db.location}` : `embedded ${db.location}`}, bus ${bus ? "RabbitMQ" : "none (in-process handlers only)"}, every ${e.OUTBOX_POLL_MS} ms`);
    const store = storeFor(db);
    await runOutboxLoop(
      { store, handlers: outboxHandlers(store), bus },
      { batchSize: OUTBOX_BATCH_SIZE, maxAttempts: OUTBOX_MAX_ATTEMPTS, pollMs: e.OUTBOX_POLL_MS, signal: stop.signal, log: (line) => console.log(line) },
    );
    console.log("outbox worker: stopped");
  } finally {
    await bus?.close();
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(1);
});
