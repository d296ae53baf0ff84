// The tRPC endpoint over HTTP (app/api/trpc/[trpc]/route.ts): batch and body limits, the CSRF
// check, and the log line for faults that happen outside a procedure (reading the body, creating
// the context).
import "server-only";
import { TRPCError } from "@trpc/server";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getDatabase } from "../db/client";
import { authFor } from "../auth";
import { crossSiteReasonFor } from "../auth/origin";
import { createContext, newCorrelationId, type Context } from "./context";
import { correlationIdOf, logDatabaseUnavailable, logServerFault, withCorrelationId } from "./faults";
import { unavailableError } from "./errors";
import { isDatabaseUnavailable } from "../errors";
import { appRouter } from "./root";
import { limitBody } from "./limitBody";

/**
 * Calls in one HTTP batch. The browser's batch link sends at most half of this (components/trpc.tsx),
 * so a page never meets the limit; a client that sends more gets one BAD_REQUEST.
 */
export const MAX_BATCH_SIZE = 20;

/**
 * A request body's size. Above the largest input any procedure accepts (a 64 KB lab result, a
 * batch of them), and below what would let one request take a worker's memory. Inputs that are
 * merely too long for their field are refused by the schema with the field's name.
 */
export const MAX_BODY_BYTES = 2 * 1024 * 1024;

function tooLarge(): TRPCError {
  return new TRPCError({ code: "PAYLOAD_TOO_LARGE", message: `The request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MB` });
}

/**
 * `createContext` gets the request's correlation id, made here when it arrives: a context that
 * fails to build (the database held or down, a refused origin) still answers, and logs, with the
 * reference the request's events would have carried.
 */
export function handleTrpcRequest(req: Request, createContext: (responseHeaders: Headers, correlationId: string) => Promise<Context>): Promise<Response> {
  const arrivalId = newCorrelationId();
  return fetchRequestHandler({
    endpoint: "/api/trpc",
    req: limitBody(req, MAX_BODY_BYTES, tooLarge),
    router: appRouter,
    maxBatchSize: MAX_BATCH_SIZE,
    // The console sends queries as POST (components/trpc.tsx), so that no input is in a URL; GET
    // still answers them for other clients (a health check, a script).
    allowMethodOverride: true,
    createContext: async ({ resHeaders }) => {
      try {
        return await createContext(resHeaders, arrivalId);
      } catch (error) {
        // The database unreachable while opening it or reading the session: 503, as in a procedure.
        if (!(error instanceof TRPCError) && isDatabaseUnavailable(error)) {
          logDatabaseUnavailable({ procedure: null, correlationId: arrivalId, error });
          throw withCorrelationId(unavailableError(error), arrivalId);
        }
        const trpcError = error instanceof TRPCError ? error : new TRPCError({ code: "INTERNAL_SERVER_ERROR", cause: error });
        throw withCorrelationId(trpcError, arrivalId);
      }
    },
    onError({ error, path, ctx }) {
      // Faults inside a procedure were logged there; this catches the rest (body, context).
      if (error.code === "INTERNAL_SERVER_ERROR") {
        logServerFault({ procedure: path ?? null, correlationId: ctx?.correlationId ?? correlationIdOf(error), error: error.cause ?? error });
      }
    },
  });
}

/**
 * The tRPC context of an HTTP request: a state-changing request (every mutation is a POST) from a
 * page that is not the console's own is refused before any procedure runs (CSRF).
 */
export async function contextForRequest(req: Request, responseHeaders?: Headers, correlationId?: string): Promise<Context> {
  const reason = await crossSiteReasonFor(authFor(await getDatabase()), req);
  if (reason) throw new TRPCError({ code: "FORBIDDEN", message: `Refused as a possible cross-site request: ${reason}` });
  return createContext({ headers: req.headers, responseHeaders, correlationId });
}
