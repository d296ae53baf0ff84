// The clinical journey through the tRPC procedures (createCaller, no HTTP), on both databases.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { expect, it } from "vitest";
import { readStream, storeOn } from "../../eventStore";
import { patientStream } from "../../domain/streams";
import { callerAs, codeOf, newPatient, testUser } from "../../testing/caller";
import { describeEachDatabase } from "../../testing/db";
import type { SessionUser } from "../context";
import { MappedError } from "../errors";

const clinician: SessionUser = { id: "clinician-1", email: "c1@example.test", name: "Casey Clinician", roles: ["clinician"] };
const other: SessionUser = { id: "clinician-2", email: "c2@example.test", name: "Robin Second", roles: ["clinician"] };

describeEachDatabase("clinical procedures", (db) => {
  it("refuses a registration that may be a patient already registered until the clinician names them as someone else", async () => {
    const api = await callerAs(db(), clinician);
    const family = `Núñez${randomUUID().slice(0, 6)}`;
    const first = await api.patient.register(newPatient({ givenName: "Zoë", familyName: family, dateOfBirth: "1977-04-05" }));
    const refusal = async (input: ReturnType<typeof newPatient> & { notDuplicateOf?: string[] }) => {
      try {
        await api.patient.register(input);
      } catch (error) {
        if (error instanceof MappedError) return { code: error.code, domain: error.domain };
        throw error;
      }
      return null;
    };
    // The same person typed again: accents and case aside, and the names either way round.
    for (const names of [{ givenName: "zoe", familyName: family.toUpperCase() }, { givenName: family.replace("Núñez", "Nunez"), familyName: "Zoe" }]) {
      const refused = await refusal(newPatient({ ...names, dateOfBirth: "1977-04-05" }));
      expect(refused).toMatchObject({ code: "PRECONDITION_FAILED", domain: { kind: "possible_duplicate", candidates: [{ patientId: first.patientId, givenName: "Zoë", familyName: family, dateOfBirth: "1977-04-05" }] } });
    }
    // Another birthday, or another name: no question.
    expect(await refusal({ ...newPatient({ givenName: "Zoë", familyName: family, dateOfBirth: "1977-04-06" }) })).toBeNull();
    // No given name on either side (an unidentified patient, a name not yet known): the family
    // name and the birth date are enough to ask.
    expect(await refusal(newPatient({ givenName: "", familyName: family.toLowerCase(), dateOfBirth: "1977-04-05" }))).toMatchObject({
      domain: { kind: "possible_duplicate", candidates: [{ patientId: first.patientId }] },
    });
    const nameless = await api.patient.register(newPatient({ givenName: "", familyName: `Unknown${randomUUID().slice(0, 6)}`, dateOfBirth: "1980-01-02" }));
    const namelessAgain = await refusal(newPatient({ givenName: "", familyName: (await api.patient.byId({ patientId: nameless.patientId })).patient.familyName, dateOfBirth: "1980-01-02" }));
    expect(namelessAgain).toMatchObject({ domain: { candidates: [{ patientId: nameless.patientId }] } });
    // The candidates shown were logged as listed, like a search.
    const listed = await db().prisma.accessLog.count({ where: { userId: clinician.id, patientId: first.patientId, procedure: "patient.register" } });
    expect(listed).toBeGreaterThan(0);

    // Named as someone else, it registers, and the first event says whom the clinician ruled out.
    const again = newPatient({ givenName: "Zoë", familyName: family, dateOfBirth: "1977-04-05" });
    const second = await api.patient.register({ ...again, notDuplicateOf: [first.patientId] });
    const [registered] = await readStream(storeOn(db(), (await import("../../domain/registry")).eventRegistry), patientStream(second.patientId));
    expect(registered?.metadata.extra).toMatchObject({ notDuplicateOf: first.patientId });
    // A re-sent registration is its own stored result, not a duplicate of itself.
    const commandId = randomUUID();
    const third = newPatient({ givenName: "Ines", familyName: family, dateOfBirth: "1977-04-05" });
    const done = await api.patient.register({ ...third, commandId });
    expect(await api.patient.register({ ...third, commandId })).toEqual({ ...done, repeated: true });
  });

  it("registers the same person once when two clinicians register them at the same moment", async () => {
    const [a, b] = await Promise.all([callerAs(db(), clinician), callerAs(db(), other)]);
    for (let round = 0; round < 6; round++) {
      const family = `Twice${randomUUID().slice(0, 8)}`;
      // The second clinician types the names the other way round and without the accent.
      const outcomes = await Promise.allSettled([
        a.patient.register(newPatient({ givenName: "Léa", familyName: family, dateOfBirth: "1990-02-03" })),
        b.patient.register(newPatient({ givenName: family, familyName: "Lea", dateOfBirth: "1990-02-03" })),
      ]);
      const registered = outcomes.filter((o) => o.status === "fulfilled");
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
      expect(registered).toHaveLength(1);
      expect(refused).toHaveLength(1);
      const patientId = (registered[0] as PromiseFulfilledResult<{ patientId: string }>).value.patientId;
      expect(refused[0]!.reason).toMatchObject({ code: "PRECONDITION_FAILED", domain: { kind: "possible_duplicate", candidates: [{ patientId }] } });
      // Nothing of the refused registration was kept: one chart under these names.
      const charts = { OR: [{ familyName: family }, { familyName: "Lea", givenName: family }], dateOfBirth: new Date("1990-02-03") };
      expect(await db().prisma.rmPatient.count({ where: charts })).toBe(1);
    }
  });

  it("registers a patient, shows the chart, lists and searches it", async () => {
    const api = await callerAs(db(), clinician);
    const input = newPatient();
    const { patientId, version } = await api.patient.register(input);
    expect(version).toBe(1);
    const chart = await api.patient.byId({ patientId });
    expect(chart.patient).toMatchObject({ mrn: input.mrn, givenName: "Ada", familyName: input.familyName, dateOfBirth: "1985-12-10", version: 1 });
    expect(chart.openEncounters).toEqual([]);
    expect(chart.encounterCount).toBe(0);

    const byName = await api.patient.list({ search: input.familyName.toLowerCase().slice(0, 10) });
    expect(byName.items.map((p) => p.patientId)).toContain(patientId);
    const byMrn = await api.patient.list({ search: input.mrn });
    expect(byMrn.items.map((p) => p.patientId)).toEqual([patientId]);
  });

  it("pages the patient list with a keyset cursor, without repeats", async () => {
    const api = await callerAs(db(), clinician);
    const family = `Paging${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < 5; i++) await api.patient.register({ ...newPatient(), familyName: family, givenName: `G${i}` });
    const first = await api.patient.list({ search: family, limit: 2 });
    const second = await api.patient.list({ search: family, limit: 2, cursor: first.nextCursor });
    const third = await api.patient.list({ search: family, limit: 2, cursor: second.nextCursor });
    expect([...first.items, ...second.items, ...third.items].map((p) => p.givenName)).toEqual(["G0", "G1", "G2", "G3", "G4"]);
    expect(third.nextCursor).toBeNull();
  });

  it("puts the session's user id, the request's correlation id and the command id into events, never input", async () => {
    const correlationId = `req-${randomUUID()}`;
    const api = await callerAs(db(), clinician, correlationId);
    const commandId = randomUUID();
    const sneaky = { ...newPatient(), userId: "someone-else", commandId } as ReturnType<typeof newPatient> & { commandId: string };
    const { patientId } = await api.patient.register(sneaky);
    const [event] = await readStream(storeOn(db(), (await import("../../domain/registry")).eventRegistry), patientStream(patientId));
    // The command id in its own namespace: a client's id can never name a stored event as the cause.
    expect(event!.metadata).toMatchObject({ userId: clinician.id, correlationId, causationId: `command:${commandId}` });
  });

  it("re-sending a command with the same command id does not register twice", async () => {
    const api = await callerAs(db(), clinician);
    const commandId = randomUUID();
    const input = { ...newPatient(), commandId };
    const first = await api.patient.register(input);
    const again = await api.patient.register(input);
    expect(again).toMatchObject({ patientId: first.patientId, repeated: true });
    const found = await api.patient.list({ search: input.mrn });
    expect(found.items.map((p) => p.patientId)).toEqual([first.patientId]);
  });

  it("updates demographics with a reason, ignores a no-op, and refuses a stale version with CONFLICT", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    const updated = await api.patient.updateDemographics({
      patientId,
      expectedVersion: 1,
      changes: { email: "ada.l@example.test" },
      reason: "Patient gave a new address at the desk",
    });
    expect(updated).toEqual({ version: 2, changed: true, repeated: false });
    const noop = await api.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { email: "ada.l@example.test" }, reason: "" });
    expect(noop).toEqual({ version: 2, changed: false, repeated: false });

    const stale = await api.patient
      .updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "typo" })
      .catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(TRPCError);
    expect((stale as TRPCError).code).toBe("CONFLICT");
    expect((stale as TRPCError).message).toContain("expected version 1, actual version 2");

    const changes = await api.patient.changesSince({ patientId, sinceVersion: 1 });
    expect(changes.items.map((e) => e.type)).toEqual(["PatientDemographicsUpdated"]);
    expect(changes.items[0]!.data).toMatchObject({ changes: { email: "ada.l@example.test" }, previous: { email: "ada@example.test" } });

    expect(await codeOf(api.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { phone: "+1 555 0199" }, reason: "  " }))).toBe("BAD_REQUEST");
  });

  it("refuses bad input with BAD_REQUEST naming the field, and writes nothing", async () => {
    const api = await callerAs(db(), clinician);
    const bad = { ...newPatient(), mrn: "lower-case!" };
    const error = await api.patient.register(bad).catch((e: unknown) => e);
    expect((error as TRPCError).code).toBe("BAD_REQUEST");
    expect((error as TRPCError).message).toMatch(/MRN/);
    expect((await api.patient.list({ search: bad.familyName })).items).toEqual([]);
    expect(await codeOf(api.patient.register({ ...newPatient(), dateOfBirth: "2999-01-01" }))).toBe("PRECONDITION_FAILED");
    expect(await codeOf(api.patient.byId({ patientId: randomUUID() }))).toBe("NOT_FOUND");
  });

  it("counts every encounter on the chart, also past the most recent 50 it lists", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    // The read model's rows alone: the chart reads nothing else for them.
    const at = (i: number) => new Date(Date.UTC(2020, 0, 1, 0, i));
    await db().prisma.rmEncounter.createMany({
      data: Array.from({ length: 51 }, (_, i) => ({
        encounterId: randomUUID(), patientId, providerId: clinician.id, encounterType: "outpatient", status: "completed", startedAt: at(i), version: 2, updatedAt: at(i),
      })),
    });
    const chart = await api.patient.byId({ patientId });
    expect(chart.recentEncounters).toHaveLength(50);
    expect(chart.encounterCount).toBe(51);
  });

  it("refuses a second patient with the same MRN, and the refusal, which tells the first is here, leaves a row on their chart", async () => {
    const api = await callerAs(db(), clinician);
    const input = newPatient();
    const { patientId } = await api.patient.register(input);
    // Someone else, trying MRNs: the answer tells them a patient holds this one.
    const prober = testUser(["clinician"]);
    const error = await (await callerAs(db(), prober)).patient.register({ ...newPatient(), mrn: input.mrn }).catch((e: unknown) => e);
    expect((error as TRPCError).code).toBe("PRECONDITION_FAILED");
    expect((error as TRPCError).message).toContain("already belongs to another patient");
    expect((await api.patient.list({ search: input.mrn })).items).toHaveLength(1);
    expect(await db().prisma.accessLog.findMany({ where: { userId: prober.id }, select: { patientId: true, procedure: true, screen: true } })).toEqual([
      { patientId, procedure: "patient.register", screen: "refusal" },
    ]);
    // The same MRN sent again by whoever registered it (an answer lost, the page reloaded, the
    // form retyped): their own patient, named, with the chart to open.
    const own = await api.patient.register({ ...newPatient(), mrn: input.mrn }).catch((e: unknown) => e);
    expect((own as TRPCError).code).toBe("PRECONDITION_FAILED");
    expect((own as MappedError).domain).toEqual({ kind: "invariant", rule: "patient.mrn_yours", patientId });
    expect((own as TRPCError).message).toMatch(/^You registered a patient with MRN \w+ at \d{4}-/);
    // A refusal that says nothing of another patient writes no row.
    const dayAfterTomorrow = new Date(Date.now() + 2 * 86_400_000).toISOString().slice(0, 10);
    expect(await codeOf((await callerAs(db(), prober)).patient.register(newPatient({ dateOfBirth: dayAfterTomorrow })))).toBe("PRECONDITION_FAILED");
    expect(await db().prisma.accessLog.count({ where: { userId: prober.id } })).toBe(1);
  });

  it("runs an encounter and an order through their lifecycles and shows them on the chart and worklist", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Annual check-up" });
    let chart = await api.patient.byId({ patientId });
    expect(chart.openEncounters.map((e) => e.encounterId)).toEqual([encounterId]);
    expect(chart.openEncounters[0]!.providerId).toBe(clinician.id);
    expect(chart.encounterCount).toBe(1);

    const { orderId } = await api.order.create({
      patientId,
      encounterId,
      kind: "lab",
      details: { code: "2345-7", description: "Glucose, serum" },
      priority: "stat",
    });
    const worklist = await api.order.worklist({ priority: "stat", limit: 100 });
    expect(worklist.items.find((o) => o.orderId === orderId)).toMatchObject({ status: "placed", patientId, nextStatuses: ["in_progress", "on_hold", "cancelled"] });

    await api.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "in_progress" });
    const done = await api.order.changeStatus({ orderId, expectedVersion: 2, newStatus: "completed", resultData: { value: 5.4, unit: "mmol/L" } });
    expect(done).toMatchObject({ version: 3, status: "completed", changed: true });
    expect(await codeOf(api.order.changeStatus({ orderId, expectedVersion: 3, newStatus: "placed" }))).toBe("PRECONDITION_FAILED");
    expect(await api.order.byId({ orderId })).toMatchObject({ status: "completed", resultData: { value: 5.4, unit: "mmol/L" }, nextStatuses: [] });

    await api.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Well", dischargeDisposition: "home" });
    expect(await codeOf(api.encounter.complete({ encounterId, expectedVersion: 2, outcome: "Again", dischargeDisposition: "home" }))).toBe(
      "PRECONDITION_FAILED",
    );
    chart = await api.patient.byId({ patientId });
    expect(chart.openEncounters).toEqual([]);
    expect(chart.recentEncounters[0]).toMatchObject({ status: "completed", dischargeDisposition: "home" });
    expect(chart.activeOrders).toEqual([]);

    const history = await api.patient.history({ patientId });
    expect(history.items.map((e) => e.type)).toEqual([
      "EncounterCompleted",
      "OrderStatusChanged",
      "OrderStatusChanged",
      "OrderCreated",
      "EncounterStarted",
      "PatientRegistered",
    ]);
    expect(history.items.every((e) => e.userId === clinician.id)).toBe(true);
  });

  it("refuses encounters and orders for unknown patients, and orders on another patient's encounter", async () => {
    const api = await callerAs(db(), clinician);
    expect(await codeOf(api.encounter.start({ patientId: randomUUID(), encounterType: "outpatient" }))).toBe("NOT_FOUND");
    expect(
      await codeOf(api.order.create({ patientId: randomUUID(), kind: "imaging", details: { description: "Chest X-ray" } })),
    ).toBe("NOT_FOUND");
    const a = await api.patient.register(newPatient());
    const b = await api.patient.register(newPatient());
    const { encounterId } = await api.encounter.start({ patientId: a.patientId, encounterType: "emergency" });
    expect(
      await codeOf(api.order.create({ patientId: b.patientId, encounterId, kind: "lab", details: { description: "CBC" } })),
    ).toBe("PRECONDITION_FAILED");
  });

  it("refuses an encounter started, or an order scheduled, before the patient's date of birth, with the rule the console words, and writes nothing", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient({ dateOfBirth: "1980-01-02" }));
    const refusal = (call: Promise<unknown>) => call.then(() => null, (e: unknown) => (e instanceof MappedError ? { code: e.code, domain: e.domain, message: e.message } : e));
    expect(await refusal(api.encounter.start({ patientId, encounterType: "outpatient", startedAt: new Date("1950-01-01T00:00:00Z") }))).toEqual({
      code: "PRECONDITION_FAILED",
      domain: { kind: "invariant", rule: "encounter.starts_before_birth" },
      message: "Start time 1950-01-01T00:00:00.000Z is before the patient's date of birth 1980-01-02",
    });
    expect(await refusal(api.order.create({ patientId, kind: "lab", details: { description: "CBC" }, scheduledFor: new Date("1979-12-31T00:00:00Z") }))).toMatchObject({
      code: "PRECONDITION_FAILED",
      domain: { kind: "invariant", rule: "order.scheduled_before_birth" },
    });
    expect(await api.encounter.listForPatient({ patientId })).toEqual([]);
    expect(await db().prisma.rmOrder.count({ where: { patientId } })).toBe(0);
    // On and after the day of birth: accepted.
    const { encounterId } = await api.encounter.start({ patientId, encounterType: "inpatient", startedAt: new Date("1980-01-02T08:00:00Z") });
    await api.order.create({ patientId, encounterId, kind: "lab", details: { description: "CBC" }, scheduledFor: new Date("1980-01-02T09:00:00Z") });
    expect(await db().prisma.rmOrder.count({ where: { patientId } })).toBe(1);
  });

  it("keeps a second clinician's stale edit out, and lets them retry on the fresh version", async () => {
    const first = await callerAs(db(), clinician);
    const second = await callerAs(db(), other);
    const { patientId } = await first.patient.register(newPatient());
    // The second clinician has no encounter or order with this patient yet: they state why first.
    await second.patient.breakGlass({ patientId, reason: "Front desk covering registration" });
    const seen = (await second.patient.byId({ patientId })).patient.version;
    await first.patient.updateDemographics({ patientId, expectedVersion: seen, changes: { phone: "+1 555 0111" }, reason: "Called in" });
    expect(await codeOf(second.patient.updateDemographics({ patientId, expectedVersion: seen, changes: { email: "x@example.test" }, reason: "Desk" }))).toBe("CONFLICT");
    const fresh = (await second.patient.byId({ patientId })).patient.version;
    await expect(
      second.patient.updateDemographics({ patientId, expectedVersion: fresh, changes: { email: "x@example.test" }, reason: "Desk" }),
    ).resolves.toEqual({ version: 3, changed: true, repeated: false });
  });

  it("an order whose optional details were sent as undefined (as superjson keeps them) still reads back and moves on", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    const { orderId } = await api.order.create({ patientId, kind: "lab", details: { description: "Potassium", code: undefined } });
    const moved = await api.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "in_progress", reason: null, resultData: null });
    expect(moved.status).toBe("in_progress");
    expect(await api.order.byId({ orderId })).toMatchObject({ status: "in_progress" });
  });
});
