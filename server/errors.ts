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
