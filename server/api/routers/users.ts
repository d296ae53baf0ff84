// Admin: the console's users and their roles. Passwords are hashed by better-auth. Accounts and
// role changes are written with their events in one transaction (server/api/userAccounts.ts).
import { z } from "zod";
import { authFor, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../auth";
import { isRole, roles, roleSchema } from "../../auth/roles";
import { createUserAccount, setUserRoles } from "../userAccounts";
import { adminProcedure, router } from "../trpc";
import { idText, text } from "../../input";

const roleList = z
  .array(roleSchema)
  .max(roles.length)
  .refine((r) => new Set(r).size === r.length, "each role once");

const userSelect = { id: true, name: true, email: true, roles: true, createdAt: true } as const;

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
      return users.map((u) => ({ ...u, roles: u.roles.filter(isRole) }));
    }),

  create: adminProcedure
    .input(
      z.object({
        email: z.email().max(254),
        name: text(100, { min: 1 }),
        password: text(MAX_PASSWORD_LENGTH, { trim: false }).min(MIN_PASSWORD_LENGTH),
        roles: roleList,
      }),
    )
    .mutation(async ({ ctx, input }) =>
      createUserAccount(ctx.db, authFor(ctx.db), input, { userId: ctx.user.id, correlationId: ctx.correlationId }),
    ),

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
