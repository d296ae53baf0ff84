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
  /** From the x-correlation-id header when it is a sane token, otherwise new for this request. */
  correlationId: string;
  headers: Headers;
};

const correlationPattern = /^[A-Za-z0-9._:-]{1,100}$/;

export function correlationIdFrom(headers: Headers): string {
  const given = headers.get("x-correlation-id");
  return given && correlationPattern.test(given) ? given : randomUUID();
}

export function storeFor(db: Database): Store {
  return storeOn(db, eventRegistry);
}

/**
 * The caller comes from the request's better-auth session cookie, never from input; a refreshed
 * session cache cookie goes out in `responseHeaders`. Tests that
 * call procedures without HTTP pass `user` instead (server/testing/caller.ts); `db` likewise.
 */
export async function createContext(opts: { headers: Headers; user?: SessionUser | null; db?: Database; responseHeaders?: Headers }): Promise<Context> {
  const db = opts.db ?? (await getDatabase());
  // A console without background work (PostgreSQL, workers apart) still keeps its metric history
  // and wakes the workers after its appends; idempotent, so only the first request starts it.
  if (!opts.db) observeProcess(db);
  const user = opts.user !== undefined ? opts.user : await sessionUserFrom(authFor(db), opts.headers, opts.responseHeaders);
  return {
    db,
    store: storeFor(db),
    user,
    correlationId: correlationIdFrom(opts.headers),
    headers: opts.headers,
  };
}
