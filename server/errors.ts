// The one error module. Domain and store code throw these; server/api/errors.ts maps them to
// tRPC codes in one place.

export class ConcurrencyError extends Error {
  override readonly name = "ConcurrencyError";
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number | string,
    readonly actualVersion: number,
  ) {
    super(
      `Stream ${streamId} changed: expected version ${String(expectedVersion)}, actual version ${actualVersion}`,
    );
  }
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} not found`);
  }
}

/** Input that is well-formed but not acceptable (a rule on the request itself). */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** A business rule refused the command in the aggregate's current state. */
export class InvariantError extends Error {
  override readonly name = "InvariantError";
  constructor(
    message: string,
    readonly rule?: string,
  ) {
    super(message);
  }
}

/**
 * A client's idempotency key (command id) that was already used for a different command or a
 * different record: answering "repeated" would silently drop this one.
 */
export class IdempotencyKeyReusedError extends Error {
  override readonly name = "IdempotencyKeyReusedError";
  constructor(
    readonly commandId: string,
    readonly usedFor: "record" | "command",
  ) {
    super(
      usedFor === "record"
        ? `Command id ${commandId} was already used for another record; send this change under a new command id`
        : `Command id ${commandId} was already used for a different change to this record; send this change under a new command id`,
    );
  }
}

/**
 * A clinician asked for the chart of a patient who is not in their care (no encounter, order or
 * registration of theirs, no unexpired emergency access): they must break the glass with a reason.
 */
export class NotInCareError extends Error {
  override readonly name = "NotInCareError";
  constructor(readonly patientId: string) {
    super("This patient is not in your care: state a reason to open the chart (break the glass)");
  }
}

/** A patient already registered whom a new registration may describe again. */
export type DuplicateCandidate = { patientId: string; mrn: string; givenName: string; familyName: string; dateOfBirth: string; sex: string };

/**
 * A registration that may be a patient already registered (the same date of birth and names): a second chart splits the record (an allergy on one is not on the other), so the
 * clinician looks at the candidates first and says which are not this person.
 */
export class PossibleDuplicateError extends Error {
  override readonly name = "PossibleDuplicateError";
  constructor(readonly candidates: DuplicateCandidate[]) {
    super(
      `${candidates.length === 1 ? "A patient with" : `${candidates.length} patients with`} this name and date of birth may already be registered: open ${candidates.length === 1 ? "that chart" : "their charts"}, or register anyway if this is someone else`,
    );
  }
}
