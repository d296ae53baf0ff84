// The cron entry of the outbox worker, called as Next would call it: the route's exported
// handlers with a Request. The route reads its configuration from the environment, set here
// before anything reads it (each test file runs in its own process).
import { afterAll, describe, expect, it, vi } from "vitest";
import { pgUrl } from "../testing/db";
import { randomUUID } from "node:crypto";
import { note } from "../testing/events";

const secret = `cron-${"s".repeat(32)}`;
process.env.CRON_SECRET = secret;
// The run's PostgreSQL test database, or in-memory PGlite; in-process handlers only (no bus).
process.env.DATABASE_URL = pgUrl ?? "";
process.env.PGLITE_DIR = "memory://";
delete process.env.AMQP_URL;

const { GET, POST } = await import("@/app/api/cron/outbox/route");
const { getDatabase } = await import("../db/client");
const { storeFor } = await import("../api/context");
const { appendToStream } = await import("../eventStore");
const { outboxCronHandler } = await import("./cron");

const url = "http://localhost/api/cron/outbox";
const call = (handler: (r: Request) => Promise<Response>, headers: HeadersInit = {}, method = "POST") =>
  handler(new Request(url, { method, headers }));

afterAll(async () => {
  await (await getDatabase()).close();
});

describe("POST/GET /api/cron/outbox", () => {
  it("refuses a missing or wrong secret with 401", async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: `Bearer ${secret}x` }, { authorization: `Basic ${secret}` }, { authorization: secret }];
    for (const headers of attempts) {
      const response = await call(POST, headers);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: "unauthorized" });
    }
    expect((await call(GET, { authorization: "Bearer nope" }, "GET")).status).toBe(401);
  });

  it("runs one drain with the right secret and answers its counts", async () => {
    const db = await getDatabase();
    // An event of the app's own registry, which the route decodes with.
    const userId = `user-${randomUUID()}`;
    const event = { ...note(1), type: "UserRolesChanged", data: { userId, previousRoles: [], roles: ["admin"] } };
    await appendToStream(storeFor(db), `user-${userId}`, [event], { expectedVersion: "no_stream", aggregateType: "user" });
    const processed = async () =>
      (await db.sql<{ done: boolean }>("SELECT processed_at IS NOT NULL AS done FROM outbox WHERE event_id = $1::uuid", [event.eventId]))[0]?.done;

    // Other test files share this database: drain until our row is through.
    for (let i = 0; i < 1_000 && !(await processed()); i++) {
      const response = await call(i % 2 === 0 ? POST : GET, { authorization: `Bearer ${secret}` }, i % 2 === 0 ? "POST" : "GET");
      expect(response.status).toBe(200);
      const body = await response.json();
      // busUnavailable only when AMQP_URL names a broker that cannot be reached.
      expect(Object.keys(body).filter((k) => k !== "busUnavailable").sort()).toEqual(["claimed", "deadLettered", "handled", "published", "retried"]);
    }
    expect(await processed()).toBe(true);
  });

  it("does nothing and answers 503 when CRON_SECRET is not set", async () => {
    const drain = vi.fn(async () => ({ handled: 0, claimed: 0, published: 0, retried: 0, deadLettered: 0 }));
    const handler = outboxCronHandler({ secret: () => undefined, drain });
    const response = await call(handler, { authorization: "Bearer anything" });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: "not configured" });
    expect(drain).not.toHaveBeenCalled();
  });
});
