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
    /** A record the caller may open to see why (their own patient holding the MRN they sent). */
    readonly patientId?: string,
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

/** What a caller is told when the database cannot be reached: no cause, no values, a retry. */
export const DATABASE_UNAVAILABLE_MESSAGE = "The database is unavailable; try again in a moment";

/**
 * What a caller is told when the database refuses every write (a standby not yet promoted after
 * a failover, or a DBA's default_transaction_read_only): opening a chart is recorded, so it is
 * refused too.
 */
export const DATABASE_READ_ONLY_MESSAGE =
  "The database is read-only for now (a failover or maintenance): nothing can be recorded, and opening a chart is recorded; try again in a few minutes";

/**
 * What a caller is told when the database has no disk space left for a write (SQLSTATE 53100):
 * not a moment's wait, and nothing the caller can do.
 */
export const DATABASE_DISK_FULL_MESSAGE =
  "The database is out of disk space: nothing can be recorded until its administrator frees some; try again later";

/**
 * What a caller is told when the command's transaction kept being refused for ordering after
 * other writes to the same record at the same moment (serialization failures or deadlocks past
 * the store's retries): nothing was saved, and sending it again is safe.
 */
export const RECORD_BUSY_MESSAGE = "Others were changing this record at the same moment, so this was not saved; send it again";

/**
 * SQLSTATEs of a connection that failed or was ended by the server: class 08 (connection
 * exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now: a failover, a
 * restart, a DBA's pg_terminate_backend), 57P05 (idle session timeout), 25P03 (idle in
 * transaction timeout), 53300 (too many connections); 57014, a statement cancelled at the
 * statement bound (DB_STATEMENT_TIMEOUT_SECONDS: stuck behind a lock, or the server overloaded)
 * or by a DBA's pg_cancel_backend, and 55P03, a lock not granted within a lock_timeout a DBA set
 * on the role or the database: its transaction rolled back, a retry in a moment may pass; and
 * 25006, a write refused by a read-only database (isDatabaseReadOnly), and 53100, one refused
 * for want of disk space (isDatabaseDiskFull): nothing was written, and the cure is the DBA's.
 */
const unavailableStates = /^(08...|57P0[1235]|57014|55P03|25P03|53300|25006|53100)$/;
/** read_only_sql_transaction: a hot standby, or default_transaction_read_only on. */
const READ_ONLY_STATE = "25006";
/** disk_full: "could not extend file ...: No space left on device". */
const DISK_FULL_STATE = "53100";
/** Prisma's driver adapters' kinds and its P-codes for the same (P2024: no pool connection in time). */
const unavailableKinds = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const unavailablePrismaCodes = new Set(["P1001", "P1002", "P1017", "P2024"]);
/** Socket errors from node, as pg raises them. */
const unavailableSocketCodes = new Set(["ECONNREFUSED", "ECONNRESET", "ENOTFOUND", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"]);
/**
 * The driver's own words for the rest, which carry no code: pg's ended or broken connections and
 * its pool's wait running out (DB_POOL_WAIT_SECONDS), a statement the server never answered within
 * the client's bound (pg's query_timeout: a network black hole), Prisma's transaction that found
 * no connection within maxWait, and the server's refusals while it shuts down or starts.
 */
const unavailableMessages =
  /Connection terminated|Query read timeout|timeout exceeded when trying to connect|not queryable|Unable to start a transaction in the given time|Can't reach database server|server closed the connection unexpectedly|the database system is (shutting down|starting up|in recovery mode|not yet accepting connections)/i;

/**
 * Walks an error's cause chain and the places Prisma's driver adapters put the database's code,
 * until `test` says yes.
 */
function anyInChain(error: unknown, test: (rec: Record<string, unknown>) => boolean): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 16) {
    const e = queue.shift();
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    const rec = e as Record<string, unknown>;
    if (test(rec)) return true;
    queue.push(rec.cause, rec.meta, rec.driverAdapterError);
    if (Array.isArray(rec.errors)) queue.push(...(rec.errors as unknown[]));
  }
  return false;
}

const codesOf = (rec: Record<string, unknown>): string[] =>
  ["code", "originalCode"].map((key) => rec[key]).filter((code): code is string => typeof code === "string");

/**
 * Whether an error says the database could not be reached or dropped the connection, or refuses
 * writes for now (rather than refusing a statement): the request may succeed when tried again in
 * a moment. Answered 503 (server/api/errors.ts), never a fault.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return anyInChain(error, (rec) => {
    for (const code of codesOf(rec)) {
      if (unavailableStates.test(code) || unavailablePrismaCodes.has(code) || unavailableSocketCodes.has(code)) return true;
    }
    if (typeof rec.kind === "string" && unavailableKinds.has(rec.kind)) return true;
    return typeof rec.message === "string" && unavailableMessages.test(rec.message);
  });
}

/**
 * Whether the database refused a write because it is read-only: a standby that is not yet
 * writable (a failover in progress), or default_transaction_read_only set by a DBA.
 */
export function isDatabaseReadOnly(error: unknown): boolean {
  return anyInChain(error, (rec) => codesOf(rec).includes(READ_ONLY_STATE));
}

/** Whether a statement gave up waiting for a lock (lock_timeout, 55P03). */
export function isLockTimeout(error: unknown): boolean {
  return anyInChain(error, (rec) => codesOf(rec).includes("55P03"));
}

/** Whether the database refused a write for want of disk space. */
export function isDatabaseDiskFull(error: unknown): boolean {
  return anyInChain(error, (rec) => codesOf(rec).includes(DISK_FULL_STATE));
}

/** What the caller is told about an error isDatabaseUnavailable said yes to. */
export function databaseUnavailableMessage(error: unknown): string {
  if (isDatabaseReadOnly(error)) return DATABASE_READ_ONLY_MESSAGE;
  if (isDatabaseDiskFull(error)) return DATABASE_DISK_FULL_MESSAGE;
  return DATABASE_UNAVAILABLE_MESSAGE;
}
