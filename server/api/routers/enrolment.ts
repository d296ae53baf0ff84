// Enrolment links, from the user's side: public (the user has no session yet), both mutations so
// the token travels in a POST body, never in a URL that logs and histories keep. Every call
// counts against the client address's limit, as sign-in attempts do.
import { z } from "zod";
import { authFor, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../../auth";
import { clientAddress, parseTrustedProxies } from "../../auth/clientAddress";
import { env } from "../../db/env";
import { text } from "../../input";
import { completeEnrolment, countEnrolmentAttempt, lookupEnrolmentLink } from "../enrolment";
import { publicProcedure, router } from "../trpc";
import type { Context } from "../context";

/** A token is 43 characters; a longer one is not a token, and is not looked at. */
const token = z.string().max(100);

async function counted(ctx: Context) {
  const e = env();
  await countEnrolmentAttempt(ctx.db, clientAddress(ctx.headers, parseTrustedProxies(e.TRUSTED_PROXIES)), e.AUTH_SIGNIN_RATE_LIMIT);
}

export const enrolmentRouter = router({
  lookup: publicProcedure.input(z.object({ token })).mutation(async ({ ctx, input }) => {
    await counted(ctx);
    return lookupEnrolmentLink(ctx.db, input.token);
  }),

  complete: publicProcedure
    .input(z.object({ token, password: text(MAX_PASSWORD_LENGTH, { trim: false }).min(MIN_PASSWORD_LENGTH) }))
    .mutation(async ({ ctx, input }) => {
      await counted(ctx);
      return completeEnrolment(ctx.db, authFor(ctx.db), input, ctx.correlationId);
    }),
});
