// The projections procedures as the console calls them: list, rebuild with a reason, follow its
// progress to the end, and the refusals (bad input, unknown projection, second rebuild, late cancel).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../db/client";
import { callerFor, codeOf, testUser } from "../../testing/caller";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../../testing/db";

// A database of its own on PostgreSQL too: a rebuild reads the whole log, and the run's shared
// database holds whatever the other test files left in it, written while this one runs.
for (const kind of ["embedded", "postgresql"] as const) describe.skipIf(kind === "postgresql" && !pgUrl)(`projections procedures [${kind}, a database of its own]`, () => {
  let database: Database | undefined;
  let drop = async () => {};
  beforeAll(async () => {
    if (kind === "embedded") {
      database = await openTestDatabase("embedded");
      drop = () => database!.close();
    } else {
      const fresh = await openFreshPostgresDatabase(4);
      database = fresh.db;
      drop = fresh.drop;
    }
  });
  afterAll(async () => drop());
  const db = () => database!;
  it("lists every projection with its status, rebuilds one to the end, and refuses what it must", async () => {
    const admin = testUser(["admin"], { name: "Ada Admin" });
    await db().prisma.user.create({ data: { id: admin.id, name: admin.name, email: admin.email, roles: admin.roles }, select: { id: true } });
    const api = callerFor(db(), ["admin"], admin);
    const list = await api.projections.list();
    expect(list.map((p) => p.name)).toEqual(expect.arrayContaining(["patients", "encounters", "orders"]));
    const orders = list.find((p) => p.name === "orders")!;
    expect(orders).toMatchObject({ kind: "inline", needsRebuild: false, lastError: null });
    expect(["running", "rebuilding"]).toContain(orders.state);

    expect(await codeOf(api.projections.rebuild({ name: "encounters", reason: "" }))).toBe("BAD_REQUEST");
    expect(await codeOf(api.projections.rebuild({ name: "Not A Name!", reason: "because" }))).toBe("BAD_REQUEST");
    expect(await codeOf(api.projections.rebuild({ name: "no_such_projection", reason: "because" }))).toBe("NOT_FOUND");
    expect(await codeOf(api.projections.rebuildProgress({ rebuildId: randomUUID() }))).toBe("NOT_FOUND");
    expect(await codeOf(api.projections.cancelRebuild({ rebuildId: "nope" }))).toBe("BAD_REQUEST");

    const { rebuildId } = await api.projections.rebuild({ name: "encounters", reason: "after the duration fix" });
    const second = await codeOf(api.projections.rebuild({ name: "encounters", reason: "again" }));
    let progress = await api.projections.rebuildProgress({ rebuildId });
    // The first may already have finished on a small log; then a second one is allowed.
    if (progress.status === "running") expect(second).toBe("PRECONDITION_FAILED");
    for (let i = 0; i < 200 && progress.status === "running"; i++) {
      await sleep(50);
      progress = await api.projections.rebuildProgress({ rebuildId });
    }
    expect(progress, `rebuild error: ${progress.error}`).toMatchObject({ status: "finished", percent: 100, reason: "after the duration fix", etaSeconds: null });
    // The page says who started it by name, not by user id.
    expect(progress).toMatchObject({ startedBy: admin.id, startedByName: "Ada Admin" });
    expect(await codeOf(api.projections.cancelRebuild({ rebuildId }))).toBe("PRECONDITION_FAILED");
    // Let a second rebuild started above end before the database closes.
    for (let i = 0; i < 200; i++) {
      const again = (await api.projections.list()).find((p) => p.name === "encounters")!;
      if (again.state !== "rebuilding") break;
      await sleep(50);
    }
    const after = (await api.projections.list()).find((p) => p.name === "encounters")!;
    expect(after.state).toBe("running");
    expect(after.lastRebuild).toMatchObject({ status: "finished" });
  });
});
