// Admin: the console's users and their roles. Accounts, role changes and enrolment links are
// written with their events in one transaction (server/api/userAccounts.ts). An admin never sets a
// password: a new account, or a reset, gets a one-time enrolment link, returned once.
import { z } from "zod";
import { authFor } from "../../auth";
import { isRole, roles, roleSchema } from "../../auth/roles";
import { createUserAccount, issueEnrolmentLink, setUserRoles } from "../userAccounts";
import { adminProcedure, router } from "../trpc";
import { idText, personName, text } from "../../input";

const roleList = z
  .array(roleSchema)
  .max(roles.length)
  .refine((r) => new Set(r).size === r.length, "each role once");

const userSelect = {
  id: true,
  name: true,
  email: true,
  roles: true,
  createdAt: true,
  // Whether a password is set (never the hash), and the enrolment link's dates (never its hash).
  accounts: { where: { providerId: "credential", password: { not: null } }, select: { id: true }, take: 1 },
  enrolment: { select: { expiresAt: true, usedAt: true } },
} as const;

/** active: a password is set; pending: waiting for the user to enrol, until the link expires. */
export type AccountStatus = { state: "active" } | { state: "pending"; expiresAt: Date | null; expired: boolean };

export const usersRouter = router({
  list: adminProcedure
    .input(z.object({ search: text(100).optional() }).optional())
    .query(async ({ ctx, input }) => {
      const search = input?.search;
      const users = await ctx.db.prisma.user.findMany({
        where: search
          ? { OR: [{ email: { contains: search, mode: "insensitive" } }, { name: { contains: search, mode: "insensitive" } }] }
          : {},
        orderBy: { email: "asc" },
        take: 500,
        select: userSelect,
      });
      const now = Date.now();
      return users.map(({ accounts, enrolment, ...u }) => {
        const expiresAt = enrolment && !enrolment.usedAt ? enrolment.expiresAt : null;
        const status: AccountStatus =
          accounts.length > 0 ? { state: "active" } : { state: "pending", expiresAt, expired: !expiresAt || expiresAt.getTime() <= now };
        return { ...u, roles: u.roles.filter(isRole), status };
      });
    }),

  create: adminProcedure
    .input(
      // Strict: a password sent by an older client is refused, not silently dropped.
      z.strictObject({
        email: z.email().max(254),
        name: personName("Name", 100, { min: 1 }),
        roles: roleList,
      }),
    )
    // The link's token is in this answer only: the admin hands it over through the hospital's own channel.
    .mutation(async ({ ctx, input }) => {
      const created = await createUserAccount(ctx.db, authFor(ctx.db), input, { userId: ctx.user.id, correlationId: ctx.correlationId });
      return { id: created.id, enrolment: created.enrolment! };
    }),

  issueEnrolmentLink: adminProcedure
    .input(
      z.object({
        userId: idText,
        /** Why: it goes into the audit trail with the link's issue. */
        reason: text(500, { min: 3, minMessage: "say why (at least 3 characters)" }),
      }),
    )
    .mutation(async ({ ctx, input }) => issueEnrolmentLink(ctx.db, { userId: ctx.user.id, correlationId: ctx.correlationId }, input)),

  setRoles: adminProcedure
    .input(
      z.object({
        userId: idText,
        roles: roleList,
        /** Why: it goes into the audit trail with the change. */
        reason: text(500, { min: 3, minMessage: "say why the roles change (at least 3 characters)" }),
      }),
    )
    .mutation(async ({ ctx, input }) => setUserRoles(ctx.db, { userId: ctx.user.id, correlationId: ctx.correlationId }, input)),
});
