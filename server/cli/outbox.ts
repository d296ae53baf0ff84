// npm run worker:outbox: the outbox worker, woken by appends (LISTEN emr_appended on PostgreSQL)
// and polling every OUTBOX_POLL_MS as the fallback, until SIGTERM/SIGINT. Several may run at once
// (rows are claimed with SKIP LOCKED and a lease). Serves its own metrics on WORKER_METRICS_PORT.
import { ensureMigrated, openDatabase } from "../db/client";
import { checkPhiKeysAtStart } from "../db/phiKey";
import { env } from "../db/env";
import { storeFor } from "../api/context";
import { componentLogger } from "../log";
import { observeProcess } from "../metrics/process";
import { startMetricsServer } from "../metrics/expose";
import { runOutboxLoop } from "../workers/loop";
import { listenForAppends } from "../workers/wakeup";
import { outboxHandlers, OUTBOX_BATCH_SIZE, OUTBOX_MAX_ATTEMPTS, processBus } from "../workers/config";
import { closeWithin, stopOnSignals, runUntilStopped } from "./shutdown";

async function main() {
  const e = env();
  const log = componentLogger("worker");
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 2 });
  const bus = processBus();
  const stop = new AbortController();
  const warn = (line: string) => log.warn(line);
  stopOnSignals(stop, { name: "outbox worker", warn });
  const listener = db.mode === "postgresql" && e.DATABASE_URL ? listenForAppends(e.DATABASE_URL) : null;
  const metricsServer = e.WORKER_METRICS_PORT > 0 ? await startMetricsServer({ port: e.WORKER_METRICS_PORT, db: db.prisma, token: e.METRICS_TOKEN }) : null;
  if (metricsServer && !e.METRICS_TOKEN) log.warn(`metrics on 127.0.0.1:${e.WORKER_METRICS_PORT} only: set METRICS_TOKEN to serve them to a Prometheus on another host`);
  let stopRollups: (() => Promise<void>) | null = null;
  try {
    // As the console does: migrate only as the owner (MIGRATION_DATABASE_URL), and start beside a
    // schema a newer release has already migrated instead of refusing (a rolling deploy).
    await ensureMigrated(db, e.MIGRATION_DATABASE_URL);
    // A wrong PHI_MASTER_KEY stops the worker here, not on the first event it reads.
    await checkPhiKeysAtStart(db.sql, e);
    stopRollups = observeProcess(db);
    log.info(
      {
        database: db.mode === "postgresql" ? `PostgreSQL ${db.location}` : `embedded ${db.location}`,
        bus: bus ? "RabbitMQ" : "none",
        pollMs: e.OUTBOX_POLL_MS,
        wokenByAppends: listener !== null,
        metricsPort: e.WORKER_METRICS_PORT || null,
      },
      "outbox worker started",
    );
    const store = storeFor(db);
    await runOutboxLoop(
      { store, handlers: outboxHandlers(store), bus },
      { batchSize: OUTBOX_BATCH_SIZE, maxAttempts: OUTBOX_MAX_ATTEMPTS, pollMs: e.OUTBOX_POLL_MS, retentionDays: e.OUTBOX_RETENTION_DAYS, signal: stop.signal },
    );
    log.info("outbox worker stopped");
  } finally {
    // Each step bounded: a broker that is gone never answers amqplib's close handshake.
    const rollups = stopRollups;
    if (rollups) await closeWithin("the metric history", rollups, warn);
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await closeWithin("the metrics server", () => new Promise<void>((resolve) => metricsServer.close(() => resolve())), warn);
    }
    if (listener) await closeWithin("the append listener", () => listener.close(), warn);
    if (bus) await closeWithin("the RabbitMQ connection", () => bus.close(), warn);
    await closeWithin("the database", () => db.close(), warn);
  }
}

runUntilStopped(main);
