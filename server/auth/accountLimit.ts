// Failed sign-ins per account, counted in the database so every instance shares the count. An
// attempt is reserved before the password is checked (so concurrent guesses cannot all slip
// under the limit), released when no password was checked, and the count is cleared by a
// successful sign-in. Unknown emails are counted the same way, so the answer says nothing about
// whether an account exists.
import { createHash } from "node:crypto";
import type { Database } from "../db/client";
import { countInWindow, uncount, type WindowCount, type WindowTable } from "./windowCount";

/** The window failures are counted in. */
export const ACCOUNT_WINDOW_SECONDS = 15 * 60;

export const accountKey = (email: string) => createHash("sha256").update(email.trim().toLowerCase()).digest("hex");

const failures: WindowTable = { table: "auth_signin_failures", key: "account_key", count: "failures" };

/** Counts one attempt; refused (with seconds to wait) when the account is over its limit. */
export async function reserveAttempt(db: Database, email: string, limit: number, windowSeconds = ACCOUNT_WINDOW_SECONDS): Promise<WindowCount> {
  return countInWindow(db, failures, accountKey(email), limit, windowSeconds);
}

/** The attempt never reached a password check (refused earlier): it does not count. */
export async function releaseAttempt(db: Database, email: string): Promise<void> {
  await uncount(db, failures, accountKey(email));
}

/** A successful sign-in clears the account's failures. */
export async function clearAttempts(db: Database, email: string): Promise<void> {
  await db.prisma.$executeRawUnsafe(`DELETE FROM auth_signin_failures WHERE account_key = $1`, accountKey(email));
}
