// Sealing health: each sealer pass records its outcome (sealed, nothing to seal, refused, failed)
// without a failed record ever failing the pass; the backlog is what the log holds past the newest
// seal; audit.latestSeal hands both to compliance. On databases of their own (the backlog counts
// the whole log, which other files' appends and seals would change).
import { generateKeyPairSync } from "node:crypto";
import pg from "pg";
import { expect, it, onTestFinished } from "vitest";
import { latestSealCheckpoint, sealLog } from "../eventStore";
import { callerFor, codeOf, contextFor, newPatient } from "../testing/caller";
import { describeEachOwnDatabase, describePostgres, pgUrl } from "../testing/db";
import { captureLogLines } from "../testing/logLines";
import { runSealerLoop } from "../workers/sealer";
import type { Database } from "../db/client";
import { readSealingState, recentSealerPasses, recordSealerPass, SEALING_LATE_AFTER_SECONDS, type SealerOutcome } from "./sealerStatus";

/** Runs the sealer loop for `passes` passes, recording each through `record`. */
async function sealerPasses(db: Database, passes: number, options: { key?: ReturnType<typeof generateKeyPairSync>["privateKey"]; record: (pass: SealerOutcome) => Promise<void>; verifyWith?: [] }) {
  const stop = new AbortController();
  let n = 0;
  const key = options.key ?? generateKeyPairSync("ed25519").privateKey;
  await runSealerLoop(contextFor(db, null).store, key, {
    signal: stop.signal,
    everyMs: 1,
    ...(options.verifyWith ? { verifyWith: options.verifyWith } : {}),
    recordPass: async (pass) => {
      if (++n >= passes) stop.abort();
      await options.record(pass);
    },
  });
  return n;
}

const statusOf = async (db: Database, processId: string) =>
  (await recentSealerPasses(db.sql)).find((p) => p.processId === processId);

describeEachOwnDatabase("sealing health", (db) => {
  // One key for the suite: the sealer refuses to sign on top of a seal by a key it cannot check.
  const { privateKey: key } = generateKeyPairSync("ed25519");
  it("counts the events past the newest seal, and the age of the oldest, through the commit-order index", async () => {
    const clinician = callerFor(db(), ["clinician"]);
    const store = contextFor(db(), null).store;
    await sealLog(store, key);
    expect((await readSealingState(db().sql)).backlog).toEqual({ events: 0, capped: false, oldestSeconds: 0 });

    await clinician.patient.register(newPatient());
    await clinician.patient.register(newPatient());
    const [{ n } = { n: 0 }] = await db().sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM events WHERE global_position > (SELECT coalesce(max(to_position), 0) FROM audit_seals)",
      [],
    );
    expect(n).toBeGreaterThanOrEqual(2);
    const waiting = await readSealingState(db().sql);
    expect(waiting.backlog.events).toBe(n);
    expect(waiting.backlog.capped).toBe(false);
    expect(waiting.backlog.oldestSeconds).toBeGreaterThanOrEqual(0);
    expect(waiting.backlog.oldestSeconds).toBeLessThan(60);

    await sealLog(store, key);
    const sealed = await readSealingState(db().sql);
    expect(sealed.backlog).toEqual({ events: 0, capped: false, oldestSeconds: 0 });
    const [last] = await db().sql<{ recorded_at: Date }>("SELECT recorded_at FROM events ORDER BY global_position DESC LIMIT 1", []);
    expect(sealed.lastSeal?.sealedThrough?.getTime()).toBe(last!.recorded_at.getTime());
    expect(sealed.lastSeal!.ageSeconds).toBeLessThan(60);
    expect(sealed.lastSeal!.seq).toBeGreaterThan(waiting.lastSeal?.seq ?? 0);
    // The checkpoint is the same seal as the times: what an export carries of the newest seal.
    expect(sealed.lastSeal!.checkpoint).toEqual(await latestSealCheckpoint(store));
    expect(sealed.lastSeal!.checkpoint.seq).toBe(sealed.lastSeal!.seq);
  });

  it("records each pass: the events it sealed and when, then nothing to seal, keeping when it last sealed", async () => {
    await callerFor(db(), ["clinician"]).patient.register(newPatient());
    const processId = `test-sealer:${Math.random().toString(36).slice(2, 8)}`;
    const record = (pass: SealerOutcome) => recordSealerPass(db().prisma, processId, pass);
    await sealerPasses(db(), 1, { key, record });
    const first = await statusOf(db(), processId);
    expect(first).toMatchObject({ outcome: "sealed", reason: null });
    expect(first!.sealedEvents).toBeGreaterThan(0);
    expect(first!.lastSealedAt).toBeInstanceOf(Date);

    await sealerPasses(db(), 2, { key, record });
    const idle = await statusOf(db(), processId);
    expect(idle).toMatchObject({ outcome: "idle", sealedEvents: 0, reason: null });
    expect(idle!.lastSealedAt?.getTime()).toBe(first!.lastSealedAt!.getTime());
    expect(idle!.lastPassAt.getTime()).toBeGreaterThan(first!.lastPassAt.getTime());
    // One row per process, however many passes.
    expect((await recentSealerPasses(db().sql)).filter((p) => p.processId === processId)).toHaveLength(1);
  });

  it("records a refusal with its reason (a newest seal signed by a key it cannot check), and a failure's summary", async () => {
    await callerFor(db(), ["clinician"]).patient.register(newPatient());
    await sealLog(contextFor(db(), null).store, generateKeyPairSync("ed25519").privateKey);
    await callerFor(db(), ["clinician"]).patient.register(newPatient());
    const processId = `test-refusing:${Math.random().toString(36).slice(2, 8)}`;
    await sealerPasses(db(), 1, { key, record: (pass) => recordSealerPass(db().prisma, processId, pass), verifyWith: [] });
    const refused = await statusOf(db(), processId);
    expect(refused?.outcome).toBe("refused");
    expect(refused?.reason).toMatch(/is not this sealer's nor among AUDIT_VERIFY_PUBLIC_KEYS/);
    expect((await readSealingState(db().sql)).backlog.events).toBeGreaterThan(0);

    await recordSealerPass(db().prisma, processId, { outcome: "failed", reason: "DatabaseError [57P01]: terminating connection" });
    expect(await statusOf(db(), processId)).toMatchObject({ outcome: "failed", reason: "DatabaseError [57P01]: terminating connection" });
    // The suite's key signs on top again (sealLog without earlier keys to check against).
    await sealLog(contextFor(db(), null).store, key);
  });

  it("a status write that fails is a warning: the pass still seals, and the loop goes on", async () => {
    const { lines, restore } = captureLogLines("warn");
    onTestFinished(restore);
    await callerFor(db(), ["clinician"]).patient.register(newPatient());
    const before = (await readSealingState(db().sql)).backlog.events;
    expect(before).toBeGreaterThan(0);
    const passes = await sealerPasses(db(), 2, {
      key,
      record: () => Promise.reject(Object.assign(new Error("permission denied for table audit_sealer_status"), { code: "42501" })),
    });
    expect(passes).toBe(2);
    expect((await readSealingState(db().sql)).backlog.events).toBe(0);
    const warned = lines.filter((l) => l.includes("audit sealer status not written"));
    expect(warned).toHaveLength(2);
    expect(warned[0]).toContain('"code":"42501"');
    expect(warned[0]).not.toContain("permission denied");
  });

  it("audit.latestSeal: the backlog, the late threshold and the last day's passes, newest first; compliance only", async () => {
    const officer = callerFor(db(), ["compliance"]);
    await sealLog(contextFor(db(), null).store, key);
    await callerFor(db(), ["clinician"]).patient.register(newPatient());
    await recordSealerPass(db().prisma, "router-test:older", { outcome: "idle" });
    await recordSealerPass(db().prisma, "router-test:newer", { outcome: "refused", reason: "no signing key configured (AUDIT_SIGNING_KEY)" });
    // A process gone for two days: not shown.
    await recordSealerPass(db().prisma, "router-test:gone", { outcome: "idle" });
    await db().sql("UPDATE audit_sealer_status SET last_pass_at = now() - interval '2 days' WHERE process_id = 'router-test:gone'", []);

    const answer = await officer.audit.latestSeal();
    expect(answer.lateAfterSeconds).toBe(SEALING_LATE_AFTER_SECONDS);
    expect(answer.lateAfterSeconds).toBe(300);
    expect(answer.backlog.events).toBeGreaterThan(0);
    expect(answer.backlog.oldestSeconds).toBeGreaterThanOrEqual(0);
    expect(answer.sealedAt).toBeInstanceOf(Date);
    expect(answer.sealedThrough).toBeInstanceOf(Date);
    const ids = answer.sealers.map((s) => s.processId);
    expect(ids).not.toContain("router-test:gone");
    expect(ids.indexOf("router-test:newer")).toBeLessThan(ids.indexOf("router-test:older"));
    expect(ids.indexOf("router-test:older")).toBeGreaterThanOrEqual(0);
    const times = answer.sealers.map((s) => s.lastPassAt.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(answer.sealers.find((s) => s.processId === "router-test:newer")).toEqual({
      processId: "router-test:newer",
      lastPassAt: expect.any(Date),
      ageSeconds: expect.any(Number),
      outcome: "refused",
      sealedEvents: 0,
      reason: "no signing key configured (AUDIT_SIGNING_KEY)",
      lastSealedAt: null,
    });

    for (const roles of [["admin"], ["clinician"]] as const) expect(await codeOf(callerFor(db(), [...roles]).audit.latestSeal())).toBe("FORBIDDEN");
    expect(await codeOf(callerFor(db(), null).audit.latestSeal())).toBe("UNAUTHORIZED");
  });
});

describePostgres("sealer status write under a held lock", (db) => {
  it("gives up after its lock wait, and the app's role may not truncate the table", { timeout: 30_000 }, async () => {
    const holder = new pg.Client({ connectionString: pgUrl! });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE audit_sealer_status IN EXCLUSIVE MODE");
      const started = Date.now();
      const error = await recordSealerPass(db().prisma, "lock-test", { outcome: "idle" }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(String((error as { message?: string }).message ?? error)).toMatch(/lock timeout|55P03/);
    } finally {
      await holder.query("ROLLBACK").catch(() => undefined);
      await holder.end();
    }
    const [privileges] = await db().sql<{ write: boolean; truncate: boolean }>(
      `SELECT has_table_privilege('emr_app', 'audit_sealer_status', 'SELECT') AND has_table_privilege('emr_app', 'audit_sealer_status', 'INSERT')
              AND has_table_privilege('emr_app', 'audit_sealer_status', 'UPDATE') AND has_table_privilege('emr_app', 'audit_sealer_status', 'DELETE') AS write,
              has_table_privilege('emr_app', 'audit_sealer_status', 'TRUNCATE') AS truncate`,
      [],
    );
    expect(privileges).toEqual({ write: true, truncate: false });
  });
});
