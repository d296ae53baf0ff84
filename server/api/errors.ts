// The one place that turns domain and store errors into tRPC codes.
import { TRPCError } from "@trpc/server";
import {
  ConcurrencyError,
  databaseUnavailableMessage,
  IdempotencyKeyReusedError,
  isDatabaseDiskFull,
  isDatabaseReadOnly,
  isDatabaseUnavailable,
  InvariantError,
  NotFoundError,
  NotInCareError,
  PossibleDuplicateError,
  RECORD_BUSY_MESSAGE,
  ValidationError,
  type DuplicateCandidate,
} from "../errors";
import { DuplicateEventError, EventSchemaError, isRetryableTransactionError } from "../eventStore";

/** Details the browser may see, beside the message, for errors it can act on. */
export type DomainErrorData =
  | { kind: "concurrency"; streamId: string; expectedVersion: number | string; actualVersion: number }
  | { kind: "not_found"; entity: string; id: string }
  | { kind: "validation"; field?: string }
  | { kind: "invariant"; rule?: string; patientId?: string }
  | { kind: "idempotency"; commandId: string; usedFor: "record" | "command" }
  /** The chart needs a reason first: patient.breakGlass, then ask again. */
  | { kind: "break_the_glass"; patientId: string }
  /** Patients this registration may describe again: look, then register anyway naming them (notDuplicateOf). */
  | { kind: "possible_duplicate"; candidates: DuplicateCandidate[] }
  /**
   * The database could not be reached or dropped the connection: try again (with the same command
   * id). readOnly: it refuses writes for now (a failover not yet done, maintenance), for minutes;
   * diskFull: it has no space left for them, until its administrator frees some. busy: others
   * wrote the same record at the same moment, again on every try; nothing was saved.
   */
  | { kind: "unavailable"; readOnly?: true; diskFull?: true; busy?: true };

export class MappedError extends TRPCError {
  constructor(
    code: TRPCError["code"],
    message: string,
    readonly domain: DomainErrorData,
    cause: unknown,
  ) {
    super({ code, message, cause });
  }
}

export function toTRPCError(error: unknown): TRPCError | null {
  if (error instanceof TRPCError) return null;
  if (error instanceof ConcurrencyError) {
    return new MappedError(
      "CONFLICT",
      error.message,
      { kind: "concurrency", streamId: error.streamId, expectedVersion: error.expectedVersion, actualVersion: error.actualVersion },
      error,
    );
  }
  if (error instanceof NotFoundError) {
    return new MappedError("NOT_FOUND", error.message, { kind: "not_found", entity: error.entity, id: error.id }, error);
  }
  if (error instanceof ValidationError) {
    return new MappedError("BAD_REQUEST", error.message, { kind: "validation", field: error.field }, error);
  }
  // A new event refused on write: the request's fault. A stored event that cannot be decoded on
  // read (EventDecodeError, UnknownEventTypeError) is the server's: deliberately unmapped, so it
  // answers INTERNAL_SERVER_ERROR with the correlation id and is logged (trpc.ts).
  if (error instanceof EventSchemaError) {
    return new MappedError("BAD_REQUEST", error.message, { kind: "validation" }, error);
  }
  if (error instanceof InvariantError) {
    return new MappedError("PRECONDITION_FAILED", error.message, { kind: "invariant", rule: error.rule, ...(error.patientId ? { patientId: error.patientId } : {}) }, error);
  }
  if (error instanceof IdempotencyKeyReusedError) {
    return new MappedError("CONFLICT", error.message, { kind: "idempotency", commandId: error.commandId, usedFor: error.usedFor }, error);
  }
  if (error instanceof NotInCareError) {
    return new MappedError("PRECONDITION_FAILED", error.message, { kind: "break_the_glass", patientId: error.patientId }, error);
  }
  if (error instanceof PossibleDuplicateError) {
    return new MappedError("PRECONDITION_FAILED", error.message, { kind: "possible_duplicate", candidates: error.candidates }, error);
  }
  if (error instanceof DuplicateEventError) {
    return new MappedError("CONFLICT", error.message, { kind: "invariant", rule: "event.duplicate_id" }, error);
  }
  // A failover, a restart, a DBA ending the backend, an exhausted pool, a database that is
  // read-only for now: not a bug to look up by correlation id but a moment to wait (503). A command cut off here may or may not have
  // committed; sent again with the same command id it is answered as the first one was, or done.
  if (isDatabaseUnavailable(error)) return unavailableError(error);
  // Refused for ordering (40001) or a deadlock (40P01) on every one of the store's tries: the
  // record was being written by others at that moment. Rolled back, so safe to send again.
  if (isRetryableTransactionError(error)) return new MappedError("SERVICE_UNAVAILABLE", RECORD_BUSY_MESSAGE, { kind: "unavailable", busy: true }, error);
  return null;
}

export function unavailableError(cause: unknown): MappedError {
  return new MappedError(
    "SERVICE_UNAVAILABLE",
    databaseUnavailableMessage(cause),
    isDatabaseReadOnly(cause)
      ? { kind: "unavailable", readOnly: true }
      : isDatabaseDiskFull(cause)
        ? { kind: "unavailable", diskFull: true }
        : { kind: "unavailable" },
    cause,
  );
}
