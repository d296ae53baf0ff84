// The public health check: "up" for anyone, details (estimates, not counts) for signed-in users.
import { expect, it, vi } from "vitest";
import { captureLogLines } from "../../testing/logLines";
import { CLOCK_SKEW_WARN_SECONDS } from "../../../shared/clock";
import { describeEachDatabase } from "../../testing/db";
import { callerFor, newPatient } from "../../testing/caller";

describeEachDatabase("system.health", (db, kind) => {
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
    expect(details.estimates!.events).toBeGreaterThanOrEqual(exact);
    if (details.estimates!.streams !== null) expect(details.estimates!.streams).toBeGreaterThanOrEqual(0);
    expect(details.readOnly).toBe(false);
    if (kind === "postgresql") expect(details.lockWaits).toMatchObject({ sessions: expect.any(Number) });
    else expect(details.lockWaits).toBeNull();
    expect(details.serverTime).toBeInstanceOf(Date);
    // One machine, one clock.
    expect(Math.abs(details.clockSkewSeconds)).toBeLessThan(CLOCK_SKEW_WARN_SECONDS);
  });

  // The embedded database runs in this process and reads this process's clock: off only on a server.
  it.skipIf(kind === "embedded")("says when this process's clock is off the database's, in the answer and once in the log", async () => {
    const log = captureLogLines("warn");
    const realNow = Date.now.bind(Date);
    // Five minutes ahead, as a server whose NTP stopped.
    const ahead = vi.spyOn(Date, "now").mockImplementation(() => realNow() + 300_000);
    try {
      const first = await callerFor(db(), []).system.health();
      await callerFor(db(), []).system.health();
      expect(first.details!.clockSkewSeconds).toBeGreaterThan(295);
      expect(first.details!.clockSkewSeconds).toBeLessThan(305);
    } finally {
      ahead.mockRestore();
      log.restore();
    }
    const warnings = log.lines.filter((l) => l.includes('"component":"clock"'));
    expect(warnings.length).toBeLessThanOrEqual(1);
    // Once a minute per process: an earlier test of this process may have said it already.
    if (warnings.length === 1) expect(warnings[0]).toMatch(/clock is 3\d\d\.\d s ahead of the database's/);
  });
});
