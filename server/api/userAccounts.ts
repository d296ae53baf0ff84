// Accounts and their roles, written together with the events that record them, in one
// transaction: an account never exists without its UserCreated event, and a role change never
// without its UserRolesChanged event. Used by the users router and `npm run users:create`.
//
// An admin never chooses a user's password: an account made in the console (and a password an
// admin resets) gets a one-time enrolment link instead, with which the user sets their own
// (server/api/enrolment.ts). Otherwise the admin could sign in as that clinician, and every
// event would carry the clinician's name.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import type { Database } from "../db/client";
import { ConcurrencyError, InvariantError, NotFoundError, ValidationError } from "../errors";
import type { Auth } from "../auth";
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../auth";
import { isRole, type Role } from "../auth/roles";
import { noteSessionChange } from "../auth/sessionCache";
import { appendToStream, commandCausationId, isRetryableTransactionError, newCommandId, storeIn, type Store } from "../eventStore";
import { userStream, type UserEvent } from "../domain/user/events";
import { storeFor } from "./context";
import { env } from "../db/env";

/** Who makes the change: a signed-in admin, or the system (the users:create command). */
export type Actor = { userId: string; correlationId: string };

/** The actor of changes made from the command line by whoever runs the server. */
export const systemActor = (correlationId: string = randomUUID()): Actor => ({ userId: "system:users-cli", correlationId });

/** Roles that read patient data: charts (clinician) and their history and timelines (compliance). */
export const phiRoles: readonly Role[] = ["clinician", "compliance"];

type Tx = Parameters<Parameters<Database["prisma"]["$transaction"]>[0]>[0];

export async function recordUserEvent(store: Store, tx: Tx, actor: Actor, userId: string, event: UserEvent, expectedVersion: "no_stream" | "any") {
  await appendToStream(
    // storeIn: every statement of the append runs in this transaction, with the account's row.
    storeIn(store, tx),
    userStream(userId),
    [{ ...event, eventId: newCommandId(), occurredAt: new Date(), userId: actor.userId, correlationId: actor.correlationId, causationId: commandCausationId(newCommandId()) }],
    { expectedVersion, aggregateType: "user" },
  );
}

/** Admin and a role that reads patient data in one account need two admins (see setUserRoles). */
function refuseAdminWithPhi(roles: readonly Role[], what: string) {
  const phi = roles.filter((r) => phiRoles.includes(r));
  if (roles.includes("admin") && phi.length > 0) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: `${what} both admin and ${phi.join(" and ")}: create the account with one, then another admin grants the other`,
    });
  }
}

export type NewAccount = { email: string; name: string; roles: Role[] };

/** An enrolment link's token as handed to the user: 256 random bits, base64url (43 characters). */
export const newEnrolmentToken = (): string => randomBytes(32).toString("base64url");

/** What is stored of a token: its SHA-256. The token is random, so no salt or slow hash is needed. */
export const enrolmentTokenHash = (token: string): string => createHash("sha256").update(token, "utf8").digest("hex");

export type IssuedLink = { token: string; expiresAt: Date };

/**
 * Inside the caller's transaction: a new link for the user (replacing any earlier one, which
 * then stops working) and its UserEnrolmentIssued event, which carries neither the token nor its hash.
 */
async function issueLinkIn(
  store: Store,
  tx: Tx,
  actor: Actor,
  userId: string,
  how: { cause: "created" | "reset" | "reissued"; reason?: string; hours: number },
  expectedVersion: "no_stream" | "any",
): Promise<IssuedLink> {
  const token = newEnrolmentToken();
  const issuedAt = new Date();
  const expiresAt = new Date(issuedAt.getTime() + how.hours * 3_600_000);
  const link = { tokenHash: enrolmentTokenHash(token), issuedAt, expiresAt, usedAt: null };
  await tx.enrolmentLink.upsert({ where: { userId }, create: { userId, ...link }, update: link, select: { userId: true } });
  await recordUserEvent(
    store,
    tx,
    actor,
    userId,
    { type: "UserEnrolmentIssued", data: { userId, expiresAt: expiresAt.toISOString(), cause: how.cause, ...(how.reason ? { reason: how.reason } : {}) } },
    expectedVersion,
  );
  return { token, expiresAt };
}

/**
 * Creates a user and appends UserCreated, in one transaction. In the console (no password) the
 * account gets an enrolment link, returned once and kept only as a hash; it has no password, so
 * nobody signs in as it until its user enrols. With a password (`npm run users:create`: the
 * operator making their own first admin account) it gets an email + password account (better-auth's
 * hash and table layout). `userId` is an input so a test can make the event fail (a stream that
 * already exists) and see that no account is left behind.
 */
export async function createUserAccount(
  db: Database,
  auth: Auth,
  input: NewAccount & { password?: string; enrolmentHours?: number },
  actor: Actor,
  userId: string = randomUUID(),
): Promise<{ id: string; enrolment: IssuedLink | null }> {
  if (input.password !== undefined && (input.password.length < MIN_PASSWORD_LENGTH || input.password.length > MAX_PASSWORD_LENGTH)) {
    throw new ValidationError(`The password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`, "password");
  }
  refuseAdminWithPhi(input.roles, "A new account cannot be");
  const email = input.email.trim().toLowerCase();
  const hash = input.password === undefined ? null : await (await auth.$context).password.hash(input.password);
  const store = storeFor(db);
  return withSerializationRetry(() =>
    db.prisma.$transaction(async (tx) => {
      const exists = await tx.user.findUnique({ where: { email }, select: { id: true } });
      if (exists) throw emailTaken(email);
      await tx.user.create({ data: { id: userId, email, name: input.name, emailVerified: true, roles: input.roles }, select: { id: true } });
      if (hash !== null) {
        await tx.account.create({
          data: { id: randomUUID(), userId, providerId: "credential", accountId: userId, password: hash },
          select: { id: true },
        });
      }
      await recordUserEvent(store, tx, actor, userId, { type: "UserCreated", data: { userId, email, name: input.name, roles: input.roles } }, "no_stream");
      const enrolment =
        hash === null ? await issueLinkIn(store, tx, actor, userId, { cause: "created", hours: input.enrolmentHours ?? env().ENROLMENT_LINK_HOURS }, "any") : null;
      return { id: userId, enrolment };
    }),
  ).catch((error: unknown) => {
    // Two creations of one email at once: the unique index decides, and says so plainly.
    if ((error as { code?: string }).code === "P2002") throw emailTaken(email);
    throw error;
  });
}

/**
 * An admin's password reset, or a new link for an account whose link expired or went astray: a
 * fresh link (the previous one stops working) and UserEnrolmentIssued with the reason. An account
 * that had a password loses it and its sessions at once: whoever knew it is signed out, and the
 * account cannot sign in until the link is used. Refused for an account holding admin together
 * with a role that reads patient data: the admin holding the link could enrol as it and hold both
 * (another admin first takes one of the roles away).
 */
export async function issueEnrolmentLink(
  db: Database,
  actor: Actor,
  input: { userId: string; reason: string; hours?: number },
): Promise<IssuedLink & { cause: "reset" | "reissued" }> {
  const store = storeFor(db);
  const issued = await withSerializationRetry(() =>
    db.prisma.$transaction(
      async (tx) => {
        const user = await tx.user.findUnique({ where: { id: input.userId }, select: { roles: true } });
        if (!user) throw new NotFoundError("User", input.userId);
        const roles = user.roles.filter(isRole);
        if (roles.includes("admin") && roles.some((r) => phiRoles.includes(r))) {
          throw new TRPCError({
            code: "FORBIDDEN",
            message: "This account holds admin and a role that reads patient data: another admin first takes one of them away, then a link can be issued",
          });
        }
        const removed = await tx.account.deleteMany({ where: { userId: input.userId, providerId: "credential" } });
        if (removed.count > 0) await tx.session.deleteMany({ where: { userId: input.userId } });
        const cause = removed.count > 0 ? ("reset" as const) : ("reissued" as const);
        const link = await issueLinkIn(store, tx, actor, input.userId, { cause, reason: input.reason, hours: input.hours ?? env().ENROLMENT_LINK_HOURS }, "any");
        return { ...link, cause };
      },
      { isolationLevel: "Serializable" },
    ),
  );
  // Sessions cached in cookies are looked up again: the deleted ones end now, in this process.
  noteSessionChange({ userId: input.userId });
  return issued;
}

/**
 * True when one person may sign in as both accounts: an account's holders are whoever appended
 * UserCreated or UserEnrolmentIssued to it (they held its link), their holders, and so on; the
 * two accounts, each with its holders, share someone. The users CLI (system:*) is not a holder.
 */
async function mayBeOnePerson(tx: Tx, a: string, b: string): Promise<boolean> {
  const [row] = await tx.$queryRaw<{ shared: boolean }[]>`
    WITH RECURSIVE holders(root, account) AS (
        SELECT r, r FROM unnest(ARRAY[${a}::text, ${b}::text]) AS r
        UNION
        SELECT h.root, e.user_id
          FROM holders h
          JOIN events e ON e.stream_id = ${userStream("")} || h.account
         WHERE e.event_type IN ('UserCreated', 'UserEnrolmentIssued')
           AND e.user_id IS NOT NULL AND e.user_id NOT LIKE 'system:%'
    )
    SELECT EXISTS (SELECT 1 FROM holders x JOIN holders y ON x.account = y.account WHERE x.root = ${a} AND y.root = ${b}) AS shared`;
  return row?.shared === true;
}

const emailTaken = (email: string) => new TRPCError({ code: "CONFLICT", message: `A user with the email ${email} already exists` });

/**
 * Sets a user's roles and appends UserRolesChanged (with the reason) in one serializable
 * transaction, retried when PostgreSQL reports a serialization failure. Refused: changing one's
 * own roles, taking the admin role from the last admin, and one account holding admin together
 * with a role that reads patient data unless that is granted by another admin (never oneself),
 * unconnected to the account, to an account that has enrolled (no unused link outstanding).
 */
export async function setUserRoles(
  db: Database,
  actor: Actor,
  input: { userId: string; roles: Role[]; reason: string },
): Promise<{ id: string; name: string; email: string; roles: Role[]; createdAt: Date }> {
  if (input.userId === actor.userId) {
    throw new TRPCError({ code: "FORBIDDEN", message: "You cannot change your own roles: another admin must do it" });
  }
  const store = storeFor(db);
  const changed = await withSerializationRetry(() =>
    db.prisma.$transaction(
      async (tx) => {
        const user = await tx.user.findUnique({ where: { id: input.userId }, select: { roles: true } });
        if (!user) throw new NotFoundError("User", input.userId);
        const previous = user.roles.filter(isRole);
        if (previous.includes("admin") && !input.roles.includes("admin")) {
          const admins = await tx.user.count({ where: { roles: { has: "admin" } } });
          if (admins <= 1) throw new InvariantError("The last admin cannot lose the admin role", "users.last_admin");
        }
        // The actor is another admin here (own roles were refused above): this is the second pair
        // of eyes an account that is both admin and a reader of patient data needs. Whoever made
        // an account or issued one of its enrolment links held the link that sets its password
        // (or, for accounts made before links, chose it), so may be signing in as it. The grant is
        // refused when one person may be behind both accounts: the actor holds (or held) the
        // target's link, the target the actor's (an admin account made to act for its maker), or
        // someone both's, followed back through the accounts that issued them (made by an account
        // that was itself made by ...). The operator's own first accounts (users:create) do not
        // count: whoever runs that command holds the database anyway.
        if (input.roles.includes("admin") && input.roles.some((r) => phiRoles.includes(r))) {
          if (await mayBeOnePerson(tx, actor.userId, input.userId)) {
            throw new TRPCError({
              code: "FORBIDDEN",
              message:
                "You and this account may be one person (one of you made or issued an enrolment link for the other, or the same admin did for both): an admin unconnected to either must grant it admin together with a role that reads patient data",
            });
          }
          // Nor while the account's enrolment link is unused (pending, or expired unused): whoever
          // issued it holds it, and would enrol as an account that is both (the rule that refuses
          // issueEnrolmentLink for such an account). Read in this serializable transaction, so a
          // link issued or used meanwhile makes one of the two transactions start again.
          const link = await tx.enrolmentLink.findUnique({ where: { userId: input.userId }, select: { usedAt: true } });
          if (link && link.usedAt === null) {
            throw new InvariantError(
              "This account has not enrolled yet: whoever holds its enrolment link could set its password and hold both roles. Its user enrols first (a new link if this one expired), then grant admin together with a role that reads patient data",
              "users.enrolment_pending",
            );
          }
        }
        const updated = await tx.user.update({
          where: { id: input.userId },
          data: { roles: input.roles },
          select: { id: true, name: true, email: true, roles: true, createdAt: true },
        });
        await recordUserEvent(
          store,
          tx,
          actor,
          input.userId,
          { type: "UserRolesChanged", data: { userId: input.userId, previousRoles: previous, roles: input.roles, reason: input.reason } },
          "any",
        );
        return { ...updated, roles: updated.roles.filter(isRole) };
      },
      { isolationLevel: "Serializable" },
    ),
  );
  // The user's sessions cached in cookies carry the old roles: this process looks them up again.
  noteSessionChange({ userId: input.userId });
  return changed;
}

/**
 * PostgreSQL's serialization failure and deadlock, as the driver or Prisma reports them: Prisma's
 * P2034, or the SQLSTATE wherever the driver adapter put it (a statement refused inside the
 * transaction comes as the adapter's own error, its code in `cause.originalCode`).
 */
export function isSerializationFailure(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const x = e as { code?: unknown; meta?: { code?: unknown }; message?: unknown };
    if (x.code === "P2034" || isRetryableTransactionError(e)) return true;
    if (typeof x.message === "string" && /could not serialize access|deadlock detected|write conflict or a deadlock/i.test(x.message)) return true;
  }
  return false;
}

/** Runs a serializable transaction again (with a short jittered pause) when it lost a race. */
export async function withSerializationRetry<T>(run: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt >= attempts || !isSerializationFailure(error) || error instanceof ConcurrencyError) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * 2 ** attempt));
    }
  }
}
