// Who is signed in, without a database look-up on every request: better-auth's session cookie
// cache (a signed copy of the session and user, `emr.session_data`) answers for
// SESSION_CACHE_SECONDS after the database last did. What that costs: a session ended or a role
// changed by ANOTHER server process takes effect on requests within SESSION_CACHE_SECONDS. In
// this process it takes effect at once: sign-outs and role changes are noted here, and a request
// whose cached session or user was touched since is looked up in the database again.

/** The longest a sign-out or role change made elsewhere may take to reach a request. */
export const SESSION_CACHE_SECONDS = 5;

const touched = new Map<string, number>();

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
