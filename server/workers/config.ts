// The outbox worker as the app runs it (npm run worker:outbox, /api/cron/outbox and the inline
// worker of ./background.ts): its in-process consumers, batch size, attempts, and the process's
// one bus connection.
import { env } from "../db/env";
import { rabbitBus } from "./bus";
import type { Bus, HandlerRegistry } from "./outbox";

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
