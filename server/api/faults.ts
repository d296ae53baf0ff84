// Unexpected errors (server faults): the server log gets what an operator needs to find the cause
// (error class, SQLSTATE, Prisma code, procedure, correlation id), the browser gets a generic
// message with the correlation id. Never the error's message or a driver's DETAIL: those carry
// the values of the row that failed, which can be patient data.

import { componentLogger } from "../log";
import { isDatabaseDiskFull, isDatabaseReadOnly } from "../errors";
import { isRetryableTransactionError } from "../eventStore";

/** What one log line says about a fault: names and codes only, never messages or values. */
export type FaultSummary = {
  /** The error classes along the cause chain, outermost first ("TRPCError < DriverAdapterError"). */
  errorClass: string;
  /** PostgreSQL's five-character SQLSTATE, when a database error is in the chain. */
  sqlState: string | null;
  /** Prisma's Pxxxx code, when Prisma raised it. */
  prismaCode: string | null;
};

const sqlStatePattern = /^[0-9A-Z]{5}$/;
const prismaCodePattern = /^P\d{4}$/;

export function summarizeFault(error: unknown): FaultSummary {
  const classes: string[] = [];
  let sqlState: string | null = null;
  let prismaCode: string | null = null;
  const seen = new Set<unknown>();
  // The cause chain and the places Prisma's driver adapters put the database's code.
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 12) {
    const e = queue.shift();
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    const rec = e as Record<string, unknown>;
    if (e instanceof Error) classes.push(e.constructor?.name && e.constructor.name !== "Error" ? e.constructor.name : e.name);
    for (const key of ["code", "originalCode", "sqlState"]) {
      const code = rec[key];
      if (typeof code !== "string") continue;
      if (!prismaCode && prismaCodePattern.test(code)) prismaCode = code;
      else if (!sqlState && sqlStatePattern.test(code)) sqlState = code;
    }
    queue.push(rec.cause, rec.meta, rec.driverAdapterError);
  }
  return { errorClass: classes.join(" < ") || typeof error, sqlState, prismaCode };
}

export type ServerFault = {
  /** The tRPC path ("patient.list"), or null outside a procedure (the transport, the context). */
  procedure: string | null;
  correlationId: string | null;
  error: unknown;
};

const logged = new WeakSet<object>();

/** Counters of faults since start, by kind: read by the health and metrics views. */
export const faultCounts = { internal: 0, undecodableEvents: 0, databaseUnavailable: 0 };

/**
 * The one place a server fault is logged. Logs each error object once, even when both the
 * procedure's middleware and the HTTP handler see it.
 */
export function logServerFault(fault: ServerFault): void {
  if (typeof fault.error === "object" && fault.error !== null) {
    if (logged.has(fault.error)) return;
    logged.add(fault.error);
  }
  faultCounts.internal++;
  writeFault("[fault]", fault);
}

/**
 * A request the database could not serve (unreachable, connection ended, no pool connection in
 * time, or a write refused by a read-only database): answered 503, logged here once, with codes
 * only, never the driver's message. A read-only database says so in the line ("[database
 * read-only]"), and so does a full disk ("[database disk full]"): the operator's cure is another
 * (promote the standby, turn the setting off, free space). A command that kept losing the
 * ordering to other writers of its record is none of these: a "[record busy]" warning instead.
 */
export function logDatabaseUnavailable(fault: ServerFault): void {
  if (typeof fault.error === "object" && fault.error !== null) {
    if (logged.has(fault.error)) return;
    logged.add(fault.error);
  }
  if (isRetryableTransactionError(fault.error)) return logRecordBusy(fault);
  faultCounts.databaseUnavailable++;
  writeFault(
    isDatabaseReadOnly(fault.error) ? "[database read-only]" : isDatabaseDiskFull(fault.error) ? "[database disk full]" : "[database unavailable]",
    fault,
  );
}

/**
 * A command refused for ordering after others' writes to the same record on every try
 * (40001/40P01 past the store's retries): answered 503 "send it again". Not a fault and not the
 * database down: one warning line, codes only, so an operator sees contention on a record.
 */
function logRecordBusy(fault: ServerFault): void {
  const s = summarizeFault(fault.error);
  const procedure = fault.procedure ?? "(transport)";
  componentLogger("api").warn(
    { busy: true, procedure, correlationId: fault.correlationId, ...(s.sqlState ? { sqlState: s.sqlState } : {}) },
    `[record busy] ${procedure} correlation=${fault.correlationId ?? "-"}` + (s.sqlState ? ` sqlstate=${s.sqlState}` : ""),
  );
}

/**
 * A fault as one JSON line of the process's log, at level error: the fields to filter on, and a
 * message that reads as the line an operator greps for (`[fault] patient.list correlation=…`).
 */
function writeFault(kind: "[fault]" | "[database unavailable]" | "[database read-only]" | "[database disk full]", fault: ServerFault): void {
  const s = summarizeFault(fault.error);
  const procedure = fault.procedure ?? "(transport)";
  componentLogger("api").error(
    {
      fault: kind === "[fault]" ? "internal" : kind.slice(1, -1),
      procedure,
      correlationId: fault.correlationId,
      errorClass: s.errorClass,
      ...(s.sqlState ? { sqlState: s.sqlState } : {}),
      ...(s.prismaCode ? { prismaCode: s.prismaCode } : {}),
    },
    `${kind} ${procedure} correlation=${fault.correlationId ?? "-"} class=${s.errorClass}` +
      (s.sqlState ? ` sqlstate=${s.sqlState}` : "") +
      (s.prismaCode ? ` prisma=${s.prismaCode}` : ""),
  );
}

/** What the browser is told about a fault: nothing about its cause, and where to look it up. */
const correlationKey = Symbol("correlationId");

/**
 * Tags an error raised before the request's context existed (the database held or unreachable,
 * a refused origin) with the request's correlation id, so its answer and its log line carry one.
 */
export function withCorrelationId<E extends object>(error: E, correlationId: string): E {
  Object.defineProperty(error, correlationKey, { value: correlationId });
  return error;
}

/** The correlation id withCorrelationId put on this error, if any. */
export function correlationIdOf(error: unknown): string | null {
  const tagged = typeof error === "object" && error !== null ? (error as { [correlationKey]?: string })[correlationKey] : undefined;
  return tagged ?? null;
}

export function faultMessage(correlationId: string | null | undefined): string {
  return correlationId
    ? `Something went wrong on the server. If it persists, give this reference to support: ${correlationId}`
    : "Something went wrong on the server.";
}
