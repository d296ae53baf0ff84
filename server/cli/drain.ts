// How the console's HTTP server (serve.ts) drains on SIGTERM/SIGINT. server.close() alone stops
// accepting connections but keeps serving the keep-alive connections clients already hold: a load
// balancer's pool or a load script went on sending requests on them, every one served (commands
// written), so the drain lasted as long as the clients did and the orchestrator's SIGKILL landed
// mid-request. Once stopping, every answer ends its connection, a request that arrives on an old
// connection is refused 503 (a draining instance's answer: the balancer retries elsewhere), and a
// deadline cuts whatever is left. Plain node:http, nothing of the app: serve.ts imports it.
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";

/** SHUTDOWN_DRAIN_SECONDS's default (server/db/env.ts): inside Kubernetes' 30 s grace period, with room for Next's close. */
export const DEFAULT_DRAIN_SECONDS = 20;

/** What a request refused while stopping is told to wait before it tries again (another instance, by then). */
export const RETRY_AFTER_SECONDS = 5;

export type DrainOutcome = {
  /** drained: every connection ended by itself; cut: the deadline closed the rest. */
  outcome: "drained" | "cut";
  /** Requests still unanswered when the deadline cut their connections. */
  cutRequests: number;
};

export type DrainingServer = {
  server: Server;
  stopping(): boolean;
  /**
   * Stops accepting connections, ends each keep-alive connection after its answer, and closes the
   * rest drainMs later. Resolves when the server has closed. Calling it again returns the same drain.
   */
  stop(drainMs: number): Promise<DrainOutcome>;
};

/** Answers a request that came in after the drain began: 503, and the connection ends. */
function refuse(res: ServerResponse): void {
  res.writeHead(503, {
    connection: "close",
    "retry-after": String(RETRY_AFTER_SECONDS),
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
  });
  res.end("The server is stopping; try again in a moment.\n");
}

/** A node:http server around handler that can drain (stop) within a deadline. */
export function drainingServer(handler: (req: IncomingMessage, res: ServerResponse) => void): DrainingServer {
  const inFlight = new Set<ServerResponse>();
  let drain: Promise<DrainOutcome> | null = null;
  // A connection whose answer was sent before the drain began (its headers said keep-alive) is
  // idle once that answer is finished: closed then, not when the client next sends.
  const closeIdleSoon = () => setImmediate(() => server.closeIdleConnections());
  const listener: RequestListener = (req, res) => {
    if (drain) {
      refuse(res);
      return;
    }
    inFlight.add(res);
    res.once("close", () => {
      inFlight.delete(res);
      if (drain) closeIdleSoon();
    });
    handler(req, res);
  };
  const server = createServer(listener);
  return {
    server,
    stopping: () => drain !== null,
    stop(drainMs) {
      drain ??= new Promise<DrainOutcome>((resolve) => {
        let outcome: DrainOutcome["outcome"] = "drained";
        let cutRequests = 0;
        const deadline = setTimeout(() => {
          outcome = "cut";
          cutRequests = inFlight.size;
          server.closeAllConnections();
        }, drainMs);
        server.close(() => {
          clearTimeout(deadline);
          resolve({ outcome, cutRequests });
        });
        // Answers still to come say so; Node then ends the connection after each of them.
        for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
        server.closeIdleConnections();
      });
      return drain;
    },
  };
}
