// tRPC callers for tests, without HTTP: a fake session user with the given roles (null: no session).
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import type { Database } from "../db/client";
import { createContext, storeFor, type Context, type Role, type SessionUser } from "../api/context";
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

/** Calls procedures as exactly this user, with a known correlation id if given (in-process only: HTTP requests always get the server's). */
export async function callerAs(db: Database, user: SessionUser, correlationId?: string) {
  return createCaller(await createContext({ headers: new Headers(), user, db, correlationId }));
}

/** The tRPC code a call ends with ("OK" when it succeeds); any other error fails the test. */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    if (error instanceof TRPCError) return error.code;
    throw error;
  }
}

/** An MRN no other test (in this file or a parallel one) will use. */
export const uniqueMrn = () => `T${randomUUID().replace(/-/g, "").slice(0, 10).toUpperCase()}`;

/** Registration input for a synthetic patient, with a unique MRN and family name. */
/**
 * A date of birth unlikely to be another test patient's, for fixtures that register the same
 * names again (registration refuses a second patient with the same names and birth date).
 */
export function randomBirthDate(): string {
  const day = Math.floor(Math.random() * 365 * 80);
  return new Date(Date.UTC(1920, 0, 1) + day * 86_400_000).toISOString().slice(0, 10);
}

export function newPatient(over: { givenName?: string; familyName?: string; dateOfBirth?: string; email?: string } = {}) {
  return {
    mrn: uniqueMrn(),
    givenName: "Ada",
    familyName: `Lovelace${randomUUID().slice(0, 6)}`,
    dateOfBirth: "1985-12-10",
    sex: "female" as const,
    email: "ada@example.test",
    phone: "+1 555 0100",
    ...over,
  };
}
