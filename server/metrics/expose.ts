// Exposition in Prometheus' text format: GET /api/metrics in the console (bearer METRICS_TOKEN)
// and the worker's own small HTTP server (WORKER_METRICS_PORT). The database-backed gauges are
// read at scrape time; a database that cannot answer leaves them at their last values and the
// process metrics are still served.
import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { Db } from "../eventStore";
import { componentLogger, errorFields } from "../log";
import { collectDatabaseGauges } from "./database";
import { metrics } from "./registry";

/** Constant-time comparison; hashing first makes the lengths equal, as timingSafeEqual needs. */
export function sameToken(given: string, expected: string): boolean {
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** Everything this process exposes, with the database gauges refreshed first. */
export async function renderMetrics(db: Db | null): Promise<{ contentType: string; body: string }> {
  const m = metrics();
  if (db) {
    try {
      await collectDatabaseGauges(db);
    } catch (error) {
      componentLogger("metrics").warn({ ...errorFields(error) }, "database gauges not read");
    }
  }
  return { contentType: m.registry.contentType, body: await m.registry.metrics() };
}

export type MetricsRouteDeps = {
  /** METRICS_TOKEN; unset means the endpoint is not configured. */
  token: () => string | undefined;
  db: () => Promise<Db>;
};

const plain = (status: number, text: string, headers: Record<string, string> = {}) =>
  new Response(text, { status, headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...headers } });

/** The console's /api/metrics: 503 when METRICS_TOKEN is unset, 401 without the right bearer token. */
export function metricsRouteHandler(deps: MetricsRouteDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    const token = deps.token();
    if (!token) return plain(503, "metrics are not configured: set METRICS_TOKEN\n");
    const match = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "");
    if (!match?.[1] || !sameToken(match[1], token)) return plain(401, "unauthorized\n", { "www-authenticate": "Bearer" });
    let db: Db | null = null;
    try {
      db = await deps.db();
    } catch (error) {
      componentLogger("metrics").warn({ ...errorFields(error) }, "database unavailable for a scrape");
    }
    const { contentType, body } = await renderMetrics(db);
    return new Response(body, { status: 200, headers: { "content-type": contentType, "cache-control": "no-store" } });
  };
}

/**
 * The worker's metrics server: GET /metrics (any other path 404). With `token`, the same bearer
 * check as the console's, on every interface unless `host` says otherwise; without a token, on
 * the loopback interface only unless `host` says otherwise: each scrape runs a round of database
 * queries, and anyone who could reach the port could run them without end.
 */
export function startMetricsServer(options: { port: number; host?: string; db: Db; token?: string }): Promise<Server> {
  const log = componentLogger("metrics");
  const server = createServer((req, res) => {
    void (async () => {
      if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      if (options.token) {
        const match = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
        if (!match?.[1] || !sameToken(match[1], options.token)) {
          res.writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" }).end("unauthorized\n");
          return;
        }
      }
      const { contentType, body } = await renderMetrics(options.db);
      res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" }).end(body);
    })().catch((error: unknown) => {
      log.error({ ...errorFields(error) }, "metrics scrape failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? (options.token ? "0.0.0.0" : "127.0.0.1"), () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}
