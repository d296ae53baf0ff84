// Waking workers when events are appended, so they need not wait for their next poll.
//
// In one process: onAppended(fn) registers a listener; an append that committed calls
// appended(db), which runs the listeners at once. Across processes (PostgreSQL only): a process
// that listens (listenForAppends) holds one dedicated connection on LISTEN emr_appended and runs
// its local listeners on each notification; an appending process whose database was announced
// (announceAppends) sends pg_notify('emr_appended', '') after the commit, coalesced to at most one
// per COALESCE_MS. Never inside the append's transaction: a NOTIFY in the commit path takes a
// server-wide lock at commit and serializes every committing transaction. The embedded database
// is one process, so there the local listeners are all there is.
// Polling stays as the fallback: a lost notification (a reconnect, a crash) costs one poll interval.
import pg from "pg";
import type { Database } from "../db/client";
import type { Db } from "../eventStore/db";
import { componentLogger, errorFields } from "../log";

export const APPENDED_CHANNEL = "emr_appended";
export const COALESCE_MS = 2;

type Notifier = { lastSent: number; timer: NodeJS.Timeout | null; send: (() => Promise<unknown>) | null };
/** notifiers: the announced root clients (send is null on the embedded database). */
type WakeState = { listeners: Set<() => void>; notifiers: WeakMap<object, Notifier> };

const key = Symbol.for("emr.appendWakeup");
type GlobalWithWake = typeof globalThis & { [key]?: WakeState };

function state(): WakeState {
  const g = globalThis as GlobalWithWake;
  g[key] ??= { listeners: new Set(), notifiers: new WeakMap() };
  return g[key];
}

/** Calls fn (soon) after every append that committed, in this process or, when listening, any. */
export function onAppended(fn: () => void): () => void {
  const listeners = state().listeners;
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function runListeners(): void {
  for (const fn of state().listeners) {
    try {
      fn();
    } catch (error) {
      componentLogger("wakeup").warn({ ...errorFields(error) }, "append listener failed");
    }
  }
}

/**
 * Appends through this database's root client wake listeners once they return (they committed):
 * this process's, and on PostgreSQL other processes' through NOTIFY, sent by the driver outside
 * any transaction. Appends through a transaction client are announced by whoever commits it.
 */
export function announceAppends(database: Pick<Database, "prisma" | "mode" | "sql">): void {
  const notifiers = state().notifiers;
  if (notifiers.has(database.prisma)) return;
  const run = database.sql;
  const send = database.mode === "postgresql" ? () => run("SELECT pg_notify($1, '')", [APPENDED_CHANNEL]) : null;
  notifiers.set(database.prisma, { lastSent: 0, timer: null, send });
}

function send(notifier: Notifier): void {
  if (!notifier.send) return;
  notifier.lastSent = performance.now();
  notifier.send().catch((error: unknown) => componentLogger("wakeup").warn({ ...errorFields(error) }, "append notification not sent"));
}

/**
 * Call after an append committed (never inside its transaction): wakes this process's listeners
 * now, and other processes' through one coalesced NOTIFY.
 */
export function appended(db: Db): void {
  const s = state();
  if (s.listeners.size > 0) runListeners();
  const notifier = s.notifiers.get(db);
  if (!notifier?.send || notifier.timer) return;
  const wait = notifier.lastSent + COALESCE_MS - performance.now();
  if (wait <= 0) {
    send(notifier);
    return;
  }
  notifier.timer = setTimeout(() => {
    notifier.timer = null;
    send(notifier);
  }, wait);
}

/**
 * An announced root client is outside any transaction: what it wrote has committed when the
 * call returns. (Prisma's transaction clients look like root ones, so only announced ones count.)
 */
export function isOutsideTransaction(db: Db): boolean {
  return state().notifiers.has(db);
}

export type AppendListener = { close(): Promise<void> };

const listenerKey = Symbol.for("emr.appendListener");
type GlobalWithListener = typeof globalThis & { [listenerKey]?: AppendListener };

/**
 * Holds one connection on LISTEN emr_appended (one per process, however many workers ask) and
 * runs the local listeners on each notification; reconnects with backoff when the connection drops.
 */
export function listenForAppends(url: string): AppendListener {
  const g = globalThis as GlobalWithListener;
  if (g[listenerKey]) return g[listenerKey];
  const log = componentLogger("wakeup");
  let closed = false;
  let client: pg.Client | null = null;
  let failures = 0;
  let retry: NodeJS.Timeout | null = null;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({ connectionString: url, application_name: "emr-append-listener" });
    client = c;
    const reconnect = () => {
      if (closed || client !== c) return;
      client = null;
      c.removeAllListeners();
      void c.end().catch(() => {});
      failures++;
      retry = setTimeout(() => void connect(), Math.min(30_000, 250 * 2 ** Math.min(failures, 7)));
      retry.unref();
    };
    c.on("error", (error) => {
      log.warn({ ...errorFields(error) }, "append listener connection lost");
      reconnect();
    });
    c.on("end", reconnect);
    c.on("notification", (message) => {
      if (message.channel === APPENDED_CHANNEL) runListeners();
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${APPENDED_CHANNEL}`);
      failures = 0;
      // Appends made while we were not listening: wake once to look.
      runListeners();
    } catch (error) {
      log.warn({ ...errorFields(error) }, "append listener could not connect");
      reconnect();
    }
  };
  void connect();

  const listener: AppendListener = {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      delete g[listenerKey];
      if (c) {
        c.removeAllListeners();
        c.on("error", () => {});
        await c.end().catch(() => {});
      }
    },
  };
  g[listenerKey] = listener;
  return listener;
}

/**
 * A sleep that an append cuts short (unless `appends` is false: then only a poke does). Pokes that
 * arrive while the caller is busy are kept, so the next sleep returns at once and nothing appended
 * meanwhile waits for a poll.
 */
export function wakeableSleep(options: { appends?: boolean } = {}): { sleep(ms: number, signal: AbortSignal): Promise<void>; poke(): void; close(): void } {
  let poked = false;
  let wake: (() => void) | null = null;
  const poke = () => {
    poked = true;
    wake?.();
  };
  const off = options.appends === false ? () => {} : onAppended(poke);
  return {
    poke,
    close: off,
    sleep(ms, signal) {
      if (poked || signal.aborted) {
        poked = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          wake = null;
          poked = false;
          resolve();
        };
        const timer = setTimeout(done, ms);
        wake = done;
        signal.addEventListener("abort", done, { once: true });
      });
    },
  };
}
