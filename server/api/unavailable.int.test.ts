// The database going away under a request (a DBA's pg_terminate_backend, a failover, a restart)
// answers 503 SERVICE_UNAVAILABLE with a plain message, not a 500 fault: the operator and the
// browser both learn it is the database and that a retry is the cure. The retry of a command cut
// off that way, with the same command id, is done once (or answered as done), never twice.
import { randomUUID } from "node:crypto";
import superjson from "superjson";
import { afterEach, expect, it, vi } from "vitest";
import { patientStream } from "../domain/streams";
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from "../errors";
import { callerFor, contextFor, newPatient } from "../testing/caller";
import { describePostgres, holdStreamRow } from "../testing/db";
import { captureFaultLines } from "../testing/logLines";
import type { SessionUser } from "./context";
import { handleTrpcRequest } from "./http";

const user: SessionUser = { id: "unavailable-user", email: "unavailable@example.test", name: "Una Vailable", roles: ["clinician"] };

type Answer = { status: number; code: string | null; message: string | null; result: unknown };

async function post(ctx: ReturnType<typeof contextFor>, path: string, input: unknown): Promise<Answer> {
  const res = await handleTrpcRequest(
    new Request(`http://localhost/api/trpc/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: superjson.stringify(input) }),
    async () => ctx,
  );
  const body = JSON.parse(await res.text()) as { error?: unknown; result?: { data: unknown } };
  if (!body.error) return { status: res.status, code: null, message: null, result: superjson.deserialize(body.result!.data as never) };
  const error = superjson.deserialize<{ message: string; data: { code: string } }>(body.error as never);
  return { status: res.status, code: error.data.code, message: error.message, result: null };
}

afterEach(() => vi.restoreAllMocks());

it("tells connection failures from refusals", () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: "FATAL" });
  expect(isDatabaseUnavailable(pgError("57P01", "terminating connection due to administrator command"))).toBe(true);
  expect(isDatabaseUnavailable(pgError("57P03", "the database system is starting up"))).toBe(true);
  expect(isDatabaseUnavailable(pgError("08006", "connection failure"))).toBe(true);
  expect(isDatabaseUnavailable(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }))).toBe(true);
  expect(isDatabaseUnavailable(new Error("timeout exceeded when trying to connect"))).toBe(true);
  expect(isDatabaseUnavailable(new Error("Connection terminated unexpectedly"))).toBe(true);
  // As Prisma's pg adapter wraps them.
  expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { originalCode: "57P01", kind: "postgres" } } } })).toBe(true);
  expect(isDatabaseUnavailable({ code: "P2010", meta: { driverAdapterError: { cause: { kind: "DatabaseNotReachable" } } } })).toBe(true);
  // A statement the database refused is not an outage.
  expect(isDatabaseUnavailable(pgError("23505", "duplicate key value violates unique constraint"))).toBe(false);
  expect(isDatabaseUnavailable(pgError("40001", "could not serialize access"))).toBe(false);
  expect(isDatabaseUnavailable(new Error("something else"))).toBe(false);
});

it("answers 503 when the database cannot be reached to build the request's context (opening it, reading the session)", async () => {
  const log = captureFaultLines();
  const res = await handleTrpcRequest(new Request("http://localhost/api/trpc/patient.list"), () =>
    Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED", syscall: "connect", errno: -111 })),
  );
  expect(res.status).toBe(503);
  const error = superjson.deserialize<{ message: string; data: { code: string; correlationId: string } }>((JSON.parse(await res.text()) as { error: never }).error);
  expect(error).toMatchObject({ message: DATABASE_UNAVAILABLE_MESSAGE, data: { code: "SERVICE_UNAVAILABLE" } });
  const lines = log.lines.filter((l) => l.includes(error.data.correlationId));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/\[database unavailable\] \(transport\)/);
});

describePostgres("the database going away under a request", (db) => {
  it("answers 503 when the request's backend is terminated, the next request succeeds, and the retried command is done once", { timeout: 60_000 }, async () => {
    const log = captureFaultLines();
    const api = callerFor(db(), ["clinician"], user);
    const { patientId } = await api.patient.register(newPatient());
    const stream = patientStream(patientId);
    // The owner holds the stream's row, so the command's append waits on it: its backend is the
    // one waiting for the owner, and that is the one a "DBA" ends.
    const { owner, end } = await holdStreamRow(stream);
    try {
      const ownerPid = (await owner.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      const commandId = randomUUID();
      const input = { patientId, expectedVersion: 1, changes: { phone: "+1 555 0142" }, reason: "Moved house", commandId };
      const ctx = contextFor(db(), user);
      const cut = post(ctx, "patient.updateDemographics", input);
      let victims: number[] = [];
      for (const deadline = Date.now() + 10_000; victims.length === 0 && Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 50));
        victims = (await owner.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))", [ownerPid])).rows.map((r) => r.pid);
      }
      expect(victims).toHaveLength(1);
      await owner.query("SELECT pg_terminate_backend($1)", [victims[0]]);
      const answer = await cut;
      expect(answer).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE });
      await owner.query("COMMIT");

      // Logged once, as the database being unavailable, with codes and no values.
      const lines = log.lines.filter((l) => l.includes(ctx.correlationId));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/\[database unavailable\] patient\.updateDemographics .*sqlstate=57P01/);
      expect(lines[0]).not.toMatch(/555|Moved/);

      // The pool replaced the connection: the retry with the same command id does it, once.
      const retried = await post(contextFor(db(), user), "patient.updateDemographics", input);
      expect(retried).toMatchObject({ status: 200, result: { version: 2, changed: true } });
      // And a client that lost that answer too and sends it once more gets the same result back.
      const again = await post(contextFor(db(), user), "patient.updateDemographics", input);
      expect(again.status).toBe(200);
      expect(again.result).toMatchObject({ version: 2 });
      const versions = await db().sql<{ version: number }>("SELECT version FROM events WHERE stream_id = $1 ORDER BY version", [stream]);
      expect(versions.map((r) => r.version)).toEqual([1, 2]);
    } finally {
      await end();
    }
  });
});
