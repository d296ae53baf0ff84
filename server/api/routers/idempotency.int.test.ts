// A client's command id (idempotency key) answers "repeated" only for the same command on the
// same record; reused for anything else it is a CONFLICT that says so, and nothing is dropped.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { expect, it } from "vitest";
import { callerFor, newPatient } from "../../testing/caller";
import { describeEachDatabase } from "../../testing/db";
import { eventIdFor, legacyCommandFingerprint } from "../../eventStore/aggregate";
import { appendToStream } from "../../eventStore";
import { storeFor } from "../context";
import { patientStream } from "../../domain/streams";

async function conflictOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return "OK";
  } catch (error) {
    if (error instanceof TRPCError && error.code === "CONFLICT") return error.message;
    throw error;
  }
}

describeEachDatabase("command ids are scoped to one command on one record", (db) => {
  it("repeats the same registration, refuses the id for a different one", async () => {
    const api = callerFor(db(), ["clinician"]);
    const commandId = randomUUID();
    const input = newPatient();
    const first = await api.patient.register({ ...input, commandId });
    expect(first.repeated).toBe(false);
    expect(await api.patient.register({ ...input, commandId })).toEqual({ ...first, repeated: true });
    const other = newPatient();
    expect(await conflictOf(api.patient.register({ ...other, commandId }))).toMatch(/already used for a different change/);
    // Nothing of the refused registration was stored.
    const found = await api.patient.list({ search: other.mrn });
    expect(JSON.stringify(found)).not.toContain(other.mrn);
  });

  it("refuses an id used for another record when it would start a record (registration, encounter, order), writing nothing", async () => {
    // These commands do not read their new stream or the id before they append (startsStream):
    // the append itself finds the id's event taken, and the usual path says why.
    const api = callerFor(db(), ["clinician"]);
    const { patientId } = await api.patient.register(newPatient());
    const commandId = randomUUID();
    const edited = await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo", commandId });
    expect(edited).toMatchObject({ version: 2, changed: true });
    const other = newPatient();
    expect(await conflictOf(api.patient.register({ ...other, commandId }))).toMatch(/already used for another record/);
    expect(JSON.stringify(await api.patient.list({ search: other.mrn }))).not.toContain(other.mrn);
    expect(await conflictOf(api.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up", commandId }))).toMatch(/already used for another record/);
    expect(await conflictOf(api.order.create({ patientId, kind: "lab", details: { description: "Glucose, serum" }, commandId }))).toMatch(/already used for another record/);
    const chart = await api.patient.byId({ patientId });
    expect(chart.patient.version).toBe(2);
    expect(chart.encounterCount).toBe(0);
    expect(chart.orders).toEqual([]);
    // Each sent again under its own id: started once, then answered with the stored result.
    const encounterCommand = randomUUID();
    const encounter = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up", commandId: encounterCommand });
    expect(await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up", commandId: encounterCommand })).toEqual({ ...encounter, repeated: true });
    const orderCommand = randomUUID();
    const order = await api.order.create({ patientId, kind: "lab", details: { description: "Glucose, serum" }, commandId: orderCommand });
    expect(await api.order.create({ patientId, kind: "lab", details: { description: "Glucose, serum" }, commandId: orderCommand })).toEqual({ ...order, repeated: true });
    expect(await conflictOf(api.order.create({ patientId, kind: "imaging", details: { description: "Chest X-ray" }, commandId: orderCommand }))).toMatch(/already used for a different change/);
  });

  it("answers a re-sent encounter start or order with its stored result after the chart or the encounter changed meanwhile", async () => {
    // The server adds what it read (the patient's allergies and status, the encounter's) to these
    // commands for the decider; a repeat is told by what the client asked, not by that.
    const api = callerFor(db(), ["clinician"]);
    const { patientId } = await api.patient.register(newPatient());
    const start = { patientId, encounterType: "outpatient" as const, reason: "Check-up", commandId: randomUUID() };
    const encounter = await api.encounter.start(start);
    const orderInput = { patientId, encounterId: encounter.encounterId, kind: "lab" as const, details: { description: "Glucose, serum" }, commandId: randomUUID() };
    const order = await api.order.create(orderInput);
    await api.patient.recordAllergy({ patientId, substance: { code: "latex", text: "Latex" }, reaction: null, severity: "mild", source: "patient", note: null });
    expect(await api.encounter.start(start)).toEqual({ ...encounter, repeated: true });
    expect(await api.order.create(orderInput)).toEqual({ ...order, repeated: true });
    await api.encounter.complete({ encounterId: encounter.encounterId, expectedVersion: encounter.version, outcome: "Seen and discharged", dischargeDisposition: "home", commandId: randomUUID() });
    expect(await api.order.create(orderInput)).toEqual({ ...order, repeated: true });
    // The same id with another request is still another command.
    expect(await conflictOf(api.order.create({ ...orderInput, details: { description: "Lipid panel" } }))).toMatch(/already used for a different change/);
    expect(await conflictOf(api.encounter.start({ ...start, reason: "Follow-up" }))).toMatch(/already used for a different change/);
    const chart = await api.patient.byId({ patientId });
    expect(chart.encounterCount).toBe(1);
    expect(chart.orders).toHaveLength(1);
  });

  it("refuses an edit's id reused on another patient, and on the same patient for other changes", async () => {
    const api = callerFor(db(), ["clinician"]);
    const a = await api.patient.register(newPatient());
    const b = await api.patient.register(newPatient());
    const commandId = randomUUID();
    const edit = { expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo", commandId };
    const done = await api.patient.updateDemographics({ patientId: a.patientId, ...edit });
    expect(done).toMatchObject({ version: 2, changed: true, repeated: false });
    // The same edit again (a retried request): the stored result, even with the old version.
    expect(await api.patient.updateDemographics({ patientId: a.patientId, ...edit })).toMatchObject({ version: 2, repeated: true });

    expect(await conflictOf(api.patient.updateDemographics({ patientId: b.patientId, ...edit }))).toMatch(/already used for another record/);
    expect(
      await conflictOf(api.patient.updateDemographics({ patientId: a.patientId, ...edit, expectedVersion: 2, changes: { givenName: "Ada" } })),
    ).toMatch(/already used for a different change/);

    // Patient b was not silently left unedited under "repeated": its edit is refused, and the
    // same change under a fresh id goes through.
    const bChart = await api.patient.byId({ patientId: b.patientId });
    expect(bChart.patient.givenName).toBe("Ada");
    const retried = await api.patient.updateDemographics({ patientId: b.patientId, ...edit, commandId: randomUUID() });
    expect(retried).toMatchObject({ version: 2, changed: true, repeated: false });
  });

  it("answers a command sent again after an upgrade with its stored result, when its events were written before fingerprints", async () => {
    const userId = `user-${randomUUID()}`;
    const api = callerFor(db(), ["clinician"], { id: userId });
    const { patientId } = await api.patient.register(newPatient());
    const commandId = randomUUID();
    // The edit as a release before fingerprints stored it (c0e7116 and earlier): the command's
    // event ids, its bare id as the cause, no fingerprint.
    const store = storeFor(db());
    await appendToStream(
      store,
      patientStream(patientId),
      [
        {
          eventId: eventIdFor(commandId, 0),
          type: "PatientDemographicsUpdated",
          data: { patientId, changes: { givenName: "Grace" }, previous: { givenName: "Ada" }, reason: "typo" },
          occurredAt: new Date(),
          userId,
          correlationId: `old-release-${randomUUID()}`,
          causationId: commandId,
        },
      ],
      { expectedVersion: 1, aggregateType: "patient" },
    );
    const again = await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo", commandId });
    expect(again).toMatchObject({ version: 2, repeated: true });
    expect(await db().prisma.event.count({ where: { streamId: patientStream(patientId) } })).toBe(2);
  });

  it("refuses a command id the server made for an earlier command, which a client can read from the record's history", async () => {
    const api = callerFor(db(), ["clinician"]);
    const { patientId } = await api.patient.register(newPatient());
    // Sent without a command id: the server makes one, and the history names it as the cause.
    await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo" });
    const history = await api.patient.history({ patientId });
    const cause = history.items.find((item) => item.version === 2)!.causationId!;
    expect(cause).toMatch(/^command:/);
    const serverMade = cause.slice("command:".length);
    // Another change under that id was answered "repeated" and dropped.
    expect(
      await conflictOf(api.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { familyName: "Hopper" }, reason: "married", commandId: serverMade })),
    ).toMatch(/already used for a different change/);
    // The very same change under it too: the server's id was never the client's to send again.
    expect(
      await conflictOf(api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo", commandId: serverMade })),
    ).toMatch(/already used for a different change/);
    expect(await db().prisma.event.count({ where: { streamId: patientStream(patientId) } })).toBe(2);
    const retried = await api.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { familyName: "Hopper" }, reason: "married", commandId: randomUUID() });
    expect(retried).toMatchObject({ version: 3, changed: true, repeated: false });
  });

  it("concurrent copies of one client command write once and answer alike", async () => {
    const api = callerFor(db(), ["clinician"]);
    const commandId = randomUUID();
    const input = newPatient();
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => api.patient.register({ ...input, commandId })));
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    expect(ok.filter((r) => !r.repeated)).toHaveLength(1);
    expect(new Set(ok.map((r) => r.patientId)).size).toBe(1);
    // Every copy answers the stored result: none is refused for racing the first.
    expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
  });

  it("stores a fingerprint keyed by the patient's data key (erasure leaves nothing to check guesses of the PHI against), bound to who asked", async () => {
    const api = callerFor(db(), ["clinician"]);
    const commandId = randomUUID();
    const input = newPatient();
    const { patientId } = await api.patient.register({ ...input, commandId });
    const streamId = `patient-${patientId}`;
    const [row] = await db().prisma.$queryRaw<{ fp: string }[]>`SELECT metadata->>'commandFingerprint' AS fp FROM events WHERE stream_id = ${streamId} AND version = 1`;
    expect(row?.fp).toMatch(/^v2:[0-9a-f]{32}$/);
    // What the names, MRN and birth date would give unkeyed (the fingerprint stored before) is not it.
    const command = { type: "RegisterPatient", data: { ...input, patientId }, metadata: {} };
    expect(row?.fp.slice(3)).not.toBe(legacyCommandFingerprint(streamId, "patient", command));
    // The same user's retry is the stored result; another user sending the same id and fields is not.
    expect((await api.patient.register({ ...input, commandId })).repeated).toBe(true);
    expect(await conflictOf(callerFor(db(), ["clinician"]).patient.register({ ...input, commandId }))).toMatch(/already used for a different change/);
  });

  it("answers every copy of an edit with the stored result, raced or retried after the record moved on", async () => {
    const api = callerFor(db(), ["clinician"]);
    const { patientId } = await api.patient.register(newPatient());
    const edit = { patientId, expectedVersion: 1, changes: { phone: "555-0109" }, reason: "race", commandId: randomUUID() };
    const answers = await Promise.all(Array.from({ length: 12 }, () => api.patient.updateDemographics(edit)));
    expect(answers.filter((a) => !a.repeated)).toEqual([{ version: 2, changed: true, repeated: false }]);
    expect(answers.filter((a) => a.repeated)).toEqual(Array(11).fill({ version: 2, changed: false, repeated: true }));

    await api.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { phone: "555-0110" }, reason: "later" });
    expect(await api.patient.updateDemographics(edit)).toEqual({ version: 2, changed: false, repeated: true });
  });
});
