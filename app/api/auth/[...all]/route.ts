// better-auth's endpoints: sign-in, sign-out, session. The console's origin check (CSRF) runs
// first (server/auth/origin.ts); sign-in rate limiting happens inside handleAuthRequest.
import { getDatabase } from "@/server/db/client";
import { authFor, handleAuthRequest } from "@/server/auth";

export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  return handleAuthRequest(authFor(await getDatabase()), request);
}

export { handler as GET, handler as POST };
