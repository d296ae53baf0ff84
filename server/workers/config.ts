// The outbox worker as the app runs it (npm run worker:outbox, /api/cron/outbox and the inline
// worker of ./background.ts): its in-process consumers, batch size, attempts, and the process's
// one bus connection.
import { env } from "../db/env";
import type { Store } from "../eventStore";
import { rabbitBus } from "./bus";
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
