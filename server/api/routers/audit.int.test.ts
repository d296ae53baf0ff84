// The compliance officer's audit procedures through createCaller (no HTTP), on both databases:
// the event log's filters and paging, one event's causes and effects, a record's timeline, time
// travel, and that every one of them logs the read of the patients it shows.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { Database } from "../../db/client";
import { appendToStream, type NewEvent } from "../../eventStore";
import { encounterStream, orderStream, patientStream } from "../../domain/streams";
import { callerAs, codeOf, newPatient as registration, uniqueMrn } from "../../testing/caller";
import { describeEachDatabase } from "../../testing/db";
import { storeFor, type SessionUser } from "../context";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function users() {
  const run = randomUUID().slice(0, 8);
  const clinician: SessionUser = { id: `clin-${run}`, email: `clin-${run}@example.test`, name: "Casey Clinician", roles: ["clinician"] };
  const compliance: SessionUser = { id: `comp-${run}`, email: `comp-${run}@example.test`, name: "Morgan Compliance", roles: ["compliance"] };
  return { clinician, compliance };
}

const newPatient = () => registration({ givenName: "Grace", familyName: `Hopper${randomUUID().slice(0, 6)}`, dateOfBirth: "1956-12-09", email: undefined });


async function accessRows(db: Database, userId: string) {
  return db.prisma.accessLog.findMany({ where: { userId }, select: { patientId: true, procedure: true, correlationId: true }, orderBy: { id: "asc" } });
}

/** A record with one of everything, written by `clinician` under one correlation id. */
async function makeRecord(db: Database, clinician: SessionUser) {
  const correlationId = `req-${randomUUID()}`;
  const api = await callerAs(db, clinician, correlationId);
  const { patientId } = await api.patient.register(newPatient());
  await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0111" }, reason: "Patient gave a new number" });
  const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up" });
  const { orderId } = await api.order.create({ patientId, encounterId, kind: "procedure", details: { description: "Dressing change" } });
  await api.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "in_progress" });
  await api.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Fine", dischargeDisposition: "home" });
  return { patientId, encounterId, orderId, correlationId };
}

describeEachDatabase("audit procedures", (db) => {
  it("browses the log newest first with filters, pages without repeats, and logs the patients it shows", async () => {
    const { clinician, compliance } = users();
    const t0 = new Date(Date.now() - 1);
    const record = await makeRecord(db(), clinician);
    const other = await makeRecord(db(), clinician);
    const audit = (await callerAs(db(), compliance)).audit;

    const all = await audit.events({ userId: clinician.id });
    expect(all.items).toHaveLength(12);
    expect(all.nextBefore).toBeNull();
    const positions = all.items.map((e) => e.globalPosition);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
    expect(all.items.every((e) => e.userId === clinician.id)).toBe(true);
    expect(all.items[0]!.userName).toBeNull(); // not a stored user: the screen shows the id

    // Every row names its patient, including the events whose payload does not carry it.
    const byType = new Map(all.items.filter((e) => e.correlationId === record.correlationId).map((e) => [e.type, e]));
    expect([...byType.keys()].sort()).toEqual(
      ["EncounterCompleted", "EncounterStarted", "OrderCreated", "OrderStatusChanged", "PatientDemographicsUpdated", "PatientRegistered"],
    );
    for (const e of byType.values()) expect(e.patientId).toBe(record.patientId);
    expect(byType.get("OrderStatusChanged")).toMatchObject({ aggregateType: "order", streamId: orderStream(record.orderId), version: 2 });

    // Keyset pages: together exactly the unpaged answer.
    const seen: number[] = [];
    let before: number | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await audit.events({ userId: clinician.id, limit: 5, before });
      seen.push(...page.items.map((e) => e.globalPosition));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(seen).toEqual(positions);

    const byCorrelation = await audit.events({ correlationId: record.correlationId });
    expect(byCorrelation.items.map((e) => e.type)).toEqual([
      "EncounterCompleted",
      "OrderStatusChanged",
      "OrderCreated",
      "EncounterStarted",
      "PatientDemographicsUpdated",
      "PatientRegistered",
    ]);
    const byStream = await audit.events({ streamId: patientStream(record.patientId) });
    expect(byStream.items.map((e) => [e.type, e.version])).toEqual([
      ["PatientDemographicsUpdated", 2],
      ["PatientRegistered", 1],
    ]);
    const types = await audit.events({ userId: clinician.id, eventTypes: ["PatientDemographicsUpdated", "OrderStatusChanged"] });
    expect(types.items.map((e) => e.type)).toEqual([
      "OrderStatusChanged",
      "PatientDemographicsUpdated",
      "OrderStatusChanged",
      "PatientDemographicsUpdated",
    ]);
    expect(types.items.map((e) => e.patientId)).toEqual([other.patientId, other.patientId, record.patientId, record.patientId]);
    const typesPaged = await audit.events({ userId: clinician.id, eventTypes: ["PatientDemographicsUpdated", "OrderStatusChanged"], limit: 3 });
    expect(typesPaged.items.map((e) => e.globalPosition)).toEqual(types.items.slice(0, 3).map((e) => e.globalPosition));
    const typesRest = await audit.events({
      userId: clinician.id,
      eventTypes: ["PatientDemographicsUpdated", "OrderStatusChanged"],
      limit: 3,
      before: typesPaged.nextBefore!,
    });
    expect(typesRest.items.map((e) => e.globalPosition)).toEqual(types.items.slice(3).map((e) => e.globalPosition));

    const orders = await audit.events({ userId: clinician.id, aggregateType: "order" });
    expect(orders.items.map((e) => e.type)).toEqual(["OrderStatusChanged", "OrderCreated", "OrderStatusChanged", "OrderCreated"]);

    // Time ranges: recorded [from, to), occurred likewise; paged on the time, still complete.
    const t1 = new Date(Date.now() + 1000);
    const recorded = await audit.events({ userId: clinician.id, recordedFrom: t0, recordedTo: t1 });
    expect(recorded.items.map((e) => e.eventId).sort()).toEqual(all.items.map((e) => e.eventId).sort());
    const recordedTimes = recorded.items.map((e) => e.recordedAt.getTime());
    expect(recordedTimes).toEqual([...recordedTimes].sort((a, b) => b - a));
    const pagedIds: string[] = [];
    before = undefined;
    for (let i = 0; i < 10; i++) {
      const page = await audit.events({ userId: clinician.id, recordedFrom: t0, recordedTo: t1, limit: 5, before });
      pagedIds.push(...page.items.map((e) => e.eventId));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(pagedIds).toEqual(recorded.items.map((e) => e.eventId));
    expect((await audit.events({ userId: clinician.id, recordedTo: t0 })).items).toEqual([]);
    expect((await audit.events({ userId: clinician.id, occurredFrom: t0, occurredTo: t1 })).items).toHaveLength(12);
    expect(await codeOf(audit.events({ recordedFrom: t1, recordedTo: t0 }))).toBe("BAD_REQUEST");
    // A time-sorted page goes on from its cursor's event: one no event holds is refused, not
    // answered with an empty page that reads as "nothing in this range".
    for (const range of [{ recordedFrom: t0 }, { occurredFrom: t0 }]) {
      expect(await codeOf(audit.events({ ...range, before: 2 ** 52 }))).toBe("BAD_REQUEST");
    }

    const reads = await accessRows(db(), compliance.id);
    expect(reads.every((r) => r.procedure === "audit.events")).toBe(true);
    expect(new Set(reads.map((r) => r.patientId))).toEqual(new Set([record.patientId, other.patientId]));
    // The empty page read nobody's data, and logged nothing extra.
    const emptyCalls = reads.filter((r) => r.patientId !== record.patientId && r.patientId !== other.patientId);
    expect(emptyCalls).toEqual([]);
  });

  it("shows one event with its correlated events and, when events cause events, the chain both ways", async () => {
    const { clinician, compliance } = users();
    const record = await makeRecord(db(), clinician);
    const audit = (await callerAs(db(), compliance)).audit;
    const [update] = (await audit.events({ streamId: patientStream(record.patientId), eventTypes: ["PatientDemographicsUpdated"] })).items;
    const detail = await audit.event({ eventId: update!.eventId });
    expect(detail.event).toMatchObject({ eventId: update!.eventId, userId: clinician.id, correlationId: record.correlationId, schemaVersion: 1 });
    expect(detail.event.data).toMatchObject({ changes: { phone: "+1 555 0111" }, previous: { phone: "+1 555 0100" }, reason: "Patient gave a new number" });
    // Commands cause events through the API: the causation id is the command's, not an event's.
    expect(detail.causedBy).toEqual([]);
    expect(`command:${detail.causedByCommand}`).toBe(detail.event.causationId);
    expect(detail.caused).toEqual([]);
    expect(detail.correlated.map((e) => e.type)).toEqual([
      "PatientRegistered",
      "PatientDemographicsUpdated",
      "EncounterStarted",
      "OrderCreated",
      "OrderStatusChanged",
      "EncounterCompleted",
    ]);
    expect(detail.correlated.every((e) => e.patientId === record.patientId)).toBe(true);

    // A chain of events caused by events (a process manager would write these): A -> B -> C.
    const patientId = randomUUID();
    const stream = patientStream(patientId);
    const ids = [randomUUID(), randomUUID(), randomUUID()] as const;
    const correlationId = `chain-${randomUUID()}`;
    const base = { occurredAt: new Date(), userId: clinician.id, correlationId };
    const events: NewEvent[] = [
      {
        ...base,
        eventId: ids[0],
        causationId: null,
        type: "PatientRegistered",
        data: { patientId, mrn: uniqueMrn(), givenName: "Ada", familyName: "Chain", dateOfBirth: "1990-01-01", sex: "female", email: null, phone: null, address: null },
      },
      {
        ...base,
        eventId: ids[1],
        causationId: ids[0],
        type: "PatientDemographicsUpdated",
        data: { patientId, changes: { phone: "+1 555 0001" }, previous: { phone: null }, reason: "caused by registration" },
      },
      {
        ...base,
        eventId: ids[2],
        causationId: ids[1],
        type: "PatientDemographicsUpdated",
        data: { patientId, changes: { phone: "+1 555 0002" }, previous: { phone: "+1 555 0001" }, reason: "caused by the first update" },
      },
    ];
    await appendToStream(storeFor(db()), stream, events, { expectedVersion: "no_stream", aggregateType: "patient" });

    const middle = await audit.event({ eventId: ids[1] });
    expect(middle.causedBy.map((e) => e.eventId)).toEqual([ids[0]]);
    expect(middle.causedByCommand).toBeNull();
    expect(middle.caused.map((e) => [e.eventId, e.depth])).toEqual([[ids[2], 1]]);
    const top = await audit.event({ eventId: ids[0] });
    expect(top.causedBy).toEqual([]);
    expect(top.causedByCommand).toBeNull();
    expect(top.caused.map((e) => [e.eventId, e.depth])).toEqual([
      [ids[1], 1],
      [ids[2], 2],
    ]);
    const last = await audit.event({ eventId: ids[2] });
    expect(last.causedBy.map((e) => e.eventId)).toEqual([ids[1], ids[0]]);
    expect(last.correlated.map((e) => e.eventId)).toEqual([...ids]);

    expect(await codeOf(audit.event({ eventId: randomUUID() }))).toBe("NOT_FOUND");
    expect(await codeOf(audit.event({ eventId: "not-a-uuid" }))).toBe("BAD_REQUEST");

    const reads = await accessRows(db(), compliance.id);
    const eventReads = reads.filter((r) => r.procedure === "audit.event");
    expect(new Set(eventReads.map((r) => r.patientId))).toEqual(new Set([record.patientId, patientId]));
  });

  it("finds patients for compliance and shows a record's timeline, filtered and paged", async () => {
    const { clinician, compliance } = users();
    const record = await makeRecord(db(), clinician);
    const audit = (await callerAs(db(), compliance)).audit;

    const found = await audit.patients({ search: (await db().prisma.rmPatient.findUniqueOrThrow({ where: { patientId: record.patientId }, select: { mrn: true } })).mrn });
    expect(found.items.map((p) => p.patientId)).toEqual([record.patientId]);

    const timeline = await audit.patientTimeline({ patientId: record.patientId });
    expect(timeline.items.map((e) => e.type)).toEqual([
      "EncounterCompleted",
      "OrderStatusChanged",
      "OrderCreated",
      "EncounterStarted",
      "PatientDemographicsUpdated",
      "PatientRegistered",
    ]);
    expect(timeline.nextBefore).toBeNull();
    expect(timeline.patient).toMatchObject({ patientId: record.patientId, givenName: "Grace", dateOfBirth: "1956-12-09", version: 2 });
    expect(timeline.orders[record.orderId]).toEqual({ kind: "procedure", description: "Dressing change" });
    expect(timeline.encounters[record.encounterId]).toMatchObject({ encounterType: "outpatient" });
    const update = timeline.items.find((e) => e.type === "PatientDemographicsUpdated")!;
    expect(update).toMatchObject({ userId: clinician.id, data: { reason: "Patient gave a new number" } });

    const onlyDemographics = await audit.patientTimeline({ patientId: record.patientId, eventTypes: ["PatientDemographicsUpdated", "PatientRegistered"] });
    expect(onlyDemographics.items.map((e) => e.type)).toEqual(["PatientDemographicsUpdated", "PatientRegistered"]);

    const first = await audit.patientTimeline({ patientId: record.patientId, limit: 4 });
    const second = await audit.patientTimeline({ patientId: record.patientId, limit: 4, before: first.nextBefore! });
    expect([...first.items, ...second.items].map((e) => e.eventId)).toEqual(timeline.items.map((e) => e.eventId));
    expect(second.nextBefore).toBeNull();

    expect(await codeOf(audit.patientTimeline({ patientId: randomUUID() }))).toBe("NOT_FOUND");

    const reads = await accessRows(db(), compliance.id);
    expect(reads.filter((r) => r.procedure === "audit.patients").map((r) => r.patientId)).toEqual([record.patientId]);
    expect(reads.filter((r) => r.procedure === "audit.patientTimeline").map((r) => r.patientId)).toEqual(Array(4).fill(record.patientId));
  });

  it("travels in time: the record exactly as it had been recorded at an instant", async () => {
    const { clinician, compliance } = users();
    const api = await callerAs(db(), clinician);
    const audit = (await callerAs(db(), compliance)).audit;
    const beforeAll = new Date(Date.now() - 1);
    await sleep(15);

    const { patientId } = await api.patient.register(newPatient());
    const { encounterId: first } = await api.encounter.start({ patientId, encounterType: "outpatient" });
    const { orderId } = await api.order.create({ patientId, encounterId: first, kind: "procedure", details: { description: "Dressing change" } });
    await sleep(15);
    await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0111" }, reason: "first correction" });
    await sleep(15);
    const between = new Date();
    await sleep(15);
    await api.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { phone: "+1 555 0122", email: "g@example.test" }, reason: "second correction" });
    await api.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "in_progress" });
    const { encounterId: later } = await api.encounter.start({ patientId, encounterType: "telehealth" });

    const then = await audit.patientAsOf({ patientId, asOf: between });
    expect(then.asOf).toEqual(between);
    expect(then.patient).toMatchObject({ version: 2, currentVersion: 3, state: { phone: "+1 555 0111", email: null } });
    expect(then.current).toMatchObject({ phone: "+1 555 0122", email: "g@example.test" });
    expect(then.encounters.map((e) => e.state.encounterId)).toEqual([first]);
    expect(then.encounters.map((e) => e.state.encounterId)).not.toContain(later);
    expect(then.laterEncounters).toBe(1);
    expect(then.orders).toHaveLength(1);
    expect(then.orders[0]).toMatchObject({ version: 1, currentVersion: 2, currentStatus: "in_progress", state: { orderId, status: "placed" } });
    expect(then.laterOrders).toBe(0);

    // Before registration: nothing; exactly at an event's recorded time: that event included.
    const nothing = await audit.patientAsOf({ patientId, asOf: beforeAll });
    expect(nothing).toMatchObject({ patient: null, encounters: [], orders: [], laterEncounters: 2, laterOrders: 1 });
    const timeline = await audit.patientTimeline({ patientId, eventTypes: ["PatientRegistered"] });
    const registeredAt = timeline.items[0]!.recordedAt;
    const atRegistration = await audit.patientAsOf({ patientId, asOf: registeredAt });
    expect(atRegistration.patient).toMatchObject({ version: 1, state: { phone: "+1 555 0100" } });
    const justBefore = await audit.patientAsOf({ patientId, asOf: new Date(registeredAt.getTime() - 1) });
    expect(justBefore.patient).toBeNull();

    const now = await audit.patientAsOf({ patientId, asOf: new Date(Date.now() + 1000) });
    expect(now.patient).toMatchObject({ version: 3, currentVersion: 3 });
    expect(now.encounters.map((e) => e.state.encounterId).sort()).toEqual([first, later].sort());

    expect(await codeOf(audit.patientAsOf({ patientId: randomUUID(), asOf: between }))).toBe("NOT_FOUND");

    const reads = await accessRows(db(), compliance.id);
    expect(reads.filter((r) => r.procedure === "audit.patientAsOf").map((r) => r.patientId)).toEqual(Array(5).fill(patientId));
  });

  it("is for compliance only, and changes nothing", async () => {
    const { clinician, compliance } = users();
    const record = await makeRecord(db(), clinician);
    const asClinician = await callerAs(db(), clinician);
    expect(await codeOf(asClinician.audit.patientTimeline({ patientId: record.patientId }))).toBe("FORBIDDEN");
    expect(await codeOf(asClinician.audit.events({}))).toBe("FORBIDDEN");
    const asCompliance = await callerAs(db(), compliance);
    expect(await codeOf(asCompliance.patient.updateDemographics({ patientId: record.patientId, expectedVersion: 2, changes: { phone: "+1 555 0999" }, reason: "no" }))).toBe(
      "FORBIDDEN",
    );
    const options = await asCompliance.audit.filterOptions();
    expect(options.eventTypes).toEqual(expect.arrayContaining(["PatientRegistered", "OrderStatusChanged", "EncounterCompleted"]));
    expect(options.aggregateTypes).toEqual(["patient", "encounter", "order", "user", "operations"]);
    expect(options.eventGroups.map((g) => g.label)).not.toContain("Other");
    expect(options.eventGroups.find((g) => g.category === "safety")?.types).toEqual(expect.arrayContaining(["AllergyRecorded", "CriticalResultFlagged", "MedicationAllergyOverridden"]));
  });

  it("places a visit entered after the fact at the times the clinician gave on the 'as it happened' axis", async () => {
    const { clinician, compliance } = users();
    const api = await callerAs(db(), clinician);
    const audit = (await callerAs(db(), compliance)).audit;
    const { patientId } = await api.patient.register(newPatient());
    // Seen in clinic an hour ago for twenty minutes, typed in only now.
    const startedAt = new Date(Date.now() - 3_600_000);
    const endedAt = new Date(startedAt.getTime() + 20 * 60_000);
    const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Seen in clinic", startedAt });
    await api.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Reassured", dischargeDisposition: "home", endedAt });
    const rows = await db().sql<{ event_type: string; occurred_at: Date; recorded_at: Date }>(
      "SELECT event_type, occurred_at, recorded_at FROM events WHERE stream_id = $1 ORDER BY version",
      [encounterStream(encounterId)],
    );
    expect(rows.map((r) => [r.event_type, r.occurred_at.toISOString()])).toEqual([
      ["EncounterStarted", startedAt.toISOString()],
      ["EncounterCompleted", endedAt.toISOString()],
    ]);
    expect(rows.every((r) => r.recorded_at.getTime() > endedAt.getTime())).toBe(true);
    const during = await audit.recordAt({ patientId, moment: { happenedBy: new Date(startedAt.getTime() + 60_000) } });
    expect(during.encounters.map((e) => (e.state as { status: string }).status)).toEqual(["in_progress"]);
    const after = await audit.recordAt({ patientId, moment: { happenedBy: new Date(endedAt.getTime() + 60_000) } });
    expect(after.encounters.map((e) => (e.state as { status: string }).status)).toEqual(["completed"]);
  });

  it("travels on both time axes, compares any two moments, and steps through the record's versions", async () => {
    const { clinician, compliance } = users();
    const api = await callerAs(db(), clinician);
    const audit = (await callerAs(db(), compliance)).audit;
    const { patientId } = await api.patient.register(newPatient());
    const registered = new Date();
    await sleep(20);
    const clinicalTimeOfLateFact = new Date();
    await sleep(20);
    await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0111" }, reason: "new number" });
    await sleep(20);
    const beforeLateEntry = new Date();
    await sleep(20);
    // Entered late: the email was given at the earlier visit, typed in only now.
    const late: NewEvent = {
      type: "PatientDemographicsUpdated",
      data: { patientId, changes: { email: "late@example.test" }, previous: { email: null }, reason: "entered from the paper form" },
      eventId: randomUUID(),
      occurredAt: clinicalTimeOfLateFact,
      userId: clinician.id,
      correlationId: `req-${randomUUID()}`,
      causationId: null,
    };
    await appendToStream(storeFor(db()), patientStream(patientId), [late], { expectedVersion: 2, aggregateType: "patient" });
    const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Follow-up" });

    // As it happened by the late fact's clinical time: the email is there (the phone change came later).
    const happened = await audit.recordAt({ patientId, moment: { happenedBy: new Date(clinicalTimeOfLateFact.getTime() + 5) } });
    expect(happened.patient?.state).toMatchObject({ email: "late@example.test", phone: "+1 555 0100" });
    expect(happened.encounters).toHaveLength(0);
    // What we knew before the late entry about that same clinical time: no email yet.
    const knownThen = await audit.recordAt({ patientId, moment: { recordedAt: beforeLateEntry, happenedBy: new Date(clinicalTimeOfLateFact.getTime() + 5) } });
    expect(knownThen.patient?.state).toMatchObject({ email: null, phone: "+1 555 0100" });
    // As recorded before the late entry: the phone change, no email.
    const recorded = await audit.recordAt({ patientId, moment: { recordedAt: beforeLateEntry } });
    expect(recorded.patient).toMatchObject({ version: 2, currentVersion: 3, state: { email: null, phone: "+1 555 0111" } });
    expect(recorded.laterEncounters).toBe(1);
    expect((await audit.recordAt({ patientId, moment: { recordedAt: new Date(registered.getTime() - 5_000) } })).patient).toBeNull();

    // Two moments: before the late entry vs now. Exactly the email (by the late event) and the new encounter.
    const { changes } = await audit.recordDiff({ patientId, a: { recordedAt: beforeLateEntry }, b: {} });
    const patientChange = changes.find((c) => c.kind === "patient")!;
    expect(patientChange.change).toBe("changed");
    expect(patientChange.fields.map((f) => f.field)).toEqual(["email"]);
    expect(patientChange.fields[0]).toMatchObject({ change: "added", before: null, after: "late@example.test" });
    expect(patientChange.fields[0]!.events.map((e) => [e.eventId, e.inMoment])).toEqual([[late.eventId, "b"]]);
    const encounterChange = changes.find((c) => c.kind === "encounter")!;
    expect(encounterChange).toMatchObject({ id: encounterId, change: "added" });
    expect(encounterChange.fields.map((f) => f.field)).toEqual(expect.arrayContaining(["status", "encounterType", "reason"]));
    // The reverse comparison names the same fields, removed instead of added.
    const reverse = await audit.recordDiff({ patientId, a: {}, b: { recordedAt: beforeLateEntry } });
    expect(reverse.changes.find((c) => c.kind === "patient")!.fields[0]).toMatchObject({ field: "email", change: "removed" });
    expect(reverse.changes.find((c) => c.kind === "encounter")!.change).toBe("removed");
    // Same moment twice: nothing differs.
    expect((await audit.recordDiff({ patientId, a: { recordedAt: beforeLateEntry }, b: { recordedAt: beforeLateEntry } })).changes).toEqual([]);

    // The scrubber's ticks: recording order vs clinical order, and one stream alone.
    const byRecording = await audit.recordTicks({ patientId, axis: "recorded" });
    expect(byRecording.ticks.map((t) => t.type)).toEqual(["PatientRegistered", "PatientDemographicsUpdated", "PatientDemographicsUpdated", "EncounterStarted"]);
    expect(byRecording.ticks[2]!.eventId).toBe(late.eventId);
    const byHappening = await audit.recordTicks({ patientId, axis: "happened", streamId: patientStream(patientId) });
    expect(byHappening.ticks.map((t) => t.eventId)[1]).toBe(late.eventId);
    expect(byHappening.ticks).toHaveLength(3);
    expect(await codeOf(audit.recordTicks({ patientId, streamId: orderStream(randomUUID()) }))).toBe("NOT_FOUND");
    expect(await codeOf(audit.recordAt({ patientId: randomUUID(), moment: {} }))).toBe("NOT_FOUND");
    expect(await codeOf(audit.recordDiff({ patientId: randomUUID(), a: {}, b: {} }))).toBe("NOT_FOUND");

    const reads = await accessRows(db(), compliance.id);
    expect(reads.filter((r) => r.procedure === "audit.recordAt")).toHaveLength(4);
    expect(reads.filter((r) => r.procedure === "audit.recordDiff")).toHaveLength(3);
    // The ticks name every event of the record: a read of it too (not the refused one).
    expect(reads.filter((r) => r.procedure === "audit.recordTicks").map((r) => r.patientId)).toEqual([patientId, patientId]);
  });

  it("records the patients the access log names (name and MRN) as listed, as a compliance search does", async () => {
    const { clinician, compliance } = users();
    for (const u of [clinician, compliance]) await db().prisma.user.create({ data: { id: u.id, name: u.name, email: u.email, roles: u.roles } });
    const api = await callerAs(db(), clinician);
    const [a, b] = [(await api.patient.register(newPatient())).patientId, (await api.patient.register(newPatient())).patientId];
    await api.patient.byId({ patientId: a });
    await api.patient.byId({ patientId: b });
    const audit = (await callerAs(db(), compliance)).audit;
    const log = await audit.accessLog({ userId: clinician.id });
    expect(new Set(log.rows.map((r) => r.patient?.mrn))).toEqual(new Set((await db().prisma.rmPatient.findMany({ where: { patientId: { in: [a, b] } } })).map((p) => p.mrn)));
    const listed = (await db().prisma.accessLog.findMany({ where: { userId: compliance.id }, select: { patientId: true, procedure: true, screen: true } }))
      .filter((r) => r.procedure === "audit.accessLog");
    expect(listed.map((r) => r.patientId).sort()).toEqual([a, b].sort());
    expect(listed.every((r) => r.screen === "audit_access_log")).toBe(true);
    // Listed, not opened: the snooping report counts it apart from chart views.
    const { users: activity } = await audit.userActivity({ userId: compliance.id });
    expect(activity[0]).toMatchObject({ listed: 2, views: 0, chartsOpened: 0 });
  });

  it("names the patient and user a filter link holds by id, records the patient as listed, and answers null for one not on file", async () => {
    const { clinician, compliance } = users();
    for (const u of [clinician, compliance]) await db().prisma.user.create({ data: { id: u.id, name: u.name, email: u.email, roles: u.roles } });
    const { patientId } = await (await callerAs(db(), clinician)).patient.register(newPatient());
    const audit = (await callerAs(db(), compliance)).audit;
    const { mrn } = (await db().prisma.rmPatient.findUniqueOrThrow({ where: { patientId }, select: { mrn: true } }));
    const labels = await audit.filterLabels({ patientId, userId: clinician.id });
    expect(labels.patient).toMatchObject({ mrn });
    expect(labels.user).toEqual({ name: clinician.name, email: clinician.email });
    const listed = await db().prisma.accessLog.findMany({ where: { userId: compliance.id, procedure: "audit.filterLabels" }, select: { patientId: true, screen: true } });
    expect(listed).toEqual([{ patientId, screen: "audit_access_log" }]);
    expect(await audit.filterLabels({ patientId: randomUUID(), userId: "nobody-here" })).toEqual({ patient: null, user: null });
    expect(await codeOf(audit.filterLabels({ patientId: "not-a-uuid" }))).toBe("BAD_REQUEST");
  });
});
