// Structured logs: one JSON line per event worth keeping (a request, a worker batch, a failure),
// through pino. What may go in: procedure names, ids (user, correlation, event, stream), counts,
// durations, outcomes and error summaries. Never inputs, payloads or anything typed by a person:
// patient data must not reach a log (server/log/phi.int.test.ts holds us to it).
import pino, { type DestinationStream, type Logger } from "pino";
import { pgErrorInfo } from "../eventStore/db";

const key = Symbol.for("emr.logger");
type GlobalWithLogger = typeof globalThis & { [key]?: Logger };

function levelFromEnv(): string {
  const level = process.env.LOG_LEVEL?.trim();
  if (level && ["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(level)) return level;
  // Test runs keep their output for the tests' own reports (a test that reads logs sets a destination).
  return process.env.VITEST ? "warn" : "info";
}

function build(destination?: DestinationStream, level = levelFromEnv()): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A second line of defence: fields that would carry input or payloads are never written.
      redact: { paths: ["input", "data", "payload", "body", "*.input", "*.data", "*.payload", "*.body"], remove: true },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

/** The process's logger (one per process, shared by Next's server layers). */
export function logger(): Logger {
  const g = globalThis as GlobalWithLogger;
  g[key] ??= build();
  return g[key];
}

const children = new WeakMap<Logger, Map<string, Logger>>();

/** A child logger for one component: every line carries `component`. Made once per component (and logger). */
export function componentLogger(component: string): Logger {
  const root = logger();
  let byComponent = children.get(root);
  if (!byComponent) children.set(root, (byComponent = new Map()));
  let child = byComponent.get(component);
  if (!child) byComponent.set(component, (child = root.child({ component })));
  return child;
}

/**
 * Sends every line at `level` and above to `destination` until the returned function is called
 * (tests read the whole log output this way).
 */
export function useLogDestination(destination: DestinationStream, level = "info"): () => void {
  const g = globalThis as GlobalWithLogger;
  const previous = g[key];
  g[key] = build(destination, level);
  return () => {
    g[key] = previous;
  };
}

/**
 * An error as log fields: its name and code, and the database's SQLSTATE when the code is the
 * client's own (Prisma's P2010 "raw query failed" says nothing of why: 25006 read-only, 57014
 * cancelled); never a message, which can quote a row.
 */
export function errorFields(error: unknown): { error: string; code?: string; sqlstate?: string } {
  const e = error as { name?: unknown; code?: unknown } | null;
  const name = typeof e?.name === "string" ? e.name : typeof error;
  const code = typeof e?.code === "string" || typeof e?.code === "number" ? String(e.code).slice(0, 40) : undefined;
  const state = typeof error === "object" && error !== null ? pgErrorInfo(error).code : undefined;
  return { error: name, ...(code ? { code } : {}), ...(state && state !== code && /^[0-9A-Z]{5}$/.test(state) ? { sqlstate: state } : {}) };
}

/**
 * The background loops' progress ("projection patients: applied 12 events", "audit: sealed …")
 * as JSON lines of the process's log, the message as it reads.
 */
export function progressLog(line: string): void {
  componentLogger("background").info(line);
}
