// Operations on the system itself are part of the record: a projection rebuild says who started
// it, why, and how it ended, in a stream of its own, so it shows in the audit log; so does an
// operator's acceptance that the log went back to a backup (audit:verify --accept-restore); so
// does an admin's retry or setting aside of an outbox dead letter, and a discard of snapshots.
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

const sealRef = z.object({ seq: z.number().int().min(1), to: z.string().max(60), chainHash: z.string().regex(/^[0-9a-f]{64}$/) });

/**
 * A restore of a backup accepted: the seal witnessed outside the database that the restored log
 * no longer holds (set aside in the witness file, not deleted), and the newest seal the database
 * does hold, the new baseline (null: the backup held no seal).
 */
export const AuditRestoreAccepted = defineEvent(
  "AuditRestoreAccepted",
  z.object({ reason: z.string().min(1).max(500), witnessed: sealRef.extend({ signedAt: z.string().max(40).nullable() }), baseline: sealRef.nullable() }),
  { phi: noPhi },
);

/** A dead letter of the outbox, as an admin acted on it: ids, type, stage; never the event's payload. */
const deadLetter = {
  outboxId: z.number().int().positive(),
  /** The event that was dead-lettered (its own stream is untouched). */
  eventId: z.uuid(),
  eventType: z.string().min(1).max(200),
  /** Where it failed: the in-process handlers, or the message bus after them. */
  stage: z.enum(["handlers", "bus"]),
  attempts: z.number().int().min(0),
  lastError: z.string().max(500).nullable(),
};

/** Put back in line by an admin: tried again from the stage it failed in, attempts from zero. */
export const OutboxDeadLetterRetried = defineEvent("OutboxDeadLetterRetried", z.object(deadLetter), { phi: noPhi });

/**
 * Set aside by an admin, so that the later events of its record go on: failed in the handlers, it
 * goes on to the bus without them (their work for it is not done); failed at the bus, it is never
 * published. The reason is in clear: it must not name a patient.
 */
export const OutboxDeadLetterSetAside = defineEvent(
  "OutboxDeadLetterSetAside",
  z.object({ ...deadLetter, reason: z.string().min(3).max(500) }),
  { phi: noPhi },
);

/**
 * Snapshots of one aggregate type deleted by an admin: those of state versions the build that
 * discarded them does not fold with ("stale"), or all of them ("all": loads fold from the events
 * until the next snapshot is written, and time travel loses its historic snapshots). A snapshot
 * is only a cache: no record changes. The reason is in clear: it must not name a patient.
 */
export const SnapshotsDiscarded = defineEvent(
  "SnapshotsDiscarded",
  z.object({
    aggregateType: z.string().min(1).max(100),
    which: z.enum(["stale", "all"]),
    /** The state version the discarding build folds with (null: no code folds this type any more). */
    currentStateVersion: z.number().int().min(0).nullable(),
    discarded: z.number().int().min(0),
    bytes: z.number().int().min(0),
    reason: z.string().min(3).max(500),
  }),
  { phi: noPhi },
);

export const operationsEvents = [
  ProjectionRebuildStarted,
  ProjectionRebuildFinished,
  ProjectionRebuildCancelled,
  ProjectionRebuildFailed,
  AuditRestoreAccepted,
  OutboxDeadLetterRetried,
  OutboxDeadLetterSetAside,
  SnapshotsDiscarded,
] as const;
export type OperationsEvent = EventOf<typeof operationsEvents>;

/** One stream per rebuild: its start and its end, never contended. */
export const rebuildStream = (rebuildId: string) => `operations-rebuild-${rebuildId}`;
export const OPERATIONS_AGGREGATE = "operations";
/** One stream per accepted restore. */
export const restoreStream = (id: string) => `operations-audit-restore-${id}`;
/** One stream per dead-lettered event: what admins did about it, in order. */
export const deadLetterStream = (eventId: string) => `operations-outbox-${eventId}`;
/** One stream per aggregate type: admins' discards of its snapshots, in order. */
export const snapshotsStream = (aggregateType: string) => `operations-snapshots-${aggregateType}`;
