// The report procedures: what the pages get (names, not ids; overdue orders with their patient;
// the lag), that patient data shown is recorded in the access log, and bad input answered as such.
import { randomUUID } from "node:crypto";
import { beforeAll, expect, it } from "vitest";
import { appendToStream, readStream, type StoredEvent } from "../../eventStore";
import { orderStream } from "../../domain/streams";
import { asyncProjections } from "../../projections/registry";
import { callerFor, codeOf, newPatient, testUser } from "../../testing/caller";
import { describeEachDatabase } from "../../testing/db";
import { applyInBatches } from "../../testing/projections";
import { liveTarget } from "../../projections/types";
import type { MappedError } from "../errors";
import { createCaller } from "../root";
import { contextFor } from "../../testing/caller";

describeEachDatabase("reports procedures", (db) => {
  const clinician = testUser(["clinician"], { name: `Dr Report ${randomUUID().slice(0, 6)}` });
  let patientId: string;
  let orderId: string;

  beforeAll(async () => {
    await db().prisma.user.create({ data: { id: clinician.id, name: clinician.name, email: clinician.email, roles: ["clinician"] } });
    const api = createCaller(contextFor(db(), clinician));
    patientId = (await api.patient.register(newPatient())).patientId;
    const enc = await api.encounter.start({ patientId, encounterType: "inpatient", reason: "Observation" });
    // A stat order placed three hours ago (written with that time): overdue by two hours.
    orderId = randomUUID();
    const store = contextFor(db(), clinician).store;
    await appendToStream(
      store,
      orderStream(orderId),
      [
        {
          type: "OrderCreated",
          data: { orderId, patientId, encounterId: null, providerId: clinician.id, kind: "lab", details: { description: "Potassium" }, priority: "stat", scheduledFor: null },
          eventId: randomUUID(),
          occurredAt: new Date(Date.now() - 3 * 3_600_000),
          userId: clinician.id,
          correlationId: randomUUID(),
          causationId: null,
        },
      ],
      { expectedVersion: "no_stream", aggregateType: "order" },
    );
    // This suite's own events, applied to the live tables as the runner would.
    const streams = [`patient-${patientId}`, `encounter-${enc.encounterId}`, orderStream(orderId)];
    const events: StoredEvent[] = (await Promise.all(streams.map((s) => readStream(store, s)))).flat().sort((a, b) => a.globalPosition - b.globalPosition);
    for (const projection of asyncProjections) await applyInBatches(db(), projection, events, liveTarget);
  });

  it("turnaround: the overdue order with its patient, the thresholds, the lag; the read is in the access log", async () => {
    const api = createCaller(contextFor(db(), clinician));
    const report = await api.reports.turnaround({ days: 7, timeZone: "Europe/Paris" });
    const mine = report.overdue.find((o) => o.orderId === orderId);
    expect(mine).toMatchObject({ priority: "stat", kind: "lab", description: "Potassium", patientId, status: "placed" });
    expect(mine!.overdueMinutes).toBeGreaterThanOrEqual(119);
    expect(mine!.patient?.name).toContain("Ada");
    expect(report.thresholds).toEqual({ stat: 60, urgent: 240, routine: 1440 });
    expect(report.lag.appliedUpTo).toBeInstanceOf(Date);
    const logged = await db().prisma.accessLog.findMany({ where: { userId: clinician.id, procedure: "reports.turnaround" }, select: { patientId: true, screen: true } });
    expect(logged.map((l) => l.patientId)).toContain(patientId);
    expect(new Set(logged.map((l) => l.screen))).toEqual(new Set(["turnaround_report"]));
  });

  it("turnaround: the access log says the patient was listed in the report (it said 'read the record'), old rows too, and counts it as a listing", async () => {
    const reader = testUser(["clinician"], { name: `Dr Lister ${randomUUID().slice(0, 6)}` });
    await db().prisma.user.create({ data: { id: reader.id, name: reader.name, email: reader.email, roles: ["clinician"] } });
    const since = new Date(Date.now() - 1000);
    await createCaller(contextFor(db(), reader)).reports.turnaround({ days: 7, timeZone: "UTC" });
    // A row from before the report had a screen: the procedure alone.
    await db().prisma.accessLog.create({ data: { userId: reader.id, patientId, procedure: "reports.turnaround", correlationId: randomUUID() }, select: { id: true } });
    const audit = callerFor(db(), ["compliance"]).audit;
    const rows = (await audit.accessLog({ patientId })).rows.filter((r) => r.userId === reader.id);
    expect(rows.map((r) => r.screen)).toEqual(["listed in the order turnaround report", "listed in the order turnaround report"]);
    const readers = await audit.readers({ patientId, from: since });
    expect(readers.groups.find((g) => g.userId === reader.id)).toMatchObject({ screens: [{ screen: "listed in the order turnaround report", views: 2 }] });
    const [activity] = (await audit.userActivity({ userId: reader.id, from: since })).users;
    expect(activity).toMatchObject({ chartsOpened: 0, views: 0 });
    expect(activity!.listed).toBeGreaterThanOrEqual(2);
  });

  it("census: the open inpatient encounter under its provider's name", async () => {
    const report = await createCaller(contextFor(db(), clinician)).reports.census({ timeZone: "UTC" });
    expect(report.byType.find((t) => t.encounterType === "inpatient")?.open).toBeGreaterThanOrEqual(1);
    expect(report.byProvider).toContainEqual({ encounterType: "inpatient", providerId: clinician.id, providerName: clinician.name, open: 1 });
  });

  it("activity: the clinician's events under their name, for compliance", async () => {
    const report = await callerFor(db(), ["compliance"]).reports.activity({ days: 2, timeZone: "UTC", userId: clinician.id });
    expect(report.users).toEqual([{ id: clinician.id, name: clinician.name }]);
    const total = report.userDays.reduce((n, d) => n + d.events, 0);
    expect(total).toBe(3);
    expect(report.userDays.reduce((n, d) => Math.max(n, d.patients), 0)).toBe(1);
  });

  it("refuses a made-up time zone and out-of-range days as bad input", async () => {
    const api = callerFor(db(), ["clinician", "compliance"]);
    expect(await codeOf(api.reports.census({ timeZone: "Mars/Olympus" }))).toBe("BAD_REQUEST");
    expect(await codeOf(api.reports.turnaround({ days: 0 }))).toBe("BAD_REQUEST");
    expect(await codeOf(api.reports.activity({ days: 1000 }))).toBe("BAD_REQUEST");
    expect(await codeOf(api.reports.activity({ timeZone: "'; DROP TABLE events; --" }))).toBe("BAD_REQUEST");
  });

  it("refuses, as bad input on timeZone, a zone the browser's list has and PostgreSQL's does not; any case of a known one is fine", async () => {
    const api = callerFor(db(), ["clinician", "compliance"]);
    for (const timeZone of ["US/Pacific-New", "Canada/East-Saskatchewan"]) {
      expect(() => new Intl.DateTimeFormat("en", { timeZone })).not.toThrow();
      for (const call of [() => api.reports.census({ timeZone }), () => api.reports.turnaround({ timeZone }), () => api.reports.activity({ timeZone })]) {
        const error = await call().then(
          () => null,
          (e: unknown) => e as MappedError,
        );
        expect(error?.code, timeZone).toBe("BAD_REQUEST");
        expect(error?.message).toMatch(/^timeZone: unknown time zone/);
        expect(error?.domain).toEqual({ kind: "validation", field: "timeZone" });
      }
    }
    for (const timeZone of ["europe/paris", "Etc/GMT-14", "EST5EDT"]) expect(await codeOf(api.reports.census({ timeZone })), timeZone).toBe("OK");
  });
});
