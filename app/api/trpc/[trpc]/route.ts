import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { appRouter } from "@/server/api/root";
import { createContext } from "@/server/api/context";
import { componentLogger } from "@/server/log";

const handler = (req: Request) =>
  fetchRequestHandler({
    endpoint: "/api/trpc",
    req,
    router: appRouter,
    createContext: () => createContext({ headers: req.headers }),
    onError({ error, path }) {
      // Only the code and the path: messages can hold patient data.
      if (error.code === "INTERNAL_SERVER_ERROR") {
        componentLogger("trpc").error({ procedure: path ?? "?", error: error.cause?.name ?? error.name }, "internal error");
      }
    },
  });

export { handler as GET, handler as POST };
