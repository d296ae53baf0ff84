// The signed-in user for server components and layouts, read once per request.
import { headers } from "next/headers";
import { cache } from "react";
import { getDatabase } from "../db/client";
import { authFor, sessionUserFrom } from ".";
import type { SessionUser } from "./roles";

export const currentUser = cache(async (): Promise<SessionUser | null> => {
  const db = await getDatabase();
  return sessionUserFrom(authFor(db), await headers());
});
