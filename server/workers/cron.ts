// The outbox's cron entry (app/api/cron/outbox): one drain per call, for hosts where a cron
// service calls a URL instead of running `npm run worker:outbox`.
import "server-only";
import { createHash, timingSafeEqual } from "node:crypto";
import { componentLogger } from "../log";
import { errorSummary, type DrainResult } from "./outbox";

export type CronDeps<R = DrainResult> = {
  /** CRON_SECRET; unset means the route is not configured and does nothing. */
  secret: () => string | undefined;
  drain: () => Promise<R>;
  /** Names the route in the log line of a failed call (default "outbox"). */
  name?: string;
};

/** Constant-time comparison; hashing first makes the lengths equal, as timingSafeEqual needs. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (v: string) => createHash("sha256").update(v).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "cache-control": "no-store" } });

export function outboxCronHandler<R = DrainResult>(deps: CronDeps<R>): (request: Request) => Promise<Response> {
  return async (request) => {
    const secret = deps.secret();
    if (!secret) return json(503, { error: "not configured" });
    const header = request.headers.get("authorization") ?? "";
    const match = /^Bearer (.+)$/.exec(header);
    if (!match?.[1] || !sameSecret(match[1], secret)) {
      return new Response(JSON.stringify({ error: "unauthorized" }), {
        status: 401,
        headers: { "content-type": "application/json", "www-authenticate": "Bearer" },
      });
    }
    try {
      return json(200, await deps.drain());
    } catch (error) {
      componentLogger("cron").error({ job: deps.name ?? "outbox", drain: errorSummary(error) }, "drain failed");
      return json(503, { error: "drain failed" });
    }
  };
}
