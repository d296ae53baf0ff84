// better-auth's endpoints: sign-in, sign-out, session. CSRF (origin) checks and sign-in rate
// limiting happen inside the library's handler.
import { getDatabase } from "@/server/db/client";
import { authFor, handleAuthRequest } from "@/server/auth";

export const dynamic = "force-dynamic";

async function handler(request: Request): Promise<Response> {
  return handleAuthRequest(authFor(await getDatabase()), request);
}

export { handler as GET, handler as POST };
