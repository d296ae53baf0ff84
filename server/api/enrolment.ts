// The user's side of an enrolment link (the admin's side is in userAccounts.ts): look a link up,
// and set one's own password with it. Public: the user has no session yet. The token arrives in a
// request body only (the page keeps it in the URL's fragment, which browsers never send), is
// compared by its hash, and is never logged or recorded.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import type { Database } from "../db/client";
import type { Auth } from "../auth";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../auth";
import { ValidationError } from "../errors";
import { enrolmentTokenHash, recordUserEvent } from "./userAccounts";
import { storeFor } from "./context";
import { ADDRESS_WINDOW_SECONDS, countAddressAttempt } from "../auth/addressLimit";

/** What a link is: usable (for whom, until when), or why not. */
export type EnrolmentLinkState =
  | { status: "valid"; name: string; email: string; expiresAt: Date }
  | { status: "expired" | "used" | "unknown" };

/** A token as issued: 43 base64url characters. Anything else is unknown without a database look-up. */
const tokenShape = /^[A-Za-z0-9_-]{43}$/;

type Reader = Pick<Database["prisma"], "enrolmentLink">;

async function linkByToken(prisma: Reader, token: string) {
  if (!tokenShape.test(token)) return null;
  return prisma.enrolmentLink.findUnique({
    where: { tokenHash: enrolmentTokenHash(token) },
    select: { userId: true, expiresAt: true, usedAt: true, user: { select: { name: true, email: true } } },
  });
}

function stateOf(link: Awaited<ReturnType<typeof linkByToken>>, now: Date): EnrolmentLinkState {
  if (!link) return { status: "unknown" };
  if (link.usedAt) return { status: "used" };
  if (link.expiresAt <= now) return { status: "expired" };
  return { status: "valid", name: link.user.name, email: link.user.email, expiresAt: link.expiresAt };
}

export async function lookupEnrolmentLink(db: Database, token: string): Promise<EnrolmentLinkState> {
  return stateOf(await linkByToken(db.prisma, token), new Date());
}

/**
 * Sets the user's password with the link and appends UserEnrolled (by the user), in one
 * transaction. The link is claimed by one conditional UPDATE, so of two uses at once exactly one
 * wins; an expired, used or unknown link changes nothing and says which it is.
 */
export async function completeEnrolment(
  db: Database,
  auth: Auth,
  input: { token: string; password: string },
  correlationId: string = randomUUID(),
): Promise<{ status: "enrolled"; email: string } | { status: "expired" | "used" | "unknown" }> {
  if (input.password.length < MIN_PASSWORD_LENGTH || input.password.length > MAX_PASSWORD_LENGTH) {
    throw new ValidationError(`The password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`, "password");
  }
  if (!tokenShape.test(input.token)) return { status: "unknown" };
  const tokenHash = enrolmentTokenHash(input.token);
  // The slow hash (scrypt) before the transaction, so no row lock is held while it runs.
  const hash = await (await auth.$context).password.hash(input.password);
  const store = storeFor(db);
  return db.prisma.$transaction(async (tx) => {
    const [claimed] = await tx.$queryRaw<{ user_id: string }[]>`UPDATE auth_enrolment_links SET used_at = now()
      WHERE token_hash = ${tokenHash} AND used_at IS NULL AND expires_at > now() RETURNING user_id`;
    if (!claimed) {
      // In the transaction: PGlite is one session, and the database's clock is the one that decided.
      const state = stateOf(await linkByToken(tx, input.token), new Date());
      // Claimed by nobody yet looks usable: it expired between the two statements.
      return { status: state.status === "valid" ? "expired" : state.status };
    }
    const userId = claimed.user_id;
    await tx.account.deleteMany({ where: { userId, providerId: "credential" } });
    await tx.account.create({ data: { id: randomUUID(), userId, providerId: "credential", accountId: userId, password: hash }, select: { id: true } });
    const user = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true } });
    // The user did this, with the link: the trail says so in their name.
    await recordUserEvent(store, tx, { userId, correlationId }, userId, { type: "UserEnrolled", data: { userId } }, "any");
    return { status: "enrolled" as const, email: user.email };
  });
}

/**
 * Counts one attempt with a link (a look-up or a use) from this address, refused with
 * TOO_MANY_REQUESTS over `limit` a minute, in a bucket of its own beside sign-in's.
 */
export async function countEnrolmentAttempt(db: Database, address: string | null, limit: number, windowSeconds = ADDRESS_WINDOW_SECONDS): Promise<void> {
  const attempt = await countAddressAttempt(db, "enrolment", address, limit, windowSeconds);
  if (!attempt.allowed) {
    throw new TRPCError({ code: "TOO_MANY_REQUESTS", message: `Too many attempts with enrolment links from this address. Try again in ${attempt.retryAfterSeconds} seconds.` });
  }
}
