// The console's production server (npm start, e2e/server.ts, bench row 9): Next serves the pages
// and every route on the last build, as next start does, except the tRPC endpoint, which Node's
// HTTP server hands straight to server/api/direct.ts without Next's router (why: direct.ts).
//
//   node --import tsx server/cli/serve.ts [-p <port>] [-H <hostname>]   (PORT, default 3000)
//
// It imports nothing of server/ but constants (directKeys.ts): Next's bundle holds the app's
// modules, and instrumentation.ts, which Next runs in this process while it prepares, offers the
// tRPC handler from that bundle on globalThis. On SIGTERM or SIGINT it drains (drain.ts): no new
// connections, the requests in flight answered and their connections closed, a request on an old
// keep-alive connection refused 503, whatever is left cut at SHUTDOWN_DRAIN_SECONDS; then Next
// closed and exit with 128 + the signal's number.
import type { IncomingMessage, ServerResponse } from "node:http";
import { directTrpcKey, directTrpcWaitingKey, TRPC_PREFIX } from "../api/directKeys";
import { componentLogger, errorFields } from "../log";
import { DEFAULT_DRAIN_SECONDS, drainingServer } from "./drain";

type DirectHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** How long the boot (instrumentation.ts: settings, database, background work) may take. */
const BOOT_SECONDS = 120;

/** How long Next's close may take after the drain before the process exits anyway. */
const CLOSE_SECONDS = 5;

function option(flags: string[]): string | undefined {
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (flags.includes(arg)) return args[i + 1];
    const inline = flags.find((f) => f.startsWith("--") && arg.startsWith(`${f}=`));
    if (inline) return arg.slice(inline.length + 1);
  }
  return undefined;
}

async function main(): Promise<void> {
  const portText = option(["-p", "--port"]) ?? process.env.PORT ?? "3000";
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    console.error(`PORT: must be a port number from 0 to 65535, got "${portText}"`);
    process.exit(1);
  }
  const hostname = option(["-H", "--hostname"]);
  // As next start: a production server, whatever the shell says.
  Object.assign(process.env, { NODE_ENV: "production" });
  const { default: next } = await import("next");
  const app = next({ dev: false, dir: process.cwd(), port, ...(hostname ? { hostname } : {}) });
  const handle = app.getRequestHandler();
  // Next runs instrumentation.ts while it prepares but does not await it: the handler comes when
  // the boot is done (a boot that refuses a setting ends the process itself, naming it).
  const g = globalThis as Record<symbol, unknown>;
  let timer: NodeJS.Timeout | undefined;
  const offered = new Promise<DirectHandler>((resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`instrumentation.ts offered no tRPC handler within ${BOOT_SECONDS} s: is the build (.next) older than server/api/direct.ts?`)),
      BOOT_SECONDS * 1000,
    );
    g[directTrpcWaitingKey] = resolve;
  });
  await app.prepare();
  const direct = (g[directTrpcKey] as DirectHandler | undefined) ?? (await offered);
  clearTimeout(timer);
  delete g[directTrpcWaitingKey];

  // Checked by the boot (server/db/env.ts), which has run by now: a bad value ended the process.
  const drainSeconds = Number(process.env.SHUTDOWN_DRAIN_SECONDS?.trim() || DEFAULT_DRAIN_SECONDS);
  const { server, stop: drain } = drainingServer((req, res) => {
    if (req.url?.startsWith(TRPC_PREFIX)) {
      void direct(req, res);
      return;
    }
    handle(req, res).catch((error: unknown) => {
      // Next answers its own faults; this is one it let through.
      // Names and codes only: a render error's message can quote the data it was rendering.
      const path = req.url?.split("?")[0] ?? "";
      componentLogger("http").error({ fault: "internal", method: req.method, path, ...errorFields(error) }, `[fault] ${req.method} ${path}`);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const code = signal === "SIGINT" ? 130 : 143;
    // Not unref'd: were the loop to empty while Next's close hangs on a promise, the process would
    // end with 0 rather than the signal's code.
    setTimeout(() => process.exit(code), (drainSeconds + CLOSE_SECONDS) * 1000);
    void drain(drainSeconds * 1000)
      .then(({ outcome, cutRequests }) => {
        if (outcome === "cut") {
          componentLogger("http").warn({ drainSeconds, cutRequests }, `[shutdown] connections still open ${drainSeconds} s after ${signal} were closed (${cutRequests} requests unanswered)`);
        }
        return app.close();
      })
      .catch((error: unknown) => console.error(error))
      .finally(() => process.exit(code));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  // Started by npm start's launcher over an IPC channel: when the launcher dies (kill -9), the
  // channel closes and the server stops too, instead of serving on, orphaned, holding the
  // embedded database's lock so that the next npm start is refused.
  if (process.channel) process.once("disconnect", () => stop("SIGTERM"));
  server.once("error", (error) => {
    console.error(`Cannot serve on ${hostname ?? "all interfaces"}:${port}: ${error.message}`);
    process.exit(1);
  });
  server.listen(port, hostname, () => {
    const address = server.address();
    const shown = typeof address === "object" && address ? address.port : port;
    console.log(`console ready on http://${hostname ?? "localhost"}:${shown} (tRPC served without Next's router)`);
  });
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? String(error));
  process.exit(1);
});
