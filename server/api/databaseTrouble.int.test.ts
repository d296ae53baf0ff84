// The database in trouble without being down: read-only after a failover (a standby not yet
// promoted, or a DBA's default_transaction_read_only), a full disk, a lock a DBA holds, a
// lock_timeout or statement_timeout a DBA sets on the role. Each is simulated on connections of
// the test's own (the setting in the connection's options) or a database of its own, never on the
// server. A request is answered 503 with words that say which it is, never a fault; the health
// check says what is wrong without waiting behind the lock itself; long work is not cut by a
// DBA's statement_timeout; the sealer says why it cannot seal and backs off.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import pg from "pg";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { patientStream } from "../domain/streams";
import { eventRegistry } from "../domain/registry";
import { storeOn } from "../eventStore";
import { DATABASE_DISK_FULL_MESSAGE, DATABASE_READ_ONLY_MESSAGE, DATABASE_UNAVAILABLE_MESSAGE, RECORD_BUSY_MESSAGE } from "../errors";
import { createAuth, createUserWithPassword, handleAuthRequest } from "../auth";
import { PEER_HEADER } from "../auth/clientAddress";
import { callerFor, contextFor, newPatient } from "../testing/caller";
import { holdStreamRow, openFreshPostgresDatabase, pgOwnerUrl, pgUrl } from "../testing/db";
import { urlAsUser } from "../db/roles";
import { captureFaultLines, captureLogLines } from "../testing/logLines";
import { runSealerLoop } from "../workers/sealer";
import type { SessionUser } from "./context";
import { handleTrpcRequest } from "./http";

const user: SessionUser = { id: "trouble-user", email: "trouble@example.test", name: "Tru Ble", roles: ["clinician"] };

/** The test database, each connection opened with these server settings (`-c name=value`). */
function withSettings(settings: Record<string, string>): string {
  const url = new URL(pgUrl!);
  url.searchParams.set("options", Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`).join(" "));
  return url.toString();
}

type Answer = { status: number; code: string | null; message: string | null; correlationId: string };

async function call(db: Database, path: string, input: unknown, method: "GET" | "POST"): Promise<Answer> {
  const ctx = contextFor(db, user);
  const url = `http://localhost/api/trpc/${path}` + (method === "GET" ? `?input=${encodeURIComponent(superjson.stringify(input))}` : "");
  const res = await handleTrpcRequest(
    new Request(url, method === "POST" ? { method, headers: { "content-type": "application/json" }, body: superjson.stringify(input) } : { method }),
    async () => ctx,
  );
  const body = JSON.parse(await res.text()) as { error?: unknown };
  if (!body.error) return { status: res.status, code: null, message: null, correlationId: ctx.correlationId };
  const error = superjson.deserialize<{ message: string; data: { code: string } }>(body.error as never);
  return { status: res.status, code: error.data.code, message: error.message, correlationId: ctx.correlationId };
}

describe.skipIf(!pgUrl)("the database in trouble [postgresql]", () => {
  let writable: Database;
  let patientId: string;

  beforeAll(async () => {
    writable = await openDatabase({ url: pgUrl!, poolMax: 4 });
    patientId = (await callerFor(writable, ["clinician"], user).patient.register(newPatient())).patientId;
  });
  afterAll(async () => {
    await writable?.close();
  });

  describe("read-only (a standby not yet promoted)", () => {
    let readOnly: Database;
    beforeAll(async () => {
      readOnly = await openDatabase({ url: withSettings({ default_transaction_read_only: "on" }), poolMax: 4, statementTimeoutSeconds: 30 });
    });
    afterAll(async () => {
      await readOnly?.close();
    });

    it("answers a change, and a read that is recorded, 503 'read-only', logged as such, never a fault", async () => {
      const log = captureFaultLines();
      const change = await call(readOnly, "patient.register", { ...newPatient(), commandId: randomUUID() }, "POST");
      expect(change).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_READ_ONLY_MESSAGE });
      // The patient list records who was shown: refused too, and says why.
      const list = await call(readOnly, "patient.list", {}, "GET");
      expect(list).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_READ_ONLY_MESSAGE });
      expect(log.lines.filter((l) => l.includes('"fault":"internal"'))).toEqual([]);
      for (const answer of [change, list]) {
        const lines = log.lines.filter((l) => l.includes(answer.correlationId));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/"fault":"database read-only".*\[database read-only\] .*sqlstate=25006/);
        expect(lines[0]).not.toMatch(/cannot execute/);
      }
    });

    it("answers a sign-in 503 'read-only' (it writes the session), not a fault", async () => {
      const log = captureFaultLines();
      const email = `trouble-${randomUUID()}@test.invalid`;
      const password = "correct horse battery";
      await createUserWithPassword(createAuth(writable, { secret: "test-secret-0123456789-0123456789-abcdef", baseURL: null, signInPerMinute: 100 }), {
        email,
        name: "Ro Admin",
        password,
        roles: ["admin"],
      });
      const auth = createAuth(readOnly, { secret: "test-secret-0123456789-0123456789-abcdef", baseURL: null, signInPerMinute: 100 });
      const origin = "http://127.0.0.1:3100";
      const res = await handleAuthRequest(
        auth,
        new Request(`${origin}/api/auth/sign-in/email`, {
          method: "POST",
          headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", [PEER_HEADER]: "10.9.8.6" },
          body: JSON.stringify({ email, password }),
        }),
      );
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: "DATABASE_READ_ONLY", message: DATABASE_READ_ONLY_MESSAGE });
      expect(log.lines.some((l) => l.includes('"fault":"internal"'))).toBe(false);
      expect(log.lines.some((l) => /\[database read-only\] auth \S*sign-in/.test(l))).toBe(true);
    });

    it("tells a signed-in user the database is read-only, 'degraded'", async () => {
      const health = await callerFor(readOnly, []).system.health();
      expect(health).toMatchObject({ status: "degraded", details: { readOnly: true } });
      expect(await callerFor(writable, []).system.health()).toMatchObject({ details: { readOnly: false } });
    });

    it("the sealer says why it cannot seal and waits longer each time rather than every pass", async () => {
      // A database of its own: the run's holds seals other tests signed with keys of their own,
      // on which this sealer would (rightly) refuse to sign before it tried to write.
      const own = await openFreshPostgresDatabase(2);
      const ownUrl = new URL(urlAsUser(own.ownerUrl, new URL(pgUrl!).username));
      ownUrl.searchParams.set("options", "-c default_transaction_read_only=on");
      const ownReadOnly = await openDatabase({ url: ownUrl.toString(), poolMax: 2 });
      const { lines, restore } = captureLogLines();
      const said: string[] = [];
      const stop = new AbortController();
      const { privateKey } = generateKeyPairSync("ed25519");
      try {
        // A new event not yet sealed, so that the pass has a seal to write.
        await callerFor(own.db, ["clinician"], user).patient.register(newPatient());
        const loop = runSealerLoop(storeOn(ownReadOnly, eventRegistry), privateKey, { signal: stop.signal, everyMs: 50, log: (line) => said.push(line) });
        await new Promise((r) => setTimeout(r, 1_600));
        stop.abort();
        await loop;
      } finally {
        restore();
        await ownReadOnly.close();
        await own.drop();
      }
      const failures = said.filter((l) => l.startsWith("audit: sealing failed"));
      expect(failures.length).toBeGreaterThan(0);
      // 50, 100, 200, 400, 800 ms: five or six passes in 1.6 s, not thirty.
      expect(failures.length).toBeLessThanOrEqual(7);
      expect(failures[0]).toMatch(/\[25006\]: cannot execute \w+ in a read-only transaction/);
      expect(lines.join("\n")).not.toContain("PRIVATE KEY");
    });
  });

  it("answers a write the database has no disk space for (53100) 503 'out of disk space', never a fault", { timeout: 30_000 }, async () => {
    // A full disk, as the server reports it when a table cannot grow: raised by a trigger on the
    // log of a database of the test's own (filling a real disk would fill the other databases').
    const fresh = await openFreshPostgresDatabase(2);
    try {
      const owner = new pg.Client({ connectionString: fresh.ownerUrl });
      await owner.connect();
      await owner.query(`CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$`);
      await owner.query("CREATE TRIGGER disk_full BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION disk_full()");
      await owner.end();
      const log = captureFaultLines();
      const answer = await call(fresh.db, "patient.register", { ...newPatient(), commandId: randomUUID() }, "POST");
      expect(answer).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_DISK_FULL_MESSAGE });
      const lines = log.lines.filter((l) => l.includes(answer.correlationId));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/"fault":"database disk full".*sqlstate=53100/);
      expect(lines[0]).not.toMatch(/No space/);
      expect(await fresh.db.sql("SELECT 1 FROM streams", [])).toEqual([]);
    } finally {
      await fresh.drop();
    }
  });

  it("answers a change 503 when a DBA's lock_timeout cuts its wait for a lock (55P03), not a fault", { timeout: 30_000 }, async () => {
    const db = await openDatabase({ url: withSettings({ lock_timeout: "300" }), poolMax: 2, statementTimeoutSeconds: 30 });
    const { owner, end } = await holdStreamRow(patientStream(patientId));
    try {
      const log = captureFaultLines();
      const answer = await call(
        db,
        "patient.updateDemographics",
        { patientId, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "Moved", commandId: randomUUID() },
        "POST",
      );
      expect(answer).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE });
      expect(log.lines.find((l) => l.includes(answer.correlationId))).toMatch(/\[database unavailable\] .*sqlstate=55P03/);
      void owner;
    } finally {
      await end();
      await db.close();
    }
  });

  it("answers a change 503 'send it again' when it is refused for ordering after others' writes on every try (40001), nothing saved, not a fault", { timeout: 30_000 }, async () => {
    const busy = (await callerFor(writable, ["clinician"], user).patient.register(newPatient())).patientId;
    // As if writers with newer transactions kept stamping the patient's stream (a decision read
    // it, stream_versions_decided_on): every try of this transaction sorts before them.
    const owner = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl! });
    await owner.connect();
    try {
      await owner.query("UPDATE streams SET last_xid = (pg_current_xact_id()::text::bigint + 1000000000)::text::xid8 WHERE stream_id = $1", [patientStream(busy)]);
      const log = captureLogLines("warn");
      try {
        const answer = await call(
          writable,
          "patient.updateDemographics",
          { patientId: busy, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "Moved", commandId: randomUUID() },
          "POST",
        );
        expect(answer).toMatchObject({ status: 503, code: "SERVICE_UNAVAILABLE", message: RECORD_BUSY_MESSAGE });
        // One warning that says so, no fault and no "database unavailable".
        const lines = log.lines.filter((l) => l.includes(answer.correlationId));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/"level":"warn".*\[record busy\] patient\.updateDemographics .*sqlstate=40001/);
      } finally {
        log.restore();
      }
      const [row] = (await owner.query<{ version: number }>("SELECT version FROM streams WHERE stream_id = $1", [patientStream(busy)])).rows;
      expect(row?.version).toBe(1);
    } finally {
      await owner.query("UPDATE streams SET last_xid = NULL WHERE stream_id = $1", [patientStream(busy)]);
      await owner.end();
    }
    // Sent again once the others are done, it is saved.
    const again = await call(
      writable,
      "patient.updateDemographics",
      { patientId: busy, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "Moved", commandId: randomUUID() },
      "POST",
    );
    expect(again.status).toBe(200);
  });

  it("tells a signed-in user who holds the lock the requests wait on, within a second or two, not after the statement bound", { timeout: 30_000 }, async () => {
    const db = await openDatabase({ url: pgUrl!, poolMax: 6, statementTimeoutSeconds: 20 });
    const dba = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl! });
    await dba.connect();
    try {
      await dba.query("SET application_name = 'dba-maintenance'");
      await dba.query("BEGIN");
      await dba.query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
      const dbaPid = (await dba.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;
      // A chart read waits on the log.
      const waiting = call(db, "patient.history", { patientId }, "GET");
      for (let i = 0; i < 100; i++) {
        const { rows } = await dba.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND relation = 'events'::regclass AND database = (SELECT oid FROM pg_database WHERE datname = current_database())");
        if (rows[0]!.n > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const t0 = performance.now();
      const health = await callerFor(db, []).system.health();
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(health.status).toBe("degraded");
      expect(health.details).toMatchObject({ estimates: null, estimatesBlocked: true, readOnly: false });
      expect(health.details!.lockWaits!.sessions).toBeGreaterThanOrEqual(1);
      expect(health.details!.lockWaits!.tables).toContain("events");
      expect(health.details!.lockWaits!.blockers).toContainEqual({ pid: dbaPid, user: expect.any(String), application: "dba-maintenance" });
      await dba.query("COMMIT");
      expect((await waiting).status).toBe(200);
      const after = await callerFor(db, []).system.health();
      expect(after).toMatchObject({ status: "up", details: { estimatesBlocked: false, lockWaits: { sessions: 0 } } });
    } finally {
      await dba.end().catch(() => {});
      await db.close();
    }
  });

  it("runs long work to its end under a DBA's statement_timeout on the role; the pool keeps its own bound", { timeout: 30_000 }, async () => {
    const db = await openDatabase({ url: withSettings({ statement_timeout: "200" }), poolMax: 2, statementTimeoutSeconds: 30 });
    try {
      // The integrity check, an extract, a rebuild's index build: longSql, without any bound.
      expect(await db.longSql<{ ok: boolean }>("SELECT true AS ok FROM pg_sleep(0.5)", [])).toEqual([{ ok: true }]);
      // The console's own statements: DB_STATEMENT_TIMEOUT_SECONDS, sent when it connects.
      expect(await db.sql<{ ok: boolean }>("SELECT true AS ok FROM pg_sleep(0.5)", [])).toEqual([{ ok: true }]);
    } finally {
      await db.close();
    }
  });
});
