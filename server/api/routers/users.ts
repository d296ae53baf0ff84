// Admin: the console's users and their roles. Passwords are hashed by better-auth.
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import { InvariantError } from "../../errors";
import { authFor, createUserWithPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../auth";
import { isRole, roles, roleSchema } from "../../auth/roles";
import { appendToStream, newCommandId, type Store } from "../../eventStore";
import { userStream, type UserEvent } from "../../domain/user/events";
import type { Context } from "../context";
import { adminProcedure, router } from "../trpc";
import { idText, text } from "../../input";

/** Records an admin's change to a user as an event in the user's stream, by the admin. */
async function recordUserEvent(store: Store, ctx: Pick<Context, "correlationId"> & { user: { id: string } }, userId: string, event: UserEvent) {
  await appendToStream(
    store,
    userStream(userId),
    [{ ...event, eventId: newCommandId(), occurredAt: new Date(), userId: ctx.user.id, correlationId: ctx.correlationId, causationId: newCommandId() }],
    { expectedVersion: "any", aggregateType: "user" },
  );
}

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
    .mutation(async ({ ctx, input }) => {
      const email = input.email.toLowerCase();
      const exists = await ctx.db.prisma.user.findUnique({ where: { email }, select: { id: true } });
      if (exists) throw new TRPCError({ code: "CONFLICT", message: "A user with this email already exists" });
      const created = await createUserWithPassword(authFor(ctx.db), { ...input, email });
      // The library writes the user in its own transaction; the event follows it.
      await recordUserEvent(ctx.store, ctx, created.id, {
        type: "UserCreated",
        data: { userId: created.id, email, name: input.name, roles: input.roles },
      });
      return created;
    }),

  setRoles: adminProcedure
    .input(z.object({ userId: idText, roles: roleList }))
    .mutation(async ({ ctx, input }) => {
      // Serializable: two admins demoting each other at once must not leave no admin at all.
      return ctx.db.prisma.$transaction(
        async (tx) => {
          const user = await tx.user.findUnique({ where: { id: input.userId }, select: { roles: true } });
          if (!user) throw new TRPCError({ code: "NOT_FOUND", message: "No such user" });
          if (user.roles.includes("admin") && !input.roles.includes("admin")) {
            const admins = await tx.user.count({ where: { roles: { has: "admin" } } });
            if (admins <= 1) throw new InvariantError("The last admin cannot lose the admin role", "users.last_admin");
          }
          const updated = await tx.user.update({ where: { id: input.userId }, data: { roles: input.roles }, select: userSelect });
          await recordUserEvent({ ...ctx.store, db: tx }, ctx, input.userId, {
            type: "UserRolesChanged",
            data: { userId: input.userId, previousRoles: user.roles.filter(isRole), roles: input.roles },
          });
          return { ...updated, roles: updated.roles.filter(isRole) };
        },
        { isolationLevel: "Serializable" },
      );
    }),
});
