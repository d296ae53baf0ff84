// tRPC init and the procedure tiers. Every procedure is built from one of these tiers; the
// access-matrix test walks the router to prove it.
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z } from "zod";
import type { Context, Role } from "./context";
import { MappedError, toTRPCError } from "./errors";
import { callObserved } from "./observe";

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const zod = error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError ? error.cause : null;
    return {
      ...shape,
      message: zod ? z.prettifyError(zod) : shape.message,
      data: {
        ...shape.data,
        // Never send stack traces to the browser.
        stack: undefined,
        zodError: zod ? z.flattenError(zod) : null,
        /** Every input problem with its full path (changes.email, details.dose), for forms. */
        issues: zod ? zod.issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })) : null,
        domain: error instanceof MappedError ? error.domain : null,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

const mapDomainErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = toTRPCError(result.error.cause);
    if (mapped) throw mapped;
  }
  return result;
});

/** Outermost: times every call and logs its outcome (the code after domain errors are mapped). */
const observed = t.middleware(async ({ ctx, path, type, next }) => {
  const startedAt = performance.now();
  const result = await next();
  callObserved({ procedure: path, type, correlationId: ctx.correlationId, userId: ctx.user?.id ?? null, startedAt, code: result.ok ? "OK" : result.error.code });
  return result;
});

const base = t.procedure.use(observed).use(mapDomainErrors);

/** Health and sign-in only. */
export const publicProcedure = base;

/** Any signed-in user. */
export const authedProcedure = base.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/** Signed in and holding at least one of these roles. */
export function roleProcedure(...allowed: [Role, ...Role[]]) {
  return authedProcedure.use(({ ctx, next }) => {
    if (!allowed.some((role) => ctx.user.roles.includes(role))) {
      throw new TRPCError({ code: "FORBIDDEN", message: `This needs the ${allowed.join(" or ")} role` });
    }
    return next();
  });
}

export const clinicianProcedure = roleProcedure("clinician");
export const complianceProcedure = roleProcedure("compliance");
export const adminProcedure = roleProcedure("admin");
