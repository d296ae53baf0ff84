// The demo hospital's history is recorded by the clinicians who appear in it, and seeding is
// deterministic and idempotent.
import { describe, expect, it } from "vitest";
import { describeEachDatabase, openTestDatabase } from "../server/testing/db";
import type { Database } from "../server/db/client";
import { parseEnv } from "../server/db/env";
import { randomUUID } from "node:crypto";
import type { SessionUser } from "../server/api/context";
import { erasePatient } from "../server/api/erasure";
import { eventRegistry } from "../server/domain/registry";
import { storeOn } from "../server/eventStore";
import { demoPatientId, demoProviders, seedClinicalDemo } from "./demoData";
import { demoPresentFor, demoToSeed, prepareDemo, seedDemo } from "./seed";

type Row = { user_id: string; stream_id: string; event_type: string };

describeEachDatabase("demo data", (db) => {
  const options = { patients: 6, longCharts: 1, snapshotEvery: 10 };

  it("records each event as the clinician who did it: encounters and orders by their provider", async () => {
    await seedClinicalDemo(db(), options);
    const providerIds = demoProviders.map((p) => p.id);
    const events = await db().prisma.$queryRawUnsafe<Row[]>(
      "SELECT user_id, stream_id, event_type FROM events WHERE user_id = ANY ($1::text[]) ORDER BY global_position",
      providerIds,
    );
    expect(events.length).toBeGreaterThan(20);
    // Several clinicians, not one.
    expect(new Set(events.map((e) => e.user_id)).size).toBeGreaterThanOrEqual(3);

    // Each encounter's and order's events are its provider's.
    const providers = new Map<string, string>();
    for (const r of await db().prisma.rmEncounter.findMany({ where: { providerId: { in: providerIds } }, select: { encounterId: true, providerId: true } })) {
      providers.set(`encounter-${r.encounterId}`, r.providerId);
    }
    for (const r of await db().prisma.rmOrder.findMany({ where: { providerId: { in: providerIds } }, select: { orderId: true, providerId: true } })) {
      providers.set(`order-${r.orderId}`, r.providerId);
    }
    const clinical = events.filter((e) => /^(encounter|order)-/.test(e.stream_id));
    expect(clinical.length).toBeGreaterThan(0);
    for (const e of clinical) {
      expect(providers.get(e.stream_id), `${e.event_type} on ${e.stream_id}`).toBe(e.user_id);
    }

    // And every author is a clinician user, so the audit views can name them.
    const users = await db().prisma.user.findMany({ where: { id: { in: providerIds } }, select: { id: true, name: true, roles: true } });
    expect(users.map((u) => u.id).sort()).toEqual([...providerIds].sort());
    for (const u of users) expect(u.roles).toContain("clinician");
  });

  it("start-up seeds again only a demo cut short or asked to grow: all its patients whole is done, fewer is resumed after the last", async () => {
    expect(await demoToSeed(db(), options)).toBeNull();
    // As a start that was killed after 6 of 9 patients left it.
    expect(await demoToSeed(db(), { ...options, patients: options.patients + 3 })).toEqual({ from: options.patients, stored: options.patients });
  });

  it("a second run writes nothing", async () => {
    const count = async () =>
      (await db().prisma.$queryRawUnsafe<{ n: number }[]>("SELECT count(*)::int AS n FROM events WHERE user_id LIKE 'demo-provider-%'"))[0]!.n;
    const before = await count();
    const users = await db().prisma.user.count();
    await seedClinicalDemo(db(), options);
    expect(await count()).toBe(before);
    expect(await db().prisma.user.count()).toBe(users);
  });
});

describe("the demo's present", () => {
  // Enough patients for orders and visits still open (some patients are under care now).
  const patients = 31;
  const e = parseEnv({ ...process.env, DATABASE_URL: "", DEMO_PATIENTS: String(patients), EVENTSTORE_SNAPSHOT_EVERY: "10", SEED_DEMO_USERS: "false" });

  it("is the last days for a first seed (histories end before now, open orders placed in the last two and a half days), and stays the one it was written with when resumed", async () => {
    const db = await openTestDatabase("embedded");
    try {
      const hourMs = 3_600_000;
      const before = Math.floor(Date.now() / hourMs) * hourMs - 2 * hourMs;
      await prepareDemo(db, e);
      const after = Math.floor(Date.now() / hourMs) * hourMs - 2 * hourMs;
      const [span] = await db.sql<{ newest: Date; oldest: Date }>("SELECT max(occurred_at) AS newest, min(occurred_at) AS oldest FROM events", []);
      expect(new Date(span!.newest).getTime()).toBeLessThanOrEqual(Date.now());
      const open = await db.prisma.rmOrder.findMany({ where: { status: { in: ["placed", "in_progress", "on_hold"] } }, select: { createdAt: true } });
      expect(open.length).toBeGreaterThan(0);
      for (const o of open) expect(o.createdAt.getTime()).toBeGreaterThan(Date.now() - 2.5 * 86_400_000);
      const visits = await db.prisma.rmEncounter.findMany({ where: { status: "in_progress" }, select: { startedAt: true, encounterType: true } });
      for (const v of visits) expect(v.startedAt.getTime()).toBeGreaterThan(Date.now() - (v.encounterType === "inpatient" ? 14.5 : 2.5) * 86_400_000);

      // Resumed later (the next start, tomorrow): the present read back is the one written with.
      const present = await demoPresentFor(db, { from: patients - 1, stored: patients }, { snapshotEvery: 10 }, Date.now() + 86_400_000);
      expect([before, after]).toContain(present);
    } finally {
      await db.close();
    }
  });
});

describe("a demo seed stopped during its last patient", () => {
  const patients = 4;
  const e = parseEnv({ ...process.env, DATABASE_URL: "", DEMO_PATIENTS: String(patients), EVENTSTORE_SNAPSHOT_EVERY: "10", SEED_DEMO_USERS: "false" });

  async function hospital(db: Database) {
    const events = await db.prisma.$queryRawUnsafe<{ stream_id: string; version: bigint; event_type: string }[]>(
      "SELECT stream_id, version, event_type FROM events ORDER BY stream_id, version",
    );
    const orders = await db.prisma.rmOrder.findMany({ select: { orderId: true, status: true }, orderBy: { orderId: "asc" } });
    const encounters = await db.prisma.rmEncounter.findMany({ select: { encounterId: true, status: true }, orderBy: { encounterId: "asc" } });
    return { events: events.map((r) => `${r.stream_id} v${r.version} ${r.event_type}`), orders, encounters, patients: await db.prisma.rmPatient.count() };
  }

  it("is completed by the next start: its encounters and orders are written, nothing twice", async () => {
    const whole = await openTestDatabase("embedded");
    const cut = await openTestDatabase("embedded");
    try {
      await prepareDemo(whole, e);
      const expected = await hospital(whole);
      expect(expected.orders.length).toBeGreaterThan(0);

      // Killed after the last patient was registered, before its first encounter: every
      // patient is there, so a count of patients took the demo for complete.
      const stop = `encounter:${patients - 1}:0:start`;
      await expect(
        seedClinicalDemo(cut, {
          patients,
          snapshotEvery: e.EVENTSTORE_SNAPSHOT_EVERY,
          beforeCommand: (label) => {
            if (label === stop) throw new Error("killed");
          },
        }),
      ).rejects.toThrow("killed");
      expect((await hospital(cut)).patients).toBe(patients);
      expect((await hospital(cut)).events.length).toBeLessThan(expected.events.length);

      await prepareDemo(cut, e);
      expect(await hospital(cut)).toEqual(expected);
      // And a start after that writes nothing.
      await prepareDemo(cut, e);
      expect(await hospital(cut)).toEqual(expected);

      // Nor after the last demo patient is erased, as a newcomer trying the console may: its
      // chart is judged whole by its commands' ids, not run again under a key that is gone.
      const admin: SessionUser = { id: "demo-admin", email: "admin@demo.test", name: "Alex Admin", roles: ["admin"] };
      await erasePatient({ store: storeOn(cut, eventRegistry), user: admin, correlationId: randomUUID() }, { patientId: demoPatientId(patients - 1), reason: "data subject request" });
      const erased = await hospital(cut);
      await prepareDemo(cut, e);
      expect(await hospital(cut)).toEqual(erased);
      // npm run db:seed likewise, with a patient erased before the last too: it replayed every
      // demo command from the first patient and stopped with exit 1 at the erased one.
      await erasePatient({ store: storeOn(cut, eventRegistry), user: admin, correlationId: randomUUID() }, { patientId: demoPatientId(1), reason: "data subject request" });
      const twoErased = await hospital(cut);
      await seedDemo(cut, e);
      expect(await hospital(cut)).toEqual(twoErased);
    } finally {
      await whole.close();
      await cut.close();
    }
  }, 60_000);
});
