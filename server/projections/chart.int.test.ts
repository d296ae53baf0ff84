// The chart (patient.byId) is one statement: it must give what the read models hold, as Prisma
// reads them (the reference below is the chart as it was read before, row by row), for a chart
// with nothing in it, a full one (more encounters than the chart shows, a provider with no user,
// timestamps with microseconds), an erased patient, and a patient that does not exist.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import type { Db } from "../eventStore";
import { PHI_ERASED } from "../eventStore/phi";
import { orderTransitions } from "../domain/order/decider";
import type { OrderStatus } from "../domain/order/events";
import { describeEachDatabase } from "../testing/db";
import { activeOrderStatuses, patientChart } from "./queries";

/** The chart read with Prisma, a statement per table (the previous implementation's reads). */
async function referenceChart(db: Db, patientId: string) {
  const patient = await db.rmPatient.findUnique({
    where: { patientId },
    select: {
      patientId: true, mrn: true, givenName: true, familyName: true, dateOfBirth: true, sex: true, email: true, phone: true,
      erasedAt: true, address: true, active: true, safety: true, version: true, registeredAt: true, updatedAt: true,
    },
  });
  if (!patient) return null;
  const encounterColumns = {
    encounterId: true, patientId: true, providerId: true, encounterType: true, status: true, reason: true, location: true,
    startedAt: true, endedAt: true, outcome: true, dischargeDisposition: true, durationMinutes: true, version: true,
  } as const;
  const orderColumns = {
    orderId: true, patientId: true, encounterId: true, providerId: true, kind: true, description: true, details: true, priority: true,
    status: true, statusReason: true, resultData: true, scheduledFor: true, createdAt: true, statusChangedAt: true, version: true,
  } as const;
  const encounters = await db.rmEncounter.findMany({ where: { patientId }, select: encounterColumns, orderBy: { startedAt: "desc" }, take: 50 });
  const orders = await db.rmOrder.findMany({ where: { patientId }, select: orderColumns, orderBy: { createdAt: "desc" }, take: 100 });
  const users = await db.user.findMany({ select: { id: true, name: true } });
  const nameOf = (id: unknown) => users.find((u) => u.id === id)?.name ?? null;
  const withName = <T extends { providerId: string }>(row: T) => ({ ...row, providerName: nameOf(row.providerId) });
  const ordersOut = orders.map((o) => ({ ...withName(o), nextStatuses: [...(orderTransitions[o.status as OrderStatus] ?? [])] }));
  return {
    patient: { ...patient, dateOfBirth: patient.dateOfBirth ? patient.dateOfBirth.toISOString().slice(0, 10) : PHI_ERASED },
    openEncounters: encounters.filter((e) => e.status === "in_progress").map(withName),
    recentEncounters: encounters.map(withName),
    encounterCount: await db.rmEncounter.count({ where: { patientId } }),
    activeOrders: ordersOut.filter((o) => activeOrderStatuses.includes(o.status as OrderStatus)),
    orders: ordersOut,
  };
}

async function addPatient(db: Db, patientId: string) {
  await db.$executeRawUnsafe(
    `INSERT INTO rm_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, email, phone, address, sort_key, safety, version, registered_at, updated_at)
     VALUES ($1::uuid, $2, 'Ada', 'Quist', '1984-02-29', 'female', 'ada@example.test', NULL, '{"city": "Leiden", "line1": "Rapenburg 1"}'::jsonb,
             'quist ada', '{"allergyStatus": "known", "allergies": [{"substance": "penicillin"}], "alerts": []}'::jsonb, 3,
             '2026-01-02 03:04:05.678912+00', '2026-02-03 04:05:06.789123+00')`,
    patientId,
    `CH${patientId.slice(0, 8)}`,
  );
}

describeEachDatabase("the chart, one statement", (db) => {
  it("gives what the read models hold: an empty chart, a full one, an erased patient, none", async () => {
    const prisma = db().prisma;
    const provider = `chart-provider-${randomUUID()}`;
    await prisma.$executeRawUnsafe(`INSERT INTO auth_users (id, name, email, email_verified, roles) VALUES ($1, 'Dr. Chart', $2, false, '{clinician}')`, provider, `${provider}@example.test`);

    const empty = randomUUID();
    await addPatient(prisma, empty);
    expect(await patientChart(prisma, empty)).toEqual(await referenceChart(prisma, empty));
    expect((await patientChart(prisma, empty))!.recentEncounters).toEqual([]);

    const full = randomUUID();
    await addPatient(prisma, full);
    // 55 encounters (the chart shows 50, counts all), one in progress, one by a provider with no user.
    for (let i = 0; i < 55; i++) {
      await prisma.$executeRawUnsafe(
        `INSERT INTO rm_encounters (encounter_id, patient_id, provider_id, encounter_type, status, reason, location, started_at, ended_at,
                                    outcome, discharge_disposition, duration_minutes, version, updated_at)
         VALUES ($1::uuid, $2::uuid, $3, 'outpatient', $4, $5, NULL, timestamptz '2026-03-01 08:00:00.123456+00' + make_interval(hours => $6::int),
                 $7::timestamptz, NULL, NULL, $8::int, 2, now())`,
        randomUUID(),
        full,
        i === 7 ? "no-such-user" : provider,
        i === 54 ? "in_progress" : "completed",
        i % 3 === 0 ? null : `visit ${i}`,
        i,
        i === 54 ? null : `2026-03-01 09:00:00.5+00`,
        i === 54 ? null : 30 + i,
      );
    }
    for (const [i, status] of (["placed", "in_progress", "completed", "cancelled", "on_hold"] as const).entries()) {
      await prisma.$executeRawUnsafe(
        `INSERT INTO rm_orders (order_id, patient_id, encounter_id, provider_id, kind, description, details, priority, priority_rank, status,
                                status_reason, result_data, scheduled_for, created_at, status_changed_at, version)
         VALUES ($1::uuid, $2::uuid, NULL, $3, 'lab', $4, $5::jsonb, 'routine', 2, $6, $7, $8::jsonb, $9::timestamptz,
                 timestamptz '2026-04-01 10:00:00.999999+00' + make_interval(mins => $10::int), now(), 1)`,
        randomUUID(),
        full,
        provider,
        `CBC ${i}`,
        JSON.stringify({ code: "CBC", panel: ["wbc", "rbc"], fasting: i % 2 === 0, "ünïcødé \"quoted\"": null }),
        status,
        status === "cancelled" ? "duplicate" : null,
        status === "completed" ? JSON.stringify({ wbc: 6.1, flags: [] }) : null,
        i === 0 ? "2026-05-01 07:30:00+00" : null,
        i,
      );
    }
    const chart = await patientChart(prisma, full);
    expect(chart).toEqual(await referenceChart(prisma, full));
    expect(chart!.recentEncounters).toHaveLength(50);
    expect(chart!.encounterCount).toBe(55);
    expect(chart!.openEncounters).toHaveLength(1);
    expect(chart!.orders).toHaveLength(5);
    expect(chart!.activeOrders.map((o) => o.status).sort()).toEqual(["in_progress", "on_hold", "placed"]);
    expect(chart!.patient.registeredAt).toEqual(new Date("2026-01-02T03:04:05.678Z"));
    expect(chart!.patient.dateOfBirth).toBe("1984-02-29");

    // Erased: the read model keeps no date of birth; the chart says so.
    await prisma.$executeRawUnsafe(
      `UPDATE rm_patients SET date_of_birth = NULL, email = NULL, address = NULL, erased_at = '2026-06-01 00:00:00+00' WHERE patient_id = $1::uuid`,
      empty,
    );
    const erased = await patientChart(prisma, empty);
    expect(erased).toEqual(await referenceChart(prisma, empty));
    expect(erased!.patient.dateOfBirth).toBe(PHI_ERASED);

    expect(await patientChart(prisma, randomUUID())).toBeNull();
  });
});
