// Attempts per client address, counted in the database so every instance shares the count, in
// fixed windows: the count starts again when its window has passed, however steadily attempts
// came. Two buckets per address: sign-ins whose password was checked and failed, and uses of
// enrolment links. An address the server cannot tell (no trusted proxy configuration, see
// clientAddress.ts) shares one bucket with every other such client.
import { createHash } from "node:crypto";
import type { Database } from "../db/client";
import { countInWindow, uncount, type WindowCount, type WindowTable } from "./windowCount";

/** The window attempts per address are counted in. */
export const ADDRESS_WINDOW_SECONDS = 60;

export type AddressBucket = "sign-in" | "enrolment";

const addressKey = (bucket: AddressBucket, address: string | null) =>
  createHash("sha256").update(`${bucket}\n${address ?? "unknown"}`).digest("hex");

const attempts: WindowTable = { table: "auth_address_attempts", key: "address_key", count: "attempts" };

/**
 * Counts one attempt from this address; refused, with the seconds left in the window, once the
 * window holds more than `limit`. Counted before the attempt is served, so attempts sent at once
 * cannot all slip under the limit; releaseAddressAttempt takes back one that turned out not to count.
 */
export async function countAddressAttempt(
  db: Database,
  bucket: AddressBucket,
  address: string | null,
  limit: number,
  windowSeconds = ADDRESS_WINDOW_SECONDS,
): Promise<WindowCount> {
  // Every bucket's window is ADDRESS_WINDOW_SECONDS outside tests: a shorter test window prunes only its own.
  return countInWindow(db, attempts, addressKey(bucket, address), limit, windowSeconds, ADDRESS_WINDOW_SECONDS);
}

/** The attempt turned out not to count (a sign-in that succeeded, or was refused before any password check). */
export async function releaseAddressAttempt(db: Database, bucket: AddressBucket, address: string | null): Promise<void> {
  await uncount(db, attempts, addressKey(bucket, address));
}
