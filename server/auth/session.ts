// The signed-in user for server components and layouts, read once per request.
import "server-only";
import { headers } from "next/headers";
import { cache } from "react";
import { getDatabase } from "../db/client";
import { authFor, sessionUserFrom } from ".";
import type { SessionUser } from "./roles";

export const currentUser = cache(async (): Promise<SessionUser | null> => {
  // Read the request first: at build time this marks the page dynamic before any database or
  // secret is touched, so `next build` needs neither.
  const requestHeaders = await headers();
  const db = await getDatabase();
  return sessionUserFrom(authFor(db), requestHeaders);
});
