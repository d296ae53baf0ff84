// Operations on the system itself are part of the record: a projection rebuild says who started
// it, why, and how it ended, in a stream of its own, so it shows in the audit log.
import { z } from "zod";
import { defineEvent, type EventOf } from "../../eventStore/serializer";
import { noPhi } from "../../eventStore/phi";

const projection = z.string().min(1).max(100);
const rebuildId = z.uuid();

export const ProjectionRebuildStarted = defineEvent(
  "ProjectionRebuildStarted",
  z.object({ rebuildId, projection, reason: z.string().min(1).max(500), codeVersion: z.number().int(), eventsTotal: z.number().int().min(0) }), { phi: noPhi });

const ended = {
  rebuildId,
  projection,
  eventsDone: z.number().int().min(0),
  durationMs: z.number().min(0),
};

export const ProjectionRebuildFinished = defineEvent(
  "ProjectionRebuildFinished",
  z.object({ ...ended, eventsPerSecond: z.number().min(0), swapPauseMs: z.number().min(0) }), { phi: noPhi });

export const ProjectionRebuildCancelled = defineEvent("ProjectionRebuildCancelled", z.object({ ...ended }), { phi: noPhi });

export const ProjectionRebuildFailed = defineEvent("ProjectionRebuildFailed", z.object({ ...ended, error: z.string().max(500) }), { phi: noPhi });

export const operationsEvents = [ProjectionRebuildStarted, ProjectionRebuildFinished, ProjectionRebuildCancelled, ProjectionRebuildFailed] as const;
export type OperationsEvent = EventOf<typeof operationsEvents>;

/** One stream per rebuild: its start and its end, never contended. */
export const rebuildStream = (rebuildId: string) => `operations-rebuild-${rebuildId}`;
export const OPERATIONS_AGGREGATE = "operations";
