// The public health check: "up" for anyone, details (estimates, not counts) for signed-in users.
import { expect, it } from "vitest";
import { describeEachDatabase } from "../../testing/db";
import { callerFor, newPatient } from "../../testing/caller";

describeEachDatabase("system.health", (db) => {
  it("tells a signed-out caller only that it is up", async () => {
    expect(await callerFor(db(), null).system.health()).toEqual({ status: "up" });
  });

  it("gives a signed-in user the database, the migrations and estimates that cover what was written", async () => {
    await callerFor(db(), ["clinician"]).patient.register(newPatient());
    const exact = await db().prisma.event.count();
    const health = await callerFor(db(), []).system.health();
    expect(health.status).toBe("up");
    const details = health.details!;
    expect(details.mode).toBe(db().mode);
    expect(details.migration.pending).toBe(0);
    expect(details.migration.latest).toMatch(/^\d{14}_/);
    expect(details.estimates.events).toBeGreaterThanOrEqual(exact);
    if (details.estimates.streams !== null) expect(details.estimates.streams).toBeGreaterThanOrEqual(0);
    expect(details.serverTime).toBeInstanceOf(Date);
  });
});
