import type { Db, StoredEvent } from "../eventStore";
import { providerNames } from "../projections/queries";
import { undecodableReason } from "./undecodable";

/** One event as the history views show it: what, to which record, by whom, why and what caused it. */
export function historyItem(event: StoredEvent) {
  return {
    eventId: event.metadata.eventId,
    type: event.type,
    streamId: event.streamId,
    aggregateType: event.aggregateType,
    version: event.version,
    globalPosition: event.globalPosition,
    data: event.data,
    occurredAt: event.metadata.occurredAt,
    recordedAt: event.metadata.recordedAt,
    userId: event.metadata.userId,
    correlationId: event.metadata.correlationId,
    causationId: event.metadata.causationId,
    schemaVersion: event.metadata.schemaVersion,
    /** Set when this build could not decode the stored event: `data` is then the payload as stored. */
    undecodable: undecodableReason(event.data),
  };
}

/** History items with the display name of each event's author (null when the user is gone). */
export async function historyItems(db: Db, events: readonly StoredEvent[]) {
  const names = await providerNames(db, events.map((e) => e.metadata.userId));
  return events.map((event) => ({ ...historyItem(event), userName: names[event.metadata.userId] ?? null }));
}
