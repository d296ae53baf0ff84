// The tRPC context: the database, the store, the caller and the request's correlation id.
import { randomUUID } from "node:crypto";
import { getDatabase, type Database } from "../db/client";
import { observeProcess } from "../metrics/process";
import { storeOn, type Store } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { authFor, sessionUserFrom } from "../auth";
import type { SessionUser } from "../auth/roles";

export { roles, type Role, type SessionUser } from "../auth/roles";

export type Context = {
  db: Database;
  store: Store;
  user: SessionUser | null;
  /** Made by the server for this request (newCorrelationId); never a client's header. */
  correlationId: string;
  headers: Headers;
};

/**
 * A request's correlation id. The server makes every one: the audit views group events, access
 * rows and break-the-glass grants by it ("everything in this request"), so an id a client chose
 * (an x-correlation-id header) could put its sender's actions into another user's request. The
 * header is ignored; only in-process callers (tests, tools) may name the id (createContext's
 * `correlationId`).
 */
export function newCorrelationId(): string {
  return randomUUID();
}

export function storeFor(db: Database): Store {
  return storeOn(db, eventRegistry);
}

/**
 * The caller comes from the request's better-auth session cookie, never from input; a refreshed
 * session cache cookie goes out in `responseHeaders`. Tests that
 * call procedures without HTTP pass `user` instead (server/testing/caller.ts); `db` likewise.
 * `correlationId`: the id the HTTP handler gave the request when it arrived (so a fault's
 * reference and the request's events agree), or a test's known id; new when absent.
 */
export async function createContext(opts: {
  headers: Headers;
  user?: SessionUser | null;
  db?: Database;
  responseHeaders?: Headers;
  correlationId?: string;
}): Promise<Context> {
  const db = opts.db ?? (await getDatabase());
  // A console without background work (PostgreSQL, workers apart) still keeps its metric history
  // and wakes the workers after its appends; idempotent, so only the first request starts it.
  if (!opts.db) observeProcess(db);
  // The console calls its API from its own pages (same-origin). A request another site's page
  // made, a sibling subdomain's included (same-site: an <img> there would log chart reads in the
  // clinician's name), is nobody's, whatever cookies it carries. Without Fetch Metadata (not a
  // browser, or an old one) the cookie decides, and changes are checked for CSRF (http.ts).
  const site = opts.headers.get("sec-fetch-site");
  const foreign = site !== null && site !== "same-origin" && site !== "none";
  const user = opts.user !== undefined ? opts.user : foreign ? null : await sessionUserFrom(authFor(db), opts.headers, opts.responseHeaders);
  return {
    db,
    store: storeFor(db),
    user,
    correlationId: opts.correlationId ?? newCorrelationId(),
    headers: opts.headers,
  };
}
