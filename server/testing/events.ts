// A small event vocabulary for store tests, independent of the clinical domain.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { createRegistry, defineEvent, storeOn, type NewEvent, type Store } from "../eventStore";
import type { Database } from "../db/client";
import { clinicalEvents } from "../domain/registry";
import { userEvents } from "../domain/user/events";
import { operationsEvents } from "../domain/operations/events";

// Clinical events too: tests share one database, and global-log readers see every test's events.
export const testRegistry = createRegistry([
  defineEvent("NoteAdded", z.object({ text: z.string(), n: z.number().int() })),
  defineEvent("NoteRemoved", z.object({ reason: z.string() })),
  ...clinicalEvents,
  ...userEvents,
  ...operationsEvents,
]);

export function storeOf(db: Database): Store {
  return storeOn(db, testRegistry);
}

export function note(n: number, over: Partial<NewEvent> = {}): NewEvent {
  return {
    type: "NoteAdded",
    data: { text: `note ${n}`, n },
    eventId: randomUUID(),
    occurredAt: new Date(),
    userId: "user-test",
    correlationId: randomUUID(),
    causationId: null,
    ...over,
  };
}

export const newStreamId = (prefix = "note") => `${prefix}-${randomUUID()}`;
