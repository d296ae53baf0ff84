"use client";
// The browser's tRPC client: useTRPC() + queryOptions()/mutationOptions() with TanStack Query.
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useEffect, useState, type ReactNode } from "react";
import superjson from "superjson";
import type { AppRouter } from "@/server/api/root";
import { SessionEnded } from "./SessionEnded";
import { PAGE_USER_HEADER } from "../shared/pageUser";
import { fetchKeepingGatewayStatus } from "./clinical/errors";

export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/**
 * Who this page was rendered for, read as each request goes out (set in the browser only, by an
 * effect, so no server render shares it; a sign-in over the page changes it before the server's
 * render does).
 */
const pageUser: { id?: string } = {};

const codeOf = (error: unknown) => (error as { data?: { code?: string } } | null)?.data?.code;

/**
 * `user`: who the page was rendered for. Every request names them (server/api/trpc.ts refuses it
 * when the browser's session is now someone else's, signed in in another tab), and their email is
 * offered again when their session ends under an open page.
 */
/**
 * A failed read is tried again (twice) only when another try could answer: no answer at all, or
 * a server or gateway fault. A refusal (no session, not your role, not found, bad input, break
 * the glass first, too many requests) answers the same every time: shown at once, not after two
 * back-offs of a skeleton.
 */
const RETRIED_CODES = new Set(["INTERNAL_SERVER_ERROR", "TIMEOUT", "SERVICE_UNAVAILABLE", "BAD_GATEWAY", "GATEWAY_TIMEOUT", "CLIENT_CLOSED_REQUEST"]);
export function retryQuery(count: number, error: unknown): boolean {
  const code = codeOf(error);
  return (code === null || code === undefined || RETRIED_CODES.has(code)) && count < 2;
}

export function Providers({ children, user }: { children: ReactNode; user?: { id: string; email: string } }) {
  useEffect(() => {
    if (user?.id) pageUser.id = user.id;
  }, [user?.id]);
  const [sessionEnded, setSessionEnded] = useState(false);
  const [queryClient] = useState(() => {
    // Any request refused for want of a session: sign in again over the page (SessionEnded.tsx).
    const onError = (error: unknown) => {
      if (codeOf(error) === "UNAUTHORIZED") setSessionEnded(true);
    };
    return new QueryClient({
      queryCache: new QueryCache({ onError }),
      mutationCache: new MutationCache({ onError }),
      defaultOptions: {
        // Sent even when the browser says it is offline: by default a command is held back
        // ("Registering…" with no word of why) and sent whenever the connection returns, maybe
        // after the user has left the page, and a search stays "pending" with the previous
        // term's results shown as this one's. Sent, it fails at once with the form's "did not
        // answer" message, input kept, to be sent again (same command id) once connected.
        mutations: { networkMode: "always" },
        queries: {
          networkMode: "always",
          staleTime: 5_000,
          retry: retryQuery,
        },
      },
    });
  });
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      // At most half of the server's MAX_BATCH_SIZE (server/api/http.ts) calls in one request.
      links: [
        httpBatchLink({
          url: "/api/trpc",
          transformer: superjson,
          maxItems: 10,
          // Queries too go as POST, their input in the body: in a GET's query string a patient
          // search's words, an MRN or a birth date land in every proxy's and load balancer's
          // access log, where no erasure reaches them.
          methodOverride: "POST",
          fetch: fetchKeepingGatewayStatus,
          headers: () => (pageUser.id ? { [PAGE_USER_HEADER]: pageUser.id } : {}),
        }),
      ],
    }),
  );
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
        <SessionEnded
          open={sessionEnded}
          email={user?.email}
          onSignedIn={(userId) => {
            pageUser.id = userId;
            setSessionEnded(false);
            // Whatever failed for want of a session loads again; forms keep their input.
            void queryClient.invalidateQueries();
          }}
        />
      </TRPCProvider>
    </QueryClientProvider>
  );
}
