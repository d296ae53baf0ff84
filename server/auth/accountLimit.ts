// Failed sign-ins per account, counted in the database so every instance shares the count. An
// attempt is reserved before the password is checked (so concurrent guesses cannot all slip
// under the limit), released when no password was checked, and the count is cleared by a
// successful sign-in. Unknown emails are counted the same way, so the answer says nothing about
// whether an account exists.
import { createHash } from "node:crypto";
import type { Database } from "../db/client";

/** The window failures are counted in. */
export const ACCOUNT_WINDOW_SECONDS = 15 * 60;

export const accountKey = (email: string) => createHash("sha256").update(email.trim().toLowerCase()).digest("hex");

/** Counts one attempt; refused (with seconds to wait) when the account is over its limit. */
export async function reserveAttempt(
  db: Database,
  email: string,
  limit: number,
  windowSeconds = ACCOUNT_WINDOW_SECONDS,
): Promise<{ allowed: true } | { allowed: false; retryAfterSeconds: number }> {
  const rows = await db.prisma.$queryRawUnsafe<{ failures: number; retry_after: number }[]>(
    `INSERT INTO auth_signin_failures AS f (account_key, failures, window_started_at) VALUES ($1, 1, now())
     ON CONFLICT (account_key) DO UPDATE SET
       failures = CASE WHEN f.window_started_at <= now() - make_interval(secs => $2) THEN 1 ELSE f.failures + 1 END,
       window_started_at = CASE WHEN f.window_started_at <= now() - make_interval(secs => $2) THEN now() ELSE f.window_started_at END
     RETURNING failures, ceil(extract(epoch FROM f.window_started_at + make_interval(secs => $2) - now()))::int AS retry_after`,
    accountKey(email),
    windowSeconds,
  );
  const row = rows[0];
  if (row?.failures === 1) {
    // A new window: a good moment to drop the rows of windows that have passed.
    await db.prisma.$executeRawUnsafe(`DELETE FROM auth_signin_failures WHERE window_started_at <= now() - make_interval(secs => $1)`, windowSeconds);
  }
  if (row && row.failures > limit) return { allowed: false, retryAfterSeconds: Math.max(1, row.retry_after) };
  return { allowed: true };
}

/** The attempt never reached a password check (refused earlier): it does not count. */
export async function releaseAttempt(db: Database, email: string): Promise<void> {
  await db.prisma.$executeRawUnsafe(
    `UPDATE auth_signin_failures SET failures = greatest(failures - 1, 0) WHERE account_key = $1`,
    accountKey(email),
  );
}

/** A successful sign-in clears the account's failures. */
export async function clearAttempts(db: Database, email: string): Promise<void> {
  await db.prisma.$executeRawUnsafe(`DELETE FROM auth_signin_failures WHERE account_key = $1`, accountKey(email));
}
