// Attempts per client address, counted in the database so every instance shares the count, in
// fixed windows: the count starts again when its window has passed, however steadily attempts
// came. Two buckets per address: sign-ins whose password was checked and failed, and uses of
// enrolment links. An address the server cannot tell (no trusted proxy configuration, see
// clientAddress.ts) shares one bucket with every other such client.
import { createHash } from "node:crypto";
import { isIP } from "node:net";
import type { Database } from "../db/client";
import { countInWindow, uncount, type WindowCount, type WindowTable } from "./windowCount";

/** The window attempts per address are counted in. */
export const ADDRESS_WINDOW_SECONDS = 60;

export type AddressBucket = "sign-in" | "enrolment";

const addressKey = (bucket: AddressBucket, address: string | null) =>
  createHash("sha256").update(`${bucket}\n${address === null ? "unknown" : limitedBlock(address)}`).digest("hex");

/**
 * What one client's attempts are counted under: an IPv4 address (an IPv4-mapped IPv6 one as the
 * IPv4 it maps), or an IPv6 address's /64, the block one subscriber's line or one host is given:
 * counted per exact IPv6 address, a client with a /64 had 2^64 fresh allowances.
 */
export function limitedBlock(address: string): string {
  const text = address.trim().toLowerCase().replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (isIP(text) !== 6) return text;
  const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  const [head = "", tail = ""] = text.split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  // An embedded IPv4 tail takes two groups' room; it is past the /64 either way.
  const rightGroups = right.reduce((n, g) => n + (g.includes(".") ? 2 : 1), 0);
  const groups = text.includes("::") ? [...left, ...Array<string>(Math.max(0, 8 - left.length - rightGroups)).fill("0"), ...right] : left;
  return `${groups.slice(0, 4).map((g) => (parseInt(g, 16) || 0).toString(16)).join(":")}::/64`;
}

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
