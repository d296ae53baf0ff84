// The outbox worker as the app runs it (npm run worker:outbox and /api/cron/outbox): its
// in-process consumers, batch size, attempts, and the process's one bus connection.
import type { Database } from "../db/client";
import { env } from "../db/env";
import { storeOn } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { rabbitBus } from "./bus";
import { runOutboxLoop } from "./loop";
import type { Bus, HandlerRegistry } from "./outbox";
import { listenForAppends } from "./wakeup";

export const OUTBOX_BATCH_SIZE = 100;
/** Tries before a row is dead-lettered; admin.retryDeadLetter puts it back. */
export const OUTBOX_MAX_ATTEMPTS = 5;

/**
 * The in-process consumers, by event type (addHandler from ./outbox). None yet. Each runs at
 * least once per event, so it must dedupe by event.metadata.eventId.
 */
export function outboxHandlers(): HandlerRegistry {
  return new Map();
}

const busKey = Symbol.for("emr.outboxBus");
type GlobalWithBus = typeof globalThis & { [busKey]?: Bus | null };

/** The process's bus on AMQP_URL (connected lazily), or null when it is unset. */
export function processBus(): Bus | null {
  const g = globalThis as GlobalWithBus;
  if (g[busKey] === undefined) {
    const url = env().AMQP_URL;
    g[busKey] = url ? rabbitBus(url) : null;
  }
  return g[busKey];
}

const inlineKey = Symbol.for("emr.outboxInlineWorker");
type GlobalWithWorker = typeof globalThis & { [inlineKey]?: AbortController };

/**
 * OUTBOX_WORKER=inline: the worker loop inside the app's own process, started once. This is how
 * the embedded database gets its outbox drained (PGlite belongs to one process, so a separate
 * worker cannot open it); npm start turns it on. With PostgreSQL, run npm run worker:outbox
 * (several may run) or call /api/cron/outbox instead.
 */
export function startInlineOutboxWorker(db: Database): void {
  const g = globalThis as GlobalWithWorker;
  if (g[inlineKey]) return;
  const stop = new AbortController();
  g[inlineKey] = stop;
  const e = env();
  // Other instances' appends wake this worker too (their NOTIFY); this process's wake it directly.
  if (db.mode === "postgresql" && e.DATABASE_URL) listenForAppends(e.DATABASE_URL);
  void runOutboxLoop(
    { store: storeOn(db.prisma, eventRegistry), handlers: outboxHandlers(), bus: processBus() },
    {
      batchSize: OUTBOX_BATCH_SIZE,
      maxAttempts: OUTBOX_MAX_ATTEMPTS,
      pollMs: e.OUTBOX_POLL_MS,
      retentionDays: e.OUTBOX_RETENTION_DAYS,
      signal: stop.signal,
    },
  );
}
