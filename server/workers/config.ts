// The outbox worker as the app runs it (npm run worker:outbox and /api/cron/outbox): its
// in-process consumers, batch size, attempts, and the process's one bus connection.
import type { Database } from "../db/client";
import { env } from "../db/env";
import { storeOn, type Store } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { rabbitBus } from "./bus";
import { runOutboxLoop } from "./loop";
import { addHandler, type Bus, type HandlerRegistry } from "./outbox";
import { flagCriticalResults } from "./reactions";

export const OUTBOX_BATCH_SIZE = 100;
/** Tries before a row is dead-lettered; admin.retryDeadLetter puts it back. */
export const OUTBOX_MAX_ATTEMPTS = 5;

/**
 * The in-process consumers, by event type, on the worker's own store. Each runs at least once
 * per event, so it must dedupe by event.metadata.eventId (the reactions derive their event ids
 * from it).
 */
export function outboxHandlers(store: Store): HandlerRegistry {
  return addHandler(new Map(), "OrderStatusChanged", flagCriticalResults(store));
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
  const store = storeOn(db, eventRegistry);
  void runOutboxLoop(
    { store, handlers: outboxHandlers(store), bus: processBus() },
    {
      batchSize: OUTBOX_BATCH_SIZE,
      maxAttempts: OUTBOX_MAX_ATTEMPTS,
      pollMs: env().OUTBOX_POLL_MS,
      signal: stop.signal,
      log: (line) => console.log(line),
    },
  );
}
