// A request never waits on the database without end (DB_STATEMENT_TIMEOUT_SECONDS): a statement
// stuck behind another session's lock is cancelled by the server at the bound, and one sent into
// a network black hole (packets dropped: a firewall, a failover) is given up by the client a few
// seconds later, where it used to wait until TCP gave up. Both answer 503 with nothing written,
// and the connection that went silent leaves the pool rather than serve the next request. Long
// work (longSql) runs without the bound.
import { randomUUID } from "node:crypto";
import net from "node:net";
import superjson from "superjson";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { parseEnv } from "../db/env";
import { patientStream } from "../domain/streams";
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from "../errors";
import { callerFor, contextFor, newPatient } from "../testing/caller";
import { holdStreamRow, pgUrl } from "../testing/db";
import { captureFaultLines } from "../testing/logLines";
import type { SessionUser } from "./context";
import { handleTrpcRequest } from "./http";

const user: SessionUser = { id: "bound-user", email: "bound@example.test", name: "Bo Und", roles: ["clinician"] };
const boundSeconds = 1;

type Answer = { status: number; code: string | null; message: string | null; result: unknown };

async function post(db: Database, path: string, input: unknown): Promise<Answer & { correlationId: string }> {
  const ctx = contextFor(db, user);
  const res = await handleTrpcRequest(
    new Request(`http://localhost/api/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: superjson.stringify(input) }),
    async () => ctx,
  );
  const body = JSON.parse(await res.text()) as { error?: unknown; result?: { data: unknown } };
  if (!body.error) return { status: res.status, code: null, message: null, result: superjson.deserialize(body.result!.data as never), correlationId: ctx.correlationId };
  const error = superjson.deserialize<{ message: string; data: { code: string } }>(body.error as never);
  return { status: res.status, code: error.data.code, message: error.message, result: null, correlationId: ctx.correlationId };
}

async function versionsOf(db: Database, stream: string): Promise<number[]> {
  return (await db.longSql<{ version: number }>("SELECT version FROM events WHERE stream_id = $1 ORDER BY version", [stream])).map((r) => r.version);
}

/**
 * A TCP relay to the database that can turn into a black hole: while `drop` is on, bytes either
 * way are swallowed and nothing is closed, as a firewall that silently drops packets does.
 */
async function blackHole(target: URL) {
  let drop = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.on("data", (bytes) => void (drop || upstream.write(bytes)));
    upstream.on("data", (bytes) => void (drop || client.write(bytes)));
    // A black hole passes no close either: the server's side stays open until its own bounds end it.
    client.on("close", () => void (drop || upstream.destroy()));
    upstream.on("close", () => void (drop || client.destroy()));
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    set drop(on: boolean) {
      drop = on;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

afterEach(() => vi.restoreAllMocks());

it("is 30 s unless set, 0 turns it off, and a cut statement reads as the database unavailable", () => {
  expect(parseEnv({}).DB_STATEMENT_TIMEOUT_SECONDS).toBe(30);
  expect(parseEnv({ DB_STATEMENT_TIMEOUT_SECONDS: "0" }).DB_STATEMENT_TIMEOUT_SECONDS).toBe(0);
  expect(() => parseEnv({ DB_STATEMENT_TIMEOUT_SECONDS: "30s" })).toThrow(/DB_STATEMENT_TIMEOUT_SECONDS/);
  const canceled = Object.assign(new Error("canceling statement due to statement timeout"), { code: "57014", severity: "ERROR" });
  expect(isDatabaseUnavailable(canceled)).toBe(true);
  expect(isDatabaseUnavailable(new Error("Query read timeout"))).toBe(true);
  expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { originalCode: "57014", kind: "postgres" } } } })).toBe(true);
});

describe.skipIf(!pgUrl)("a bound on each statement [postgresql]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openDatabase({ url: pgUrl!, poolMax: 4, statementTimeoutSeconds: boundSeconds });
  });
  afterAll(async () => {
    await db?.close();
  });

  it("cancels a statement stuck behind another session's lock at the bound: 503, nothing written, and the retry goes through", { timeout: 60_000 }, async () => {
    const log = captureFaultLines();
    const { patientId } = await callerFor(db, ["clinician"], user).patient.register(newPatient());
    const stream = patientStream(patientId);
    const { owner, end } = await holdStreamRow(stream);
    try {
      const input = { patientId, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "New number", commandId: randomUUID() };
      const started = performance.now();
      const answer = await post(db, "patient.updateDemographics", input);
      const took = performance.now() - started;
      expect(answer).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE });
      expect(took).toBeGreaterThanOrEqual(boundSeconds * 1000 - 50);
      expect(took).toBeLessThan(boundSeconds * 1000 + 4_000);
      const lines = log.lines.filter((l) => l.includes(answer.correlationId));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/\[database unavailable\] patient\.updateDemographics .*sqlstate=57014/);
      // Rolled back whole: the stream is as it was, even before the lock is let go.
      expect(await versionsOf(db, stream)).toEqual([1]);
      await owner.query("COMMIT");
      expect(await post(db, "patient.updateDemographics", input)).toMatchObject({ status: 200, result: { version: 2 } });
    } finally {
      await end();
    }
  });

  it("bounds the driver's own statements too, and leaves long work (longSql) without the bound", { timeout: 30_000 }, async () => {
    const error = await db.sql("SELECT pg_sleep(5)", []).then(() => null, (e: unknown) => e);
    expect(error).toMatchObject({ code: "57014" });
    expect(isDatabaseUnavailable(error)).toBe(true);
    const [row] = await db.longSql<{ ok: boolean }>("SELECT true AS ok FROM pg_sleep($1)", [boundSeconds + 1]);
    expect(row?.ok).toBe(true);
    // The pool serves on after a cancelled statement.
    expect(await db.sql<{ one: number }>("SELECT 1 AS one", [])).toEqual([{ one: 1 }]);
  });

  it("gives up on a database that stopped answering (a network black hole): 503 within the bound and its grace, nothing written, and the silent connection is not used again", { timeout: 90_000 }, async () => {
    captureFaultLines();
    const relay = await blackHole(new URL(pgUrl!));
    // One connection: a silent one handed out again would be the one the next request gets.
    const via = await openDatabase({ url: relay.url, poolMax: 1, statementTimeoutSeconds: boundSeconds, poolWaitSeconds: 3 });
    try {
      const { patientId } = await callerFor(via, ["clinician"], user).patient.register(newPatient());
      const stream = patientStream(patientId);
      const input = { patientId, expectedVersion: 1, changes: { phone: "+1 555 0123" }, reason: "Black hole", commandId: randomUUID() };

      relay.drop = true;
      const started = performance.now();
      const answer = await post(via, "patient.updateDemographics", input);
      const took = performance.now() - started;
      expect(answer).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE });
      // The client's bound is the server's plus 5 s of grace; before, this waited for TCP (minutes).
      expect(took).toBeGreaterThanOrEqual(boundSeconds * 1000 + 4_500);
      expect(took).toBeLessThan(boundSeconds * 1000 + 5_000 + 5_000);
      const sql = await via.sql("SELECT 1", []).then(() => null, (e: unknown) => e);
      expect(isDatabaseUnavailable(sql)).toBe(true);

      relay.drop = false;
      // Nothing of the command reached the log.
      expect(await versionsOf(db, stream)).toEqual([1]);
      // The connections that went silent were closed, not handed to the next request: it is served at once.
      const again = performance.now();
      expect(await post(via, "patient.updateDemographics", input)).toMatchObject({ status: 200, result: { version: 2 } });
      expect(performance.now() - again).toBeLessThan(3_000);
      expect(await versionsOf(db, stream)).toEqual([1, 2]);

      // Cut inside a transaction, after Prisma's own transaction timeout (as storeOn's 15 s comes
      // before the default 35 s): Prisma's ROLLBACK queues behind the silent statement and then
      // releases the connection without an error, which pg's pool would have kept and handed out.
      const cut = await via.prisma
        .$transaction(
          async (tx) => {
            await tx.$queryRaw`SELECT 1`;
            relay.drop = true;
            await tx.$queryRaw`SELECT 2`;
          },
          { timeout: 2_000 },
        )
        .then(() => null, (e: unknown) => e);
      expect(isDatabaseUnavailable(cut)).toBe(true);
      relay.drop = false;
      const next = performance.now();
      expect(await via.sql<{ one: number }>("SELECT 1 AS one", [])).toEqual([{ one: 1 }]);
      expect(performance.now() - next).toBeLessThan(1_000);
    } finally {
      relay.drop = false;
      await via.close();
      await relay.close();
    }
  });

});
