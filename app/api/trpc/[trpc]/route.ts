import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { contextForRequest } from "@/server/api/http";

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => contextForRequest(req),
    onError({ error, path }) {
      // Only the code and the path: messages can hold patient data.
      if (error.code === "INTERNAL_SERVER_ERROR") console.error(`[trpc] ${path ?? "?"}: internal error (${error.cause?.name ?? error.name})`);
    },
  });

export { handler as GET, handler as POST };
