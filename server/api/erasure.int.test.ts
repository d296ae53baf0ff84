// Erasing a patient (admin.erasePatient): afterwards no read path returns their PHI (chart,
// history, audit timeline, time travel, event browser and detail, snapshots, read models, a
// rebuild of every read model), every event is still there, other patients are untouched, the
// erasure is in the audit trail, and the tamper-evidence chain still verifies.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { eventRegistry } from "../domain/registry";
import { patientStream } from "../domain/streams";
import { appendToStream, createRegistry, defineEvent, eventColumns, readStream, sealLog, selectEvents, storeOn, verifyLog } from "../eventStore";
import { z } from "zod";
import { PHI_ERASED, createKeyRing } from "../eventStore/phi";
import { env } from "../db/env";
import { masterKeysOf } from "../db/phiKey";
import { allProjections } from "../projections/registry";
import { runRebuild, startRebuild } from "../projections/rebuild";
import { applyInBatches } from "../testing/projections";
import { orderTurnaround } from "../projections/orderTurnaround";
import { callerAs, codeOf, contextFor, newPatient } from "../testing/caller";
import { createCaller } from "./root";
import { describeEachDatabase, openTestDatabase } from "../testing/db";
import type { SessionUser } from "./context";

const clinician: SessionUser = { id: "erasure-clinician", email: "ec@example.test", name: "Erin Clinician", roles: ["clinician"] };
const officer: SessionUser = { id: "erasure-officer", email: "eo@example.test", name: "Olu Officer", roles: ["compliance"] };
const admin: SessionUser = { id: "erasure-admin", email: "ea@example.test", name: "Ari Admin", roles: ["admin"] };

/** A patient with an encounter, a completed lab order with a critical result, and a demographics change. */
async function chartOf(db: Database) {
  const api = await callerAs(db, clinician);
  const tag = randomUUID().slice(0, 6);
  const input = { ...newPatient({ givenName: `Zelda${tag}`, familyName: `Quimby${tag}`, email: `zq${tag}@example.test` }), phone: "+1 555 7342" };
  const { patientId } = await api.patient.register(input);
  const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: `Chest pain ${tag}` });
  const { orderId } = await api.order.create({ patientId, encounterId, kind: "lab", details: { code: "2823-3", description: `Potassium ${tag}` }, priority: "stat" });
  await api.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "in_progress" });
  await api.order.changeStatus({ orderId, expectedVersion: 2, newStatus: "completed", resultData: { potassium: { value: 6.9, unit: "mmol/L", flag: "HH" }, note: `hemolysed ${tag}` } });
  await api.encounter.complete({ encounterId, expectedVersion: 1, outcome: `Admitted for telemetry ${tag}`, dischargeDisposition: "admitted" });
  await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { familyName: `Quimbyx${tag}` }, reason: `Married name ${tag}` });
  const secrets = [input.givenName, `Quimby${tag}`, input.mrn, input.email!, "555 7342", `Chest pain ${tag}`, `Potassium ${tag}`, `hemolysed ${tag}`, `telemetry ${tag}`, `Married name ${tag}`, "1985-12-10"];
  return { patientId, encounterId, orderId, mrn: input.mrn, secrets };
}

const leaks = (value: unknown, secrets: readonly string[]) => {
  const text = JSON.stringify(value);
  return secrets.filter((s) => text.includes(s));
};

describeEachDatabase("patient erasure", (db) => {
  it("forgets the patient everywhere, keeps every event, leaves others alone and records who, why and when", async () => {
    const store = storeOn(db(), eventRegistry);
    const gone = await chartOf(db());
    const kept = await chartOf(db());
    const clinicianApi = await callerAs(db(), clinician);
    const officerApi = await callerAs(db(), officer);
    const adminApi = await callerAs(db(), admin);
    const before = new Date();
    // The async order-turnaround projection, over these two patients' events only (the shared
    // database holds other suites' events too).
    const streamsOf = (c: typeof gone) => [patientStream(c.patientId), `encounter-${c.encounterId}`, `order-${c.orderId}`];
    const project = async () =>
      applyInBatches(
        db(),
        orderTurnaround,
        await selectEvents(store, `SELECT ${eventColumns} FROM events WHERE stream_id = ANY ($1::text[]) ORDER BY global_position`, [[...streamsOf(gone), ...streamsOf(kept)]]),
        { table: (name) => name },
      );
    await project();
    const countOf = async () => Number((await db().sql<{ n: bigint }>("SELECT count(*) AS n FROM events WHERE stream_id = ANY ($1::text[])", [[patientStream(gone.patientId), `encounter-${gone.encounterId}`, `order-${gone.orderId}`]]))[0]!.n);
    const eventsBefore = await countOf();
    // Chart readable before, with its PHI.
    expect(leaks(await clinicianApi.patient.byId({ patientId: gone.patientId }), gone.secrets).length).toBeGreaterThan(3);

    // The confirm step: the MRN typed again must match.
    expect(await codeOf(adminApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: kept.mrn, reason: "data subject request 2026-17" }))).toBe("BAD_REQUEST");
    // Only admins erase, and only with a reason.
    expect(await codeOf(clinicianApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: gone.mrn, reason: "data subject request 2026-17" }))).toBe("FORBIDDEN");
    expect(await codeOf(adminApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: gone.mrn, reason: "" }))).toBe("BAD_REQUEST");

    const found = await adminApi.admin.findPatientForErasure({ mrn: gone.mrn });
    expect(found.patientId).toBe(gone.patientId);
    // Everything of theirs was sealed under their key: nothing stays readable after.
    expect(found.eventsInClear).toBe(0);
    const erased = await adminApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: gone.mrn, reason: "data subject request 2026-17" });
    expect(erased.eventId).toBeTruthy();
    await project();

    // Every event is still there, plus the erasure.
    expect(await countOf()).toBe(eventsBefore + 1);

    // Chart, history: no PHI, "erased" in its place, never an error.
    const chart = await clinicianApi.patient.byId({ patientId: gone.patientId });
    expect(leaks(chart, gone.secrets)).toEqual([]);
    expect(chart.patient).toMatchObject({ givenName: PHI_ERASED, familyName: PHI_ERASED, dateOfBirth: PHI_ERASED, email: null });
    expect(chart.patient.erasedAt).toBeTruthy();
    const history = await clinicianApi.patient.history({ patientId: gone.patientId });
    expect(history.items.length).toBeGreaterThanOrEqual(7);
    expect(leaks(history, gone.secrets)).toEqual([]);
    expect(JSON.stringify(history)).toContain(PHI_ERASED);
    expect(leaks(await clinicianApi.encounter.byId({ encounterId: gone.encounterId }), gone.secrets)).toEqual([]);
    expect(leaks(await clinicianApi.order.byId({ orderId: gone.orderId }), gone.secrets)).toEqual([]);
    // Not found by name or MRN any more.
    expect((await clinicianApi.patient.list({ search: gone.mrn })).items).toEqual([]);

    // The audit console: timeline, time travel (before the erasure, too), event browser and detail.
    const timeline = await officerApi.audit.patientTimeline({ patientId: gone.patientId });
    expect(leaks(timeline, gone.secrets)).toEqual([]);
    const asOf = await officerApi.audit.patientAsOf({ patientId: gone.patientId, asOf: before });
    expect(leaks(asOf, gone.secrets)).toEqual([]);
    const streams = [patientStream(gone.patientId), `encounter-${gone.encounterId}`, `order-${gone.orderId}`];
    const browsed = (await Promise.all(streams.map((streamId) => officerApi.audit.events({ streamId, limit: 50 })))).flatMap((page) => page.items);
    expect(browsed.length).toBe(eventsBefore + 1);
    expect(leaks(browsed, gone.secrets)).toEqual([]);
    for (const item of browsed) expect(leaks(await officerApi.audit.event({ eventId: item.eventId }), gone.secrets)).toEqual([]);

    // The erasure itself is in the audit trail: who, why, when.
    const erasures = await officerApi.audit.events({ eventTypes: ["PatientErased"], streamId: patientStream(gone.patientId), limit: 5 });
    expect(erasures.items[0]).toMatchObject({ type: "PatientErased", userId: admin.id });
    expect((await adminApi.admin.erasures()).find((e) => e.patientId === gone.patientId)).toMatchObject({ reason: "data subject request 2026-17", erasedBy: admin.id });

    // Read models and snapshots hold none of it.
    const rows = await db().sql<Record<string, unknown>>(
      `SELECT (SELECT row_to_json(p) FROM rm_patients p WHERE patient_id = $1::uuid) AS p,
              (SELECT json_agg(e) FROM rm_encounters e WHERE patient_id = $1::uuid) AS e,
              (SELECT json_agg(o) FROM rm_orders o WHERE patient_id = $1::uuid) AS o,
              (SELECT json_agg(t) FROM rm_order_turnaround t WHERE patient_id = $1::uuid) AS t,
              (SELECT json_agg(s.data) FROM snapshots s WHERE stream_id = $2) AS s`,
      [gone.patientId, patientStream(gone.patientId)],
    );
    expect(leaks(rows, gone.secrets)).toEqual([]);
    expect(JSON.stringify(rows[0]!.t)).toContain(PHI_ERASED);
    // And the raw events never held any of it in clear.
    const raw = await db().sql<{ t: string }>("SELECT string_agg(data::text, ' ') AS t FROM events WHERE stream_id LIKE ANY ($1::text[])", [[`%${gone.patientId}`, `%${gone.encounterId}`, `%${gone.orderId}`]]);
    expect(leaks(raw, gone.secrets)).toEqual([]);

    // Nothing more is recorded about them.
    expect(await codeOf(clinicianApi.patient.updateDemographics({ patientId: gone.patientId, expectedVersion: 3, changes: { phone: "+1 555 0000" }, reason: "new" }))).toBe("PRECONDITION_FAILED");
    expect(await codeOf(adminApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: gone.mrn, reason: "data subject request 2026-17" }))).toBe("PRECONDITION_FAILED");

    // Another patient is untouched.
    const other = await clinicianApi.patient.byId({ patientId: kept.patientId });
    expect(leaks(other, kept.secrets).length).toBeGreaterThan(3);
    expect((await clinicianApi.patient.list({ search: kept.mrn })).items.map((p) => p.patientId)).toEqual([kept.patientId]);
  });
});

describeEachDatabase("erasure of a patient registered before PHI protection", (db) => {
  it("tells the admin, before they confirm, how many of the patient's events hold their details in clear", async () => {
    const api = await callerAs(db(), clinician);
    const adminApi = await callerAs(db(), admin);
    const input = newPatient();
    const { patientId } = await api.patient.register(input);
    // A change as a release before PHI protection wrote it: the same type, the payload in clear.
    const inClear = storeOn(db(), createRegistry([defineEvent("PatientDemographicsUpdated", z.looseObject({}))]));
    await appendToStream(
      inClear,
      patientStream(patientId),
      [
        {
          eventId: randomUUID(),
          type: "PatientDemographicsUpdated",
          data: { patientId, changes: { phone: "+1 555 0100" }, previous: { phone: null }, reason: "new number" },
          occurredAt: new Date(),
          userId: clinician.id,
          correlationId: `old-release-${randomUUID()}`,
          causationId: null,
        },
      ],
      { expectedVersion: 1, aggregateType: "patient" },
    );
    expect((await adminApi.admin.findPatientForErasure({ mrn: input.mrn })).eventsInClear).toBe(1);
  });
});

describeEachDatabase("erasure and the writes racing it", (db, kind) => {
  /** A patient's chart with an order still open (placed), to move after the erasure. */
  async function openOrderOf(database: Database) {
    const chart = await chartOf(database);
    const api = await callerAs(database, clinician);
    const { orderId } = await api.order.create({ patientId: chart.patientId, kind: "lab", details: { code: "2951-2", description: `Sodium ${chart.mrn}` } });
    return { ...chart, openOrderId: orderId, secrets: [...chart.secrets, `Sodium ${chart.mrn}`] };
  }
  const orderRows = (database: Database, patientId: string) =>
    database.sql<Record<string, unknown>>("SELECT json_agg(o) AS o FROM rm_orders o WHERE patient_id = $1::uuid", [patientId]);
  const eventsOf = (database: Database, orderId: string) => database.prisma.event.count({ where: { streamId: `order-${orderId}` } });

  it("refuses an order change from a process whose key ring still holds the erased patient's key, and writes nothing", async () => {
    const gone = await openOrderOf(db());
    const staleRing = createKeyRing({ ...masterKeysOf(env()), ttlMs: 3_600_000 });
    await staleRing.prepare(db().sql, [gone.patientId]);
    const adminApi = await callerAs(db(), admin);
    await adminApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: gone.mrn, reason: "data subject request 2026-31" });
    const before = await eventsOf(db(), gone.openOrderId);

    const stale = createCaller({ ...contextFor(db(), clinician), store: storeOn(db(), eventRegistry, staleRing) });
    expect(await codeOf(stale.order.changeStatus({ orderId: gone.openOrderId, expectedVersion: 1, newStatus: "in_progress" }))).toBe("PRECONDITION_FAILED");
    expect(await codeOf(stale.encounter.complete({ encounterId: gone.encounterId, expectedVersion: 2, outcome: "Home", dischargeDisposition: "home" }))).not.toBe("OK");
    expect(await eventsOf(db(), gone.openOrderId)).toBe(before);
    expect(leaks(await orderRows(db(), gone.patientId), gone.secrets)).toEqual([]);
  });

  it.skipIf(kind !== "postgresql")("an order change that meets the erasure in flight waits for it, then is refused [postgresql]", async () => {
    const gone = await openOrderOf(db());
    const before = await eventsOf(db(), gone.openOrderId);
    // The erasure's first lock on the patient (its projection marks rm_patients), held open.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const erasing = db().prisma.$transaction(
      async (tx) => {
        await tx.$executeRaw`UPDATE rm_patients SET erased_at = now() WHERE patient_id = ${gone.patientId}::uuid`;
        locked();
        await held;
      },
      { timeout: 30_000 },
    );
    await lockTaken;
    const api = await callerAs(db(), clinician);
    let settled = false;
    const writing = codeOf(api.order.changeStatus({ orderId: gone.openOrderId, expectedVersion: 1, newStatus: "in_progress" })).finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(settled).toBe(false);
    release();
    await erasing;
    expect(await writing).toBe("PRECONDITION_FAILED");
    expect(await eventsOf(db(), gone.openOrderId)).toBe(before);
  });
});

describe("erasure and the read models' rebuilds, and tamper evidence [embedded, a database of its own]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => db?.close());

  it("a rebuild of every read model after an erasure brings no PHI back (even where the key is still cached), and audit:verify still passes", async () => {
    const store = storeOn(db, eventRegistry);
    const signing = generateKeyPairSync("ed25519");
    const gone = await chartOf(db);
    const kept = await chartOf(db);
    await sealLog(store, signing.privateKey);
    // Another process's key ring that loaded the patient's key before the erasure and still
    // trusts it (within PHI_KEY_CACHE_SECONDS): its rebuild decrypts, and must mask anyway.
    const staleRing = createKeyRing({ ...masterKeysOf(env()), ttlMs: 3_600_000 });
    await staleRing.prepare(db.sql, [gone.patientId]);
    const staleStore = storeOn(db, eventRegistry, staleRing);
    const adminApi = await callerAs(db, admin);
    await adminApi.admin.erasePatient({ patientId: gone.patientId, confirmMrn: gone.mrn, reason: "data subject request 2026-18" });
    await sealLog(store, signing.privateKey);
    const report = await verifyLog(store, [signing.publicKey]);
    expect(report.firstProblem).toBeNull();
    expect(report.ok).toBe(true);

    // That ring still opens the patient's events: the masking below cannot come from decryption.
    const [registered] = await readStream(staleStore, patientStream(gone.patientId));
    expect(leaks(registered, gone.secrets).length).toBeGreaterThan(0);
    for (const projection of allProjections.filter((p) => ["patients", "encounters", "orders", "order_turnaround"].includes(p.name))) {
      const started = await startRebuild(staleStore, projection.name, { reason: "after an erasure", userId: admin.id, correlationId: randomUUID() });
      const result = await runRebuild(staleStore, started);
      expect(result.status, `${projection.name}: ${result.error}`).toBe("finished");
    }
    const rows = await db.sql<Record<string, unknown>>(
      `SELECT (SELECT json_agg(p) FROM rm_patients p WHERE patient_id = $1::uuid) AS p,
              (SELECT json_agg(e) FROM rm_encounters e WHERE patient_id = $1::uuid) AS e,
              (SELECT json_agg(o) FROM rm_orders o WHERE patient_id = $1::uuid) AS o,
              (SELECT json_agg(t) FROM rm_order_turnaround t WHERE patient_id = $1::uuid) AS t`,
      [gone.patientId],
    );
    expect(leaks(rows, gone.secrets)).toEqual([]);
    expect(JSON.stringify(rows[0]!.p)).toContain("ERASED-");
    const keptRows = await db.sql<Record<string, unknown>>("SELECT json_agg(p) AS p FROM rm_patients p WHERE patient_id = $1::uuid", [kept.patientId]);
    expect(leaks(keptRows, kept.secrets).length).toBeGreaterThan(2);
  });

  it("masks the same columns live as a rebuild does: a changed sex (sealed with the patient's key) reads erased in both", async () => {
    const api = await callerAs(db, clinician);
    const input = newPatient({ givenName: "Sam" });
    const { patientId } = await api.patient.register({ ...input, sex: "female" });
    await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { sex: "male" }, reason: "Corrected at the front desk" });
    await (await callerAs(db, admin)).admin.erasePatient({ patientId, confirmMrn: input.mrn, reason: "data subject request 2026-31" });
    // Every column but the times the rebuild sets anew.
    const row = async () =>
      (await db.sql<Record<string, unknown>>("SELECT to_jsonb(p) - 'updated_at' - 'erased_at' - 'registered_at' AS row FROM rm_patients p WHERE patient_id = $1::uuid", [patientId]))[0]!.row;
    const live = await row();
    expect(live).toMatchObject({ sex: PHI_ERASED, given_name: PHI_ERASED, active: false });
    const store = storeOn(db, eventRegistry);
    const result = await runRebuild(store, await startRebuild(store, "patients", { reason: "compare with live", userId: admin.id, correlationId: randomUUID() }));
    expect(result.status, result.error ?? "").toBe("finished");
    expect(await row()).toEqual(live);
  });
});

