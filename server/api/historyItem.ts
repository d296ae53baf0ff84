import type { StoredEvent } from "../eventStore";

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
  };
}
