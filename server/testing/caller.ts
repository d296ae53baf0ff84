// tRPC callers for tests, without HTTP: a fake session user with the given roles (null: no session).
import { randomUUID } from "node:crypto";
import type { Database } from "../db/client";
import { storeFor, type Context, type Role, type SessionUser } from "../api/context";
import { createCaller } from "../api/root";

export function testUser(roles: Role[], over: Partial<SessionUser> = {}): SessionUser {
  const id = over.id ?? `user-${randomUUID()}`;
  return { id, email: `${id}@test.invalid`, name: `Test ${roles.join("+") || "no roles"}`, roles, ...over };
}

export function contextFor(db: Database, user: SessionUser | null, headers: HeadersInit = {}): Context {
  return { db, store: storeFor(db), user, correlationId: `test-${randomUUID()}`, headers: new Headers(headers) };
}

/**
 * callerFor(db, ["clinician"]) calls procedures as a signed-in clinician; callerFor(db, null) as
 * nobody. Pass `user` to fix the id (or name, email) that lands in events and the access log.
 */
export function callerFor(db: Database, roles: Role[] | null, user: Partial<SessionUser> = {}) {
  return createCaller(contextFor(db, roles === null ? null : testUser(roles, user)));
}
