// The tRPC context: the database, the store, the caller and the request's correlation id.
import { randomUUID } from "node:crypto";
import { getDatabase, type Database } from "../db/client";
import type { Store } from "../eventStore";
import { clinicalRegistry } from "../domain/registry";

export type Role = "clinician" | "compliance" | "admin";
export const roles: readonly Role[] = ["clinician", "compliance", "admin"];

export type SessionUser = { id: string; email: string; name: string; roles: Role[] };

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
  return { db: db.prisma, registry: clinicalRegistry };
}

export async function createContext(opts: { headers: Headers; user?: SessionUser | null }): Promise<Context> {
  const db = await getDatabase();
  return {
    db,
    store: storeFor(db),
    user: opts.user ?? null,
    correlationId: correlationIdFrom(opts.headers),
    headers: opts.headers,
  };
}
