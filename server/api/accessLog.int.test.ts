// Read-access auditing and the identity that commands stamp on events.
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { describeEachDatabase, describePostgres, openFreshPostgresDatabase, openTestDatabase, pgUrl, withOwner } from "../testing/db";
import type { Database } from "../db/client";
import { callerAs, callerFor, codeOf, contextFor, testUser } from "../testing/caller";
import { patientStream } from "../domain/streams";
import { createContext } from "./context";
import { recordAccess } from "./accessLog";
import { createCaller } from "./root";

const mrn = () => `T${randomUUID().replace(/-/g, "").slice(0, 9).toUpperCase()}`;
const registration = () => ({
  mrn: mrn(),
  givenName: "Ada",
  familyName: `Testperson${randomUUID().slice(0, 6)}`,
  dateOfBirth: "1980-02-03",
  sex: "female" as const,
});

type AccessRow = { user_id: string; patient_id: string; procedure: string; correlation_id: string };
async function accessRows(db: ReturnType<typeof contextFor>["db"], patientId: string): Promise<AccessRow[]> {
  return db.prisma.$queryRaw<AccessRow[]>`
    SELECT user_id, patient_id, procedure, correlation_id FROM access_log WHERE patient_id = ${patientId} ORDER BY id`;
}

describeEachDatabase("read-access log", (db, kind) => {
  it("records who read which patients, through which procedure, in which request", async () => {
    const user = testUser(["clinician"]);
    const ctx = contextFor(db(), user);
    const [a, b] = [randomUUID(), randomUUID()];
    await recordAccess(ctx, { procedure: "patient.list", patientIds: [a, b, a] });
    await recordAccess(ctx, { procedure: "patient.byId", patientId: a });
    expect(await accessRows(db(), a)).toEqual([
      { user_id: user.id, patient_id: a, procedure: "patient.list", correlation_id: ctx.correlationId },
      { user_id: user.id, patient_id: a, procedure: "patient.byId", correlation_id: ctx.correlationId },
    ]);
    expect(await accessRows(db(), b)).toHaveLength(1);
  });

  it("refuses to record an anonymous read", async () => {
    await expect(recordAccess(contextFor(db(), null), { procedure: "patient.byId", patientId: randomUUID() })).rejects.toThrow(
      /no signed-in user/,
    );
  });

  it("is append-only: the database refuses UPDATE, DELETE and TRUNCATE", async () => {
    const patientId = randomUUID();
    await recordAccess(contextFor(db(), testUser(["clinician"])), { procedure: "patient.byId", patientId });
    // The trigger refuses even the owner (the app's own role lacks the privilege in the first place).
    await withOwner(kind, db(), async (sql) => {
      await expect(sql("UPDATE access_log SET user_id = 'someone-else' WHERE patient_id = $1", [patientId])).rejects.toThrow(/append-only/);
      await expect(sql("DELETE FROM access_log WHERE patient_id = $1", [patientId])).rejects.toThrow(/append-only/);
      await expect(sql("TRUNCATE access_log")).rejects.toThrow(/append-only/);
    });
    expect(await accessRows(db(), patientId)).toHaveLength(1);
  });

  it("viewing a patient's chart writes an access-log row with the viewer's id", async () => {
    const registrar = callerFor(db(), ["clinician"]);
    const { patientId } = await registrar.patient.register(registration());
    const viewer = testUser(["clinician"], { id: `viewer-${randomUUID()}` });
    const ctx = await createContext({ headers: new Headers(), correlationId: "chart-view-1", db: db(), user: viewer });
    // Not the viewer's patient: they break the glass first (emergencyAccess.int.test.ts).
    await createCaller(ctx).patient.breakGlass({ patientId, reason: "Covering the ward tonight" });
    await createCaller(ctx).patient.byId({ patientId });
    const rows = await accessRows(db(), patientId);
    expect(rows).toContainEqual({ user_id: viewer.id, patient_id: patientId, procedure: "patient.byId", correlation_id: "chart-view-1" });
  });

  it("lets compliance answer who looked at a chart, and when: filtered, newest first, keyset-paged", async () => {
    const { patientId } = await callerFor(db(), ["clinician"]).patient.register(registration());
    const alice = testUser(["clinician"], { name: "Alice Viewer" });
    const bob = testUser(["clinician"]);
    const start = new Date(Date.now() - 1000);
    for (const user of [alice, bob, alice]) {
      await recordAccess(contextFor(db(), user), { procedure: "patient.byId", patientId });
    }
    await recordAccess(contextFor(db(), alice), { procedure: "patient.byId", patientId: randomUUID() });
    // Alice is a real user here, so the log can show her name.
    await db().prisma.user.create({ data: { id: alice.id, name: alice.name, email: alice.email, roles: ["clinician"] } });

    // Each look at the log is itself a row ("listed in the access log"): the pages below read up to now.
    await new Promise((r) => setTimeout(r, 5));
    const until = new Date();
    await new Promise((r) => setTimeout(r, 5));

    const officer = testUser(["compliance"]);
    const audit = createCaller(contextFor(db(), officer)).audit;
    const all = await audit.accessLog({ patientId, to: until });
    expect(all.rows.map((r) => r.userId)).toEqual([alice.id, bob.id, alice.id]);
    expect(all.rows[0]).toMatchObject({ userName: "Alice Viewer", userEmail: alice.email, screen: "opened the chart" });
    expect(all.rows[1]?.userName).toBeNull();
    expect(all.nextCursor).toBeNull();

    const first = await audit.accessLog({ patientId, to: until, limit: 2 });
    expect(first.rows).toHaveLength(2);
    const second = await audit.accessLog({ patientId, to: until, limit: 2, cursor: first.nextCursor ?? undefined });
    expect(await codeOf(audit.accessLog({ patientId, limit: 2, cursor: "12345" }))).toBe("BAD_REQUEST");
    expect([...first.rows, ...second.rows].map((r) => r.id)).toEqual(all.rows.map((r) => r.id));
    expect(second.nextCursor).toBeNull();

    expect((await audit.accessLog({ patientId, userId: alice.id })).rows).toHaveLength(2);
    expect((await audit.accessLog({ patientId, from: start, to: until })).rows).toHaveLength(3);
    expect((await audit.accessLog({ patientId, to: start })).rows).toHaveLength(0);
    const looks = (await audit.accessLog({ patientId, from: until })).rows;
    expect(looks.length).toBeGreaterThan(0);
    expect(looks.every((r) => r.userId === officer.id && r.screen === "listed in the access log")).toBe(true);
  });
});

/**
 * Rows planted ahead of the id sequence by whoever holds the app's role (an INSERT with ids of
 * their choosing, dated long ago so no officer's range shows them): the next reads must still
 * leave their rows, or fail. Planted ids break every later write of the log, so on PostgreSQL
 * this runs on a database of its own.
 */
async function readsAfterPlantedIds(db: Database): Promise<{ read: number; refused: number }> {
  const api = await callerAs(db, testUser(["clinician"]));
  const { patientId } = await api.patient.register(registration());
  const [top] = await db.sql<{ id: string }>("SELECT COALESCE(max(id), 0)::text AS id FROM access_log", []);
  await db.sql(
    `INSERT INTO access_log (id, accessed_at, user_id, patient_id, procedure, correlation_id) OVERRIDING SYSTEM VALUE
     SELECT g, '2001-01-01', 'nobody', 'nobody', 'planted', 'planted' FROM generate_series($1::bigint + 1, $1::bigint + 50) AS g`,
    [top!.id],
  );
  let read = 0;
  let refused = 0;
  for (let i = 0; i < 5; i++) {
    const before = (await accessRows(db, patientId)).length;
    const outcome = await codeOf(api.patient.byId({ patientId, viewId: randomUUID() }));
    const after = (await accessRows(db, patientId)).length;
    if (outcome === "OK") {
      read += 1;
      expect(after, "a chart returned without its access-log row").toBe(before + 1);
    } else refused += 1;
  }
  return { read, refused };
}

describe("rows planted in the access log", () => {
  it("never let a read go unrecorded: on the embedded database", async () => {
    const db = await openTestDatabase("embedded");
    try {
      const { read, refused } = await readsAfterPlantedIds(db);
      expect(read + refused).toBe(5);
    } finally {
      await db.close();
    }
  });

  it.skipIf(!pgUrl)("never let a read go unrecorded: as the app's role on PostgreSQL [postgresql, a database of its own]", async () => {
    const fresh = await openFreshPostgresDatabase(2);
    try {
      // Each read the planted ids stop is refused (a fault), never answered without its row.
      expect(await readsAfterPlantedIds(fresh.db)).toEqual({ read: 0, refused: 5 });
    } finally {
      await fresh.drop();
    }
  });
});

describePostgres("the access log's time", (db) => {
  it("is the database's: a row written by the app's role cannot be dated in the past or future", async () => {
    const userId = `planter-${randomUUID()}`;
    const patientId = randomUUID();
    await db().sql(
      `INSERT INTO access_log (accessed_at, user_id, patient_id, procedure, correlation_id)
       VALUES ('2001-01-01', $1, $2, 'patient.byId', 'x'), (now() + interval '3 hours', $1, $2, 'patient.byId', 'y')`,
      [userId, patientId],
    );
    const rows = await db().prisma.accessLog.findMany({ where: { userId }, select: { accessedAt: true } });
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(Math.abs(row.accessedAt.getTime() - Date.now())).toBeLessThan(60_000);
  });
});

describeEachDatabase("identity on events", (db) => {
  it("takes the user id from the session, never from input; correlation from the context; causation from the command", async () => {
    const session = testUser(["clinician"], { id: `session-user-${randomUUID()}` });
    const ctx = await createContext({ headers: new Headers(), correlationId: "req-identity-1", db: db(), user: session });
    const commandId = randomUUID();
    const input = { ...registration(), commandId, userId: "forged-user", user: { id: "forged-user" } };
    const { patientId } = await createCaller(ctx).patient.register(input as never);

    const events = await db().prisma.$queryRaw<{ user_id: string; correlation_id: string; causation_id: string | null }[]>`
      SELECT user_id, correlation_id, causation_id FROM events WHERE stream_id = ${patientStream(patientId)} ORDER BY version`;
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) {
      expect(event.user_id).toBe(session.id);
      expect(event.correlation_id).toBe("req-identity-1");
      expect(event.causation_id).toBe(`command:${commandId}`);
    }
  });

  it("makes a new correlation id per request and ignores a client's x-correlation-id, sane or not", async () => {
    // direct.int.test.ts shows the same over HTTP: a header naming another request's id.
    const a = await createContext({ headers: new Headers({ "x-correlation-id": "bad id with spaces; DROP" }), db: db(), user: null });
    const b = await createContext({ headers: new Headers({ "x-correlation-id": "someone-elses-request" }), db: db(), user: null });
    const c = await createContext({ headers: new Headers(), db: db(), user: null });
    for (const ctx of [a, b, c]) expect(ctx.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set([a.correlationId, b.correlationId, c.correlationId]).size).toBe(3);
  });
});
