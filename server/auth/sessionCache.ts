// Who is signed in, without a database look-up on every request: better-auth's session cookie
// cache (a signed copy of the session and user, `emr.session_data`) answers for
// SESSION_CACHE_SECONDS after the database last did. What that costs: a session ended or a role
// changed by ANOTHER server process takes effect on requests within SESSION_CACHE_SECONDS. In
// this process it takes effect at once: sign-outs and role changes are noted here, and a request
// whose cached session or user was touched since is looked up in the database again.

import { createHash } from "node:crypto";

/** The longest a sign-out or role change made elsewhere may take to reach a request. */
export const SESSION_CACHE_SECONDS = 5;

// One map per process, not per module copy: Next builds this module into more than one bundle
// (the /api/auth route that notes a sign-out, the tRPC handler serve.ts runs, the export route),
// and a change noted in one copy must be seen by all of them.
const touchedKey = Symbol.for("emr.sessionChanges");
const touched: Map<string, number> = ((globalThis as Record<symbol, unknown>)[touchedKey] as Map<string, number> | undefined) ??
  ((globalThis as Record<symbol, unknown>)[touchedKey] = new Map<string, number>());

function forget(now: number) {
  for (const [key, at] of touched) if (now - at > SESSION_CACHE_SECONDS * 1000) touched.delete(key);
}

/** A session ended (its token) or a user whose roles changed (their id): cached copies are stale. */
export function noteSessionChange(change: { sessionToken?: string; userId?: string }): void {
  const now = Date.now();
  forget(now);
  if (change.sessionToken) touched.set(`session:${change.sessionToken}`, now);
  if (change.userId) touched.set(`user:${change.userId}`, now);
}

/** Whether a session answered from the cookie cache must be looked up again. */
export function cachedSessionIsStale(sessionToken: string, userId: string): boolean {
  if (touched.size === 0) return false;
  forget(Date.now());
  return touched.has(`session:${sessionToken}`) || touched.has(`user:${userId}`);
}

// Verifying the cache cookie is itself most of a signed-in request's cost on the server
// (better-auth's endpoint pipeline and two WebCrypto HMACs), and a browser sends the same cookies
// with every request until they change. So a verified answer is remembered for exactly those
// cookies (and host) until the cache cookie itself expires, never longer: the revocation window
// above is unchanged, and the staleness check above runs on every remembered answer too.

/** A session verified for one request's cookies. */
export type VerifiedSession<User> = { user: User; sessionToken: string; userId: string; until: number };

const MAX_VERIFIED = 10_000;
const verifiedByAuth = new WeakMap<object, Map<string, VerifiedSession<unknown>>>();

/** The key of a request's session cookies: a digest of its Host and Cookie headers, or null without cookies. */
export function verifiedKey(headers: Headers): string | null {
  const cookie = headers.get("cookie");
  if (!cookie) return null;
  return createHash("sha256").update(headers.get("host") ?? "").update("\n").update(cookie).digest("base64url");
}

export function recallVerified<User>(auth: object, key: string): VerifiedSession<User> | null {
  const verified = verifiedByAuth.get(auth);
  const known = verified?.get(key);
  if (!known) return null;
  if (known.until <= Date.now()) {
    verified!.delete(key);
    return null;
  }
  return known as VerifiedSession<User>;
}

export function rememberVerified<User>(auth: object, key: string, session: VerifiedSession<User>): void {
  if (session.until <= Date.now()) return;
  let verified = verifiedByAuth.get(auth);
  if (!verified) verifiedByAuth.set(auth, (verified = new Map()));
  if (verified.size >= MAX_VERIFIED) {
    const now = Date.now();
    for (const [k, v] of verified) if (v.until <= now) verified.delete(k);
    // Still full: the oldest go first (a Map iterates in insertion order).
    for (const k of verified.keys()) {
      if (verified.size < MAX_VERIFIED) break;
      verified.delete(k);
    }
  }
  verified.set(key, session);
}

export function forgetVerified(auth: object, key: string): void {
  verifiedByAuth.get(auth)?.delete(key);
}

/**
 * When the request's cache cookie (`name`, as better-auth writes it: base64url JSON with its own
 * `expiresAt`, covered by its signature) stops being accepted; null when there is none or it is
 * split into chunks. Read only after better-auth verified that very cookie.
 */
export function cacheCookieExpiry(cookieHeader: string, name: string): number | null {
  for (const part of cookieHeader.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    try {
      const payload = JSON.parse(Buffer.from(decodeURIComponent(part.slice(eq + 1).trim()), "base64url").toString("utf8")) as { expiresAt?: unknown };
      return typeof payload.expiresAt === "number" && Number.isFinite(payload.expiresAt) ? payload.expiresAt : null;
    } catch {
      return null;
    }
  }
  return null;
}
