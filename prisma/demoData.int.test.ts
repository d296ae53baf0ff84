// The demo hospital's history is recorded by the clinicians who appear in it, and seeding is
// deterministic and idempotent.
import { expect, it } from "vitest";
import { describeEachDatabase } from "../server/testing/db";
import { demoProviders, seedClinicalDemo } from "./demoData";
import { demoToSeed } from "./seed";

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

  it("start-up seeds again only a demo cut short: all its patients there is done, fewer is resumed", async () => {
    expect(await demoToSeed(db(), options.patients)).toBe(false);
    // As a start that was killed after 6 of 9 patients left it.
    expect(await demoToSeed(db(), options.patients + 3)).toBe(true);
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
