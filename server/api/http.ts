// The tRPC context of an HTTP request: a state-changing request (every mutation is a POST) from a
// page that is not the console's own is refused before any procedure runs (CSRF).
import { TRPCError } from "@trpc/server";
import { getDatabase } from "../db/client";
import { authFor } from "../auth";
import { crossSiteReasonFor } from "../auth/origin";
import { createContext, type Context } from "./context";

export async function contextForRequest(req: Request): Promise<Context> {
  const reason = await crossSiteReasonFor(authFor(await getDatabase()), req);
  if (reason) throw new TRPCError({ code: "FORBIDDEN", message: `Refused as a possible cross-site request: ${reason}` });
  return createContext({ headers: req.headers });
}
