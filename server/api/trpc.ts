// tRPC init and the procedure tiers. Every procedure is built from one of these tiers; the
// access-matrix test walks the router to prove it.
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";
import { z } from "zod";
import type { Context, Role } from "./context";
import { MappedError, toTRPCError } from "./errors";
import { correlationIdOf, faultMessage, logDatabaseUnavailable, logServerFault } from "./faults";
import { inputShapeProblem } from "../input";
import { callObserved } from "./observe";
import { PAGE_USER_HEADER } from "../../shared/pageUser";
import { recordChartRefusal, type ChartWrites } from "./emergencyAccess";

/** At most this many input problems go back to the browser: an array of 50,000 bad items is one answer, not 50,000. */
const MAX_ISSUES = 20;

/**
 * A body the transport could not even unpack (`null`, superjson meta pointing nowhere) fails in
 * tRPC's or superjson's own code with a JavaScript error ("Cannot destructure property 'json' of
 * 'e' as it is null", "Maximum call stack size exceeded"): that text names their internals, not
 * the caller's mistake, so it is replaced. Procedures never answer BAD_REQUEST with such a cause
 * (an unexpected error inside one is INTERNAL_SERVER_ERROR).
 */
const MALFORMED_CALL = 'The request is not a well-formed call: send the input as {"json": <input>, "meta": <superjson meta>}, as the tRPC client does';
const malformedCall = (error: TRPCError) => error.code === "BAD_REQUEST" && (error.cause instanceof TypeError || error.cause instanceof RangeError);

const t = initTRPC.context<Context>().create({
  transformer: superjson,
  errorFormatter({ shape, error, ctx }) {
    // Without a context (it failed to build), the id the request was given when it arrived.
    const correlationId = ctx?.correlationId ?? correlationIdOf(error);
    if (error.code === "INTERNAL_SERVER_ERROR") {
      // Unexpected: the message may be a driver's, with a row's values in it. Only the
      // correlation id goes back; the details are in the server log (logServerFault).
      return {
        ...shape,
        message: faultMessage(correlationId),
        data: { ...shape.data, stack: undefined, zodError: null, issues: null, domain: null, correlationId },
      };
    }
    const zod = error.code === "BAD_REQUEST" && error.cause instanceof z.ZodError ? error.cause : null;
    const issues = zod?.issues.slice(0, MAX_ISSUES) ?? null;
    return {
      ...shape,
      message: zod ? z.prettifyError(new z.ZodError(issues!)) : malformedCall(error) ? MALFORMED_CALL : shape.message,
      data: {
        ...shape.data,
        // Never send stack traces to the browser.
        stack: undefined,
        zodError: zod ? z.flattenError(new z.ZodError(issues!)) : null,
        /** Every input problem with its full path (changes.email, details.dose), for forms. */
        issues: issues ? issues.map((i) => ({ path: i.path.map(String).join("."), message: i.message })) : null,
        domain: error instanceof MappedError ? error.domain : null,
        correlationId,
      },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const middleware = t.middleware;

const mapDomainErrors = t.middleware(async ({ ctx, path, next }) => {
  const result = await next();
  if (!result.ok) {
    const mapped = toTRPCError(result.error.cause);
    if (mapped?.code === "SERVICE_UNAVAILABLE") logDatabaseUnavailable({ procedure: path, correlationId: ctx.correlationId, error: result.error.cause });
    if (mapped) throw mapped;
    if (result.error.code === "INTERNAL_SERVER_ERROR") {
      logServerFault({ procedure: path, correlationId: ctx.correlationId, error: result.error.cause ?? result.error });
    }
  }
  return result;
});

/**
 * Refuses an input too deep or too large before any schema walks it (zod's JSON schema and
 * superjson recurse; a stack overflow would be a 500).
 */
const boundInputShape = t.middleware(async ({ getRawInput, next }) => {
  let raw: unknown;
  try {
    raw = await getRawInput();
  } catch (cause) {
    // Over HTTP the body is read here: not JSON, superjson meta that does not fit, too large.
    if (cause instanceof TRPCError) throw cause;
    throw new TRPCError({ code: "BAD_REQUEST", message: "The request body is not a valid tRPC input (JSON with superjson metadata)", cause });
  }
  const problem = inputShapeProblem(raw);
  if (problem) throw new TRPCError({ code: "BAD_REQUEST", message: problem });
  return next();
});

/** Outermost: times every call and logs its outcome (the code after domain errors are mapped). */
const observed = t.middleware(async ({ ctx, path, type, next }) => {
  const startedAt = performance.now();
  const result = await next();
  callObserved({ procedure: path, type, correlationId: ctx.correlationId, userId: ctx.user?.id ?? null, startedAt, code: result.ok ? "OK" : result.error.code });
  return result;
});

const base = t.procedure.use(observed).use(mapDomainErrors).use(boundInputShape);

/** Health and sign-in only. */
export const publicProcedure = base;

/** Any signed-in user. */
export const authedProcedure = base.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in first" });
  // The console's page names the user it was rendered for (components/trpc.tsx). The session
  // cookie is the browser's, shared by its tabs: after someone else signed in in another tab, this
  // page's commands would be recorded as theirs while it still shows the first user's name.
  const pageUser = ctx.headers.get(PAGE_USER_HEADER);
  if (pageUser && pageUser !== ctx.user.id) {
    throw new TRPCError({ code: "UNAUTHORIZED", message: "Another user signed in in this browser since this page opened: sign in again on this page" });
  }
  return next({ ctx: { ...ctx, user: ctx.user } });
}).use(async ({ ctx, path, next }) => {
  // The charts a call writes to (only mutations add any); a refusal by their rules is recorded
  // against them, however the procedure reached them.
  const chartWrites: ChartWrites = [];
  const result = await next({ ctx: { ...ctx, chartWrites } });
  if (!result.ok && chartWrites.length > 0) await recordChartRefusal(ctx, path, chartWrites, result.error.cause);
  return result;
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
