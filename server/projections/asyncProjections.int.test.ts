// The async projections applied batch by batch to tables of their own: what they hold, that the
// result never depends on where the batches are cut, that a replay from scratch gives the same
// tables, and what the pages' reports compute from them.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { appendToStream, readStream, storeOn, type Store, type StoredEvent } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { encounterStream, orderStream, patientStream } from "../domain/streams";
import type { Database } from "../db/client";
import { describeEachDatabase } from "../testing/db";
import { applyInBatches, privateTarget } from "../testing/projections";
import { census } from "./census";
import { projectionLag } from "./marks";
import { orderTurnaround } from "./orderTurnaround";
import { asyncProjections } from "./registry";
import { activityReport, censusReport, overdueOrders, turnaroundReport } from "./reports";
import type { Projection, ProjectionTarget } from "./types";
import { foldActivity, userActivity } from "./userActivity";

const now = new Date("2026-03-10T15:00:00.000Z");
const at = (iso: string) => new Date(iso);
const minutesBefore = (m: number) => new Date(now.getTime() - m * 60_000);
const plus = (d: Date, m: number) => new Date(d.getTime() + m * 60_000);

type Step = { stream: string; aggregateType: string; type: string; data: Record<string, unknown>; at: Date; user: string };

/** A small hospital day, written to the log in this order. */
function scenario() {
  const u1 = `user-${randomUUID()}`;
  const u2 = `user-${randomUUID()}`;
  const p1 = randomUUID();
  const p2 = randomUUID();
  const steps: Step[] = [];
  const register = (patientId: string, when: Date, user: string) =>
    steps.push({
      stream: patientStream(patientId),
      aggregateType: "patient",
      type: "PatientRegistered",
      data: { patientId, mrn: `T${patientId.replace(/-/g, "").slice(0, 10).toUpperCase()}`, givenName: "Test", familyName: "Patient", dateOfBirth: "1970-01-01", sex: "unknown", email: null, phone: null, address: null },
      at: when,
      user,
    });
  const order = (o: { patientId: string; kind: string; priority: string; placed: Date; user: string; scheduledFor?: Date; changes?: [string, Date, string][] }) => {
    const orderId = randomUUID();
    steps.push({
      stream: orderStream(orderId),
      aggregateType: "order",
      type: "OrderCreated",
      data: {
        orderId,
        patientId: o.patientId,
        encounterId: null,
        providerId: o.user,
        kind: o.kind,
        details: { description: `${o.kind} ${orderId.slice(0, 4)}` },
        priority: o.priority,
        scheduledFor: o.scheduledFor?.toISOString() ?? null,
      },
      at: o.placed,
      user: o.user,
    });
    let previous = "placed";
    for (const [status, when, user] of o.changes ?? []) {
      const resulting = status === "completed" && (o.kind === "lab" || o.kind === "imaging");
      steps.push({
        stream: orderStream(orderId),
        aggregateType: "order",
        type: "OrderStatusChanged",
        data: {
          orderId,
          previousStatus: previous,
          newStatus: status,
          reason: status === "cancelled" ? "Duplicate order" : null,
          resultData: resulting ? { value: 1 } : null,
          changedAt: when.toISOString(),
        },
        at: when,
        user,
      });
      previous = status;
    }
    return orderId;
  };
  const encounter = (e: { patientId: string; type: string; started: Date; ended?: Date; user: string; endUser?: string }) => {
    const encounterId = randomUUID();
    steps.push({
      stream: encounterStream(encounterId),
      aggregateType: "encounter",
      type: "EncounterStarted",
      data: { encounterId, patientId: e.patientId, providerId: e.user, encounterType: e.type, startedAt: e.started.toISOString(), reason: null },
      at: e.started,
      user: e.user,
    });
    if (e.ended) {
      steps.push({
        stream: encounterStream(encounterId),
        aggregateType: "encounter",
        type: "EncounterCompleted",
        data: { encounterId, endedAt: e.ended.toISOString(), outcome: "Well", dischargeDisposition: "home", durationMinutes: Math.round((e.ended.getTime() - e.started.getTime()) / 60_000) },
        at: e.ended,
        user: e.endUser ?? e.user,
      });
    }
    return encounterId;
  };

  register(p1, at("2026-03-10T03:10:00Z"), u2); // a night registration
  register(p2, at("2026-03-10T08:00:00Z"), u1);
  // Four stat labs completed today in 30, 60, 90 and 120 minutes; one cancelled imaging.
  const base = at("2026-03-10T09:00:00Z");
  for (const m of [30, 60, 90, 120]) {
    order({ patientId: p1, kind: "lab", priority: "stat", placed: base, user: u1, changes: [["in_progress", plus(base, 5), u2], ["completed", plus(base, m), u2]] });
  }
  order({ patientId: p2, kind: "imaging", priority: "routine", placed: base, user: u1, changes: [["cancelled", plus(base, 15), u1]] });
  // Open: an urgent lab 5 h old (overdue by 60 min), a routine one 2 h old (not), and a routine
  // one placed 30 h ago but scheduled for an hour ago (not overdue: its clock starts then).
  const overdue = order({ patientId: p2, kind: "lab", priority: "urgent", placed: minutesBefore(300), user: u1, changes: [["in_progress", minutesBefore(200), u2]] });
  order({ patientId: p2, kind: "lab", priority: "routine", placed: minutesBefore(120), user: u1 });
  order({ patientId: p1, kind: "procedure", priority: "routine", placed: minutesBefore(30 * 60), scheduledFor: minutesBefore(60), user: u1 });
  // Encounters: one admitted today and open; one from yesterday discharged today; one done days ago.
  encounter({ patientId: p1, type: "inpatient", started: at("2026-03-10T10:00:00Z"), user: u1 });
  encounter({ patientId: p2, type: "emergency", started: at("2026-03-09T22:00:00Z"), ended: at("2026-03-10T02:30:00Z"), user: u2 });
  encounter({ patientId: p2, type: "outpatient", started: at("2026-03-07T10:00:00Z"), ended: at("2026-03-07T10:30:00Z"), user: u1 });
  return { u1, u2, p1, p2, steps, overdue };
}

/** Writes the steps (one append each, in order) and reads them back in commit order. */
async function writeAndRead(store: Store, steps: Step[]): Promise<StoredEvent[]> {
  const streams = new Set<string>();
  for (const s of steps) {
    streams.add(s.stream);
    await appendToStream(
      store,
      s.stream,
      [{ type: s.type, data: s.data, eventId: randomUUID(), occurredAt: s.at, userId: s.user, correlationId: randomUUID(), causationId: null }],
      { expectedVersion: "any", aggregateType: s.aggregateType },
    );
  }
  const all = (await Promise.all([...streams].map((id) => readStream(store, id)))).flat();
  // One append per transaction, each committed before the next: position order is commit order.
  return all.sort((a, b) => a.globalPosition - b.globalPosition);
}

/** Every owned table's rows, sorted, as comparable JSON. */
async function dump(db: Database, projection: Projection, target: ProjectionTarget): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of projection.tables) {
    const rows = await db.prisma.$queryRawUnsafe<{ r: string }[]>(`SELECT row_to_json(x)::text AS r FROM ${target.table(table)} x`);
    out[table] = rows.map((row) => row.r).sort();
  }
  return out;
}

describeEachDatabase("async projections", (db) => {
  let store: Store;
  let world: ReturnType<typeof scenario>;
  let events: StoredEvent[];
  const targets: { drop: () => Promise<void> }[] = [];
  const fresh = async (projection: Projection) => {
    const t = await privateTarget(db(), projection);
    targets.push(t);
    return t.target;
  };

  beforeAll(async () => {
    store = storeOn(db(), eventRegistry);
    world = scenario();
    events = await writeAndRead(store, world.steps);
  });
  afterAll(async () => {
    for (const t of targets) await t.drop();
  });

  it("registers the three projections, each with its tables and a description", () => {
    expect(asyncProjections.map((p) => p.name)).toEqual(["order_turnaround", "user_activity", "census"]);
    for (const p of asyncProjections) {
      expect(p.tables.length).toBeGreaterThan(0);
      expect(p.description.length).toBeGreaterThan(20);
    }
  });

  it.each(asyncProjections.map((p) => [p.name, p] as const))("%s: any cut of the batches, and a replay from scratch, give the same tables", async (_name, projection) => {
    const whole = await fresh(projection);
    await applyInBatches(db(), projection, events, whole);
    const expected = await dump(db(), projection, whole);
    expect(Object.values(expected).some((rows) => rows.length > 0)).toBe(true);

    const one = await fresh(projection);
    await applyInBatches(db(), projection, events, one, events.map((_, i) => i));
    expect(await dump(db(), projection, one)).toEqual(expected);

    // Cuts at pseudo-random places, the same each run (a fixed seed).
    let seed = 7;
    const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    for (let round = 0; round < 3; round++) {
      const cuts = Array.from({ length: 4 }, () => Math.floor(random() * events.length));
      const cut = await fresh(projection);
      await applyInBatches(db(), projection, events, cut, cuts);
      expect(await dump(db(), projection, cut), `cuts ${cuts.join(",")}`).toEqual(expected);
    }

    // Replayed from scratch into new tables: the same again.
    const replay = await fresh(projection);
    await applyInBatches(db(), projection, events, replay, [3, 11]);
    expect(await dump(db(), projection, replay)).toEqual(expected);
  });

  it("order turnaround: percentiles from each order's own duration, per day and kind and priority", async () => {
    const target = await fresh(orderTurnaround);
    await applyInBatches(db(), orderTurnaround, events, target, [5]);
    const report = await turnaroundReport(db().prisma, { days: 7, timeZone: "UTC", now }, target);
    const statLab = report.daily.find((d) => d.day === "2026-03-10" && d.kind === "lab" && d.priority === "stat");
    // [30, 60, 90, 120]: the median 75, the 90th percentile 90 + 0.7 * 30 = 111 (linear interpolation).
    expect(statLab).toMatchObject({ completed: 4, cancelled: 0, p50Minutes: 75, p90Minutes: 111 });
    expect(report.daily.find((d) => d.kind === "imaging")).toMatchObject({ completed: 0, cancelled: 1, p50Minutes: null, cancelledP50Minutes: 15 });
    expect(report.summary.find((s) => s.kind === "lab" && s.priority === "urgent")).toMatchObject({ open: 1, overdue: 1, completed: 0 });
    expect(report.summary.find((s) => s.kind === "lab" && s.priority === "routine")).toMatchObject({ open: 1, overdue: 0 });
    expect(report.summary.find((s) => s.kind === "procedure")).toMatchObject({ open: 1, overdue: 0 });
    expect(report.thresholds).toEqual({ stat: 60, urgent: 240, routine: 1440 });

    const overdue = await overdueOrders(db().prisma, { now, limit: 50 }, target);
    expect(overdue.map((o) => [o.orderId, o.priority, o.status, o.overdueMinutes])).toEqual([[world.overdue, "urgent", "in_progress", 60]]);
  });

  it("order turnaround: a day is the viewer's local day", async () => {
    const target = await fresh(orderTurnaround);
    await applyInBatches(db(), orderTurnaround, events, target);
    // 09:30-11:00 UTC on the 10th is still the 10th in Tokyo (UTC+9) but after 18:00 there.
    const tokyo = await turnaroundReport(db().prisma, { days: 7, timeZone: "Asia/Tokyo", now }, target);
    expect(tokyo.daily.filter((d) => d.kind === "lab").map((d) => d.day)).toEqual(["2026-03-10"]);
    // In Honolulu (UTC-10) 09:30 UTC is 23:30 on the 9th; 10:00, 10:30 and 11:00 fall on the 10th.
    const honolulu = await turnaroundReport(db().prisma, { days: 7, timeZone: "Pacific/Honolulu", now }, target);
    expect(honolulu.daily.filter((d) => d.kind === "lab").map((d) => [d.day, d.completed, d.p50Minutes])).toEqual([
      ["2026-03-10", 3, 90],
      ["2026-03-09", 1, 30],
    ]);
  });

  it("census: open encounters by type, admissions and discharges today", async () => {
    const target = await fresh(census);
    await applyInBatches(db(), census, events, target, [2, 9]);
    const report = await censusReport(db().prisma, { timeZone: "UTC", now }, target);
    expect(report.byType).toEqual([
      { encounterType: "emergency", open: 0, admittedToday: 0, dischargedToday: 1 },
      { encounterType: "inpatient", open: 1, admittedToday: 1, dischargedToday: 0 },
    ]);
    expect(report.byProvider).toEqual([{ encounterType: "inpatient", providerId: world.u1, open: 1 }]);
    expect(report.dispositionsToday).toEqual([{ disposition: "home", discharged: 1 }]);
  });

  it("activity: events per user and day, distinct patients, night events, by hour", async () => {
    const target = await fresh(userActivity);
    // Activity counts when each event was recorded; the scenario's day was entered as it happened.
    const live = events.map((e) => ({ ...e, metadata: { ...e.metadata, recordedAt: e.metadata.occurredAt } }));
    await applyInBatches(db(), userActivity, live, target, [1, 4, 13]);
    const report = await activityReport(db().prisma, { days: 7, timeZone: "UTC", now }, target);
    const day = (user: string, d: string) => report.userDays.find((r) => r.userId === user && r.day === d);
    const countOf = (user: string, from: Date) =>
      world.steps.filter((s) => s.user === user && s.at >= from && s.at < plus(from, 24 * 60) && s.at <= now).length;
    const today = at("2026-03-10T00:00:00Z");
    expect(day(world.u1, "2026-03-10")).toMatchObject({ events: countOf(world.u1, today), patients: 2, nightEvents: 0 });
    // u2: the 03:10 registration and the 02:30 discharge are night work; every status change of
    // p1's and p2's orders makes two patients (looked up through the orders' streams).
    expect(day(world.u2, "2026-03-10")).toMatchObject({ events: countOf(world.u2, today), patients: 2, nightEvents: 2 });
    expect(day(world.u2, "2026-03-09")).toMatchObject({ events: 1, patients: 1, nightEvents: 1 });
    expect(report.byHour.find((h) => h.userId === world.u2 && h.hour === 3)).toEqual({ hour: 3, userId: world.u2, events: 1 });
    expect(report.typesByUser[world.u2]?.[0]).toEqual({ eventType: "OrderStatusChanged", events: 9 });

    const one = await activityReport(db().prisma, { days: 7, timeZone: "UTC", now, userId: world.u1 }, target);
    expect(one.userIds).toEqual([world.u1]);
  });

  it("activity: days and hours in zones a half or three quarters of an hour off UTC", async () => {
    const [first] = events;
    const recordedAt = (iso: string) => ({ ...first!, metadata: { ...first!.metadata, recordedAt: at(iso), occurredAt: at(iso) } });
    const target = await fresh(userActivity);
    // 18:40 UTC on the 9th is 00:10 on the 10th in Kolkata (UTC+5:30); 10:20 UTC on the 9th is
    // 00:05 on the 10th on the Chatham Islands (UTC+13:45 in March).
    await applyInBatches(db(), userActivity, [recordedAt("2026-03-09T18:40:00Z"), recordedAt("2026-03-09T10:20:00Z")], target);
    const user = first!.metadata.userId;
    const kolkata = await activityReport(db().prisma, { days: 1, timeZone: "Asia/Kolkata", now, userId: user }, target);
    expect(kolkata.userDays.map((d) => [d.day, d.events, d.nightEvents])).toEqual([["2026-03-10", 1, 1]]);
    expect(kolkata.byHour).toEqual([{ hour: 0, userId: user, events: 1 }]);
    const chatham = await activityReport(db().prisma, { days: 2, timeZone: "Pacific/Chatham", now, userId: user }, target);
    expect(chatham.userDays.map((d) => [d.day, d.events])).toEqual([["2026-03-10", 2]]);
    expect(chatham.byHour).toEqual([
      { hour: 0, userId: user, events: 1 },
      { hour: 8, userId: user, events: 1 },
    ]);
  });

  it("activity counts a visit entered after the fact in the hour it was typed in, not the hour it happened", () => {
    const [first] = events;
    const late = { ...first!, metadata: { ...first!.metadata, occurredAt: at("2026-03-10T02:10:00Z"), recordedAt: at("2026-03-10T10:40:00Z") } };
    expect(foldActivity([late]).counts.map((c) => c.hourStart)).toEqual(["2026-03-10T10:30:00.000Z"]);
  });

  it("lag: the newest event applied against the newest of the projection's types in the log", async () => {
    const target = await fresh(census);
    await applyInBatches(db(), census, events, target);
    const lag = await projectionLag(db().prisma, census);
    expect(lag.appliedUpTo).not.toBeNull();
    expect(lag.lagSeconds).not.toBeNull();
    expect(lag.newestInLog!.getTime()).toBeGreaterThanOrEqual(lag.appliedUpTo!.getTime());
  });
});
