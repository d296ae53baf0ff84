// Blue/green rebuilds of the clinical read models: identical to what commands wrote inline, under
// concurrent commands, and a cancelled or failing rebuild leaves the live tables as they were.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";

import { storeFor } from "../api/context";
import { callerAs } from "../testing/caller";
import { newPatient, testUser } from "../testing/caller";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import type { SessionUser } from "../api/context";
import { cancelRebuild, rebuildById, runRebuild, runRebuilds, startRebuild, startRebuilds } from "./rebuild";
import { encountersProjection, ordersProjection, patientsProjection } from "./clinicalProjections";
import { allProjections } from "./registry";
import type { Projection } from "./types";
import { metrics } from "../metrics/registry";

const clinician: SessionUser = { id: "clinician-rebuild", email: "r@example.test", name: "Rene Rebuild", roles: ["clinician"] };
const admin = { userId: "admin-rebuild", correlationId: "corr-rebuild" };
const keys: Record<string, string> = { rm_patients: "patient_id", rm_encounters: "encounter_id", rm_orders: "order_id" };

/** A patient's visit: registration, an edit, an encounter started and completed, two orders moved along. */
async function visit(db: Database, user = clinician) {
  const api = await callerAs(db, user);
  const { patientId } = await api.patient.register(newPatient());
  await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "Moved" });
  const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up" });
  const a = await api.order.create({ patientId, encounterId, kind: "lab", details: { code: "2345-7", description: "Glucose, serum" }, priority: "stat" });
  const b = await api.order.create({ patientId, kind: "imaging", details: { description: "Chest X-ray" } });
  await api.order.changeStatus({ orderId: a.orderId, expectedVersion: 1, newStatus: "in_progress" });
  await api.order.changeStatus({ orderId: a.orderId, expectedVersion: 2, newStatus: "completed", resultData: { value: 5.4, unit: "mmol/L" } });
  await api.order.changeStatus({ orderId: b.orderId, expectedVersion: 1, newStatus: "cancelled", reason: "Duplicate" });
  await api.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Well", dischargeDisposition: "home" });
  return patientId;
}

async function tableRows(db: Database, table: string): Promise<unknown[]> {
  const rows = await db.sql<{ row: unknown }>(`SELECT to_jsonb(t) AS row FROM ${table} t ORDER BY ${keys[table]}`, []);
  return rows.map((r) => r.row);
}

async function allRows(db: Database) {
  return { rm_patients: await tableRows(db, "rm_patients"), rm_encounters: await tableRows(db, "rm_encounters"), rm_orders: await tableRows(db, "rm_orders") };
}

async function rebuild(db: Database, projection: Projection, options: Parameters<typeof runRebuild>[2] = {}) {
  const store = storeFor(db);
  const started = await startRebuild(store, projection.name, { reason: "test", ...admin });
  return runRebuild(store, started, options);
}

const shadowCount = async (db: Database) =>
  Number((await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'rm\\_%\\_\\_rebuild' AND relkind = 'r'", []))[0]!.n);

function rebuildSuite(name: string, open: () => Promise<{ db: Database; close: () => Promise<void> }>) {
  describe(name, () => {
    let db: Database;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ db, close } = await open());
      for (let i = 0; i < 6; i++) await visit(db);
    }, 60_000);
    afterAll(async () => close?.());

    it("rebuilds each clinical read model into exactly what the commands wrote inline, and records it", async () => {
      const before = await allRows(db);
      expect(before.rm_orders.length).toBe(12);
      // The shadow is filled with its primary key only and gets the other indexes before the swap.
      const indexes = () =>
        db.sql<{ indexname: string; indexdef: string }>(
          "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename IN ('rm_patients', 'rm_encounters', 'rm_orders') ORDER BY indexname",
          [],
        );
      const indexesBefore = await indexes();
      expect(indexesBefore.map((i) => i.indexname)).toContain("rm_patients_search_idx");
      // The metrics' count of events rebuilt, per projection (emr_projection_rebuild_events_total).
      const rebuilt = async (projection: string) => (await metrics().rebuildEvents.get()).values.find((v) => v.labels.projection === projection)?.value ?? 0;
      for (const projection of [patientsProjection, encountersProjection, ordersProjection]) {
        const counted = await rebuilt(projection.name);
        const result = await rebuild(db, projection, { batchSize: 7 });
        expect(result).toMatchObject({ status: "finished", error: null });
        expect(result.swapPauseMs).toBeGreaterThanOrEqual(0);
        expect((await rebuilt(projection.name)) - counted).toBe(result.eventsDone);
      }
      expect(await allRows(db)).toEqual(before);
      expect(await shadowCount(db)).toBe(0);
      expect(await indexes()).toEqual(indexesBefore);
      // Constraint names survive the swap (code matches on rm_patients_mrn_key).
      const constraints = await db.sql<{ conname: string }>("SELECT conname FROM pg_constraint WHERE conrelid = 'rm_patients'::regclass AND contype IN ('p', 'u') ORDER BY conname", []);
      expect(constraints.map((c) => c.conname)).toEqual(["rm_patients_mrn_key", "rm_patients_pkey"]);
      // A duplicate MRN is still refused with the domain's message after the swap (the
      // registration's own author is told the patient is theirs; anyone else, that it belongs to another).
      const api = await callerAs(db, clinician);
      const p = newPatient();
      await api.patient.register(p);
      await expect(api.patient.register({ ...p, familyName: "Other" })).rejects.toThrow(/You registered a patient with MRN/);
      await expect((await callerAs(db, testUser(["clinician"]))).patient.register({ ...p, familyName: "Other" })).rejects.toThrow(/already belongs/);
      // The rebuild is in the operations stream, with who and why.
      const ops = await db.sql<{ event_type: string; user_id: string; data: { projection: string; reason?: string } }>(
        "SELECT event_type, user_id, data FROM events WHERE aggregate_type = 'operations' AND data->>'projection' = 'orders' ORDER BY global_position",
        [],
      );
      expect(ops.map((o) => o.event_type)).toEqual(["ProjectionRebuildStarted", "ProjectionRebuildFinished"]);
      expect(ops[0]).toMatchObject({ user_id: admin.userId, data: { projection: "orders", reason: "test" } });
    });

    it("a swap builds the indexes a shadow filled without them still lacks", async () => {
      const indexes = () =>
        db.sql<{ indexname: string; indexdef: string }>("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'rm_orders' ORDER BY indexname", []);
      const before = await indexes();
      const rows = await tableRows(db, "rm_orders");
      await db.sql("SELECT projection_shadow_create_bare('rm_orders') AS t", []);
      const bare = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_indexes WHERE tablename = 'rm_orders__rebuild'", []);
      expect(bare[0]!.n).toBe(1); // the primary key only
      await db.sql("INSERT INTO rm_orders__rebuild SELECT * FROM rm_orders", []);
      await db.sql("SELECT 1 AS ok FROM projection_shadow_swap('rm_orders')", []);
      expect(await indexes()).toEqual(before);
      expect(await tableRows(db, "rm_orders")).toEqual(rows);
    });

    it("rebuilds several together from one reading of the log; one cancelled among them leaves its live table as it was", async () => {
      const before = await allRows(db);
      const store = storeFor(db);
      const started = await startRebuilds(store, ["patients", "encounters", "orders"], { reason: "together", ...admin });
      expect(started.map((s) => s.projection.name)).toEqual(["patients", "encounters", "orders"]);
      expect(started.map((s) => s.eventsTotal)).toEqual(
        await Promise.all(started.map(async (s) => Number((await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE event_type = ANY ($1::text[])", [[...s.projection.eventTypes!]]))[0]!.n))),
      );
      const seen: string[] = [];
      const results = await runRebuilds(store, started, {
        batchSize: 5,
        onProgress: (p) => seen.push(p.name),
        beforeBatch: async () => {
          await cancelRebuild(storeFor(db), started[1]!.rebuildId).catch(() => {});
        },
      });
      expect(results.map((r) => r.status)).toEqual(["finished", "cancelled", "finished"]);
      expect(new Set(seen)).toEqual(new Set(["patients", "encounters", "orders"]));
      expect(await allRows(db)).toEqual(before);
      expect(await shadowCount(db)).toBe(0);
      for (const [i, status] of [[0, "finished"], [1, "cancelled"], [2, "finished"]] as const) expect((await rebuildById(db.prisma, started[i]!.rebuildId))?.status).toBe(status);
      // All or none: one of them already rebuilding refuses the whole group, and starts nothing.
      const orders = await startRebuild(store, "orders", { reason: "alone", ...admin });
      await expect(startRebuilds(store, ["patients", "orders"], { reason: "x", ...admin })).rejects.toThrow(/orders is already being rebuilt/);
      const running = await db.sql<{ name: string }>("SELECT name FROM projection_rebuilds WHERE status = 'running'", []);
      expect(running.map((r) => r.name)).toEqual(["orders"]);
      expect((await runRebuild(store, orders)).status).toBe("finished");
      await expect(startRebuilds(store, ["orders", "orders"], { reason: "x", ...admin })).rejects.toThrow(/once/);
    });

    it("refuses an unknown projection and a second rebuild of one already rebuilding, changing nothing", async () => {
      const store = storeFor(db);
      await expect(startRebuild(store, "no_such_projection", { reason: "x", ...admin })).rejects.toThrow(/projection.*not found|not found/i);
      const first = await startRebuild(store, "orders", { reason: "first", ...admin });
      await expect(startRebuild(store, "orders", { reason: "second", ...admin })).rejects.toThrow(/already being rebuilt/);
      const running = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM projection_rebuilds WHERE name = 'orders' AND status = 'running'", []);
      expect(running[0]!.n).toBe(1);
      const result = await runRebuild(store, first);
      expect(result.status).toBe("finished");
      await expect(cancelRebuild(storeFor(db), first.rebuildId)).rejects.toThrow(/already finished/);
      await expect(cancelRebuild(storeFor(db), randomUUID())).rejects.toThrow(/not found/i);
      expect((await rebuildById(db.prisma, first.rebuildId))?.status).toBe("finished");
    });

    it("a cancel asked for after the last batch is still heard: before the indexes are built, and before the swap", async () => {
      for (const at of ["indexing", "swapping"] as const) {
        const before = await allRows(db);
        const store = storeFor(db);
        const started = await startRebuild(store, "orders", { reason: `cancelled before ${at}`, ...admin });
        const result = await runRebuild(store, started, {
          beforePhase: async (phase) => {
            if (phase === at) await cancelRebuild(storeFor(db), started.rebuildId);
          },
        });
        expect(result.status, at).toBe("cancelled");
        expect(await allRows(db)).toEqual(before);
        expect(await shadowCount(db)).toBe(0);
        expect((await rebuildById(db.prisma, started.rebuildId))?.status).toBe("cancelled");
        const [end] = await db.sql<{ n: number }>(
          "SELECT count(*)::int AS n FROM events WHERE event_type = 'ProjectionRebuildCancelled' AND data->>'rebuildId' = $1",
          [started.rebuildId],
        );
        expect(end!.n).toBe(1);
      }
    });

    it("keeps saying it is alive through a quiet stretch (its last writes, its index builds), so it is not shown as stalled", async () => {
      const store = storeFor(db);
      const started = await startRebuild(store, "orders", { reason: "a long index build", ...admin });
      let quiet = Number.POSITIVE_INFINITY;
      const result = await runRebuild(store, started, {
        heartbeatMs: 200,
        beforePhase: async (phase) => {
          if (phase !== "swapping") return;
          // No batch and no phase for 1.5 s, as an index build on a large log (minutes).
          await sleep(1_500);
          quiet = (await rebuildById(db.prisma, started.rebuildId))!.quietSeconds;
        },
      });
      expect(result.status).toBe("finished");
      expect(quiet).toBeLessThan(1);
    });

    it("a cancelled rebuild and a failing one leave the live tables as they were and drop the shadow", async () => {
      const before = await allRows(db);
      const store = storeFor(db);
      const started = await startRebuild(store, "orders", { reason: "cancel me", ...admin });
      const cancelled = await runRebuild(store, started, {
        batchSize: 3,
        beforeBatch: async () => {
          await cancelRebuild(storeFor(db), started.rebuildId).catch(() => {});
        },
      });
      expect(cancelled.status).toBe("cancelled");
      expect(await allRows(db)).toEqual(before);
      expect(await shadowCount(db)).toBe(0);
      expect((await rebuildById(db.prisma, started.rebuildId))?.status).toBe("cancelled");

      // A bug in the batch-by-batch apply (a projection without a replay of its own), and one in
      // the replay's second batch or in its final write.
      const failingApply = (): Projection => {
        let batches = 0;
        const { replay: _replay, ...rest } = ordersProjection;
        return {
          ...rest,
          async apply(tx, events, target) {
            if (++batches === 2) throw new Error("projection bug");
            await ordersProjection.apply(tx, events, target);
          },
        };
      };
      const failingReplay = (at: "batch" | "finish"): Projection => ({
        ...ordersProjection,
        replay(replayStore, target, fenced) {
          const inner = ordersProjection.replay!(replayStore, target, fenced);
          let batches = 0;
          return {
            async batch(events) {
              if (at === "batch" && ++batches === 2) throw new Error("projection bug");
              await inner.batch(events);
            },
            async finish() {
              if (at === "finish") throw new Error("projection bug");
              await inner.finish();
            },
            settle: () => inner.settle(),
          };
        },
      });
      for (const failing of [failingApply(), failingReplay("batch"), failingReplay("finish")]) {
        const startedFailing = await startRebuild(store, "orders", { reason: "will fail", ...admin }, [...allProjections.filter((p) => p.name !== "orders"), failing]);
        const failed = await runRebuild(store, startedFailing, { batchSize: 3 });
        expect(failed).toMatchObject({ status: "failed" });
        expect(failed.error).toMatch(/projection bug/);
        expect(await allRows(db)).toEqual(before);
        expect(await shadowCount(db)).toBe(0);
        const ops = await db.sql<{ event_type: string }>(
          "SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version",
          [`operations-rebuild-${startedFailing.rebuildId}`],
        );
        expect(ops.map((o) => o.event_type)).toEqual(["ProjectionRebuildStarted", "ProjectionRebuildFailed"]);
      }
    });
  });
}

rebuildSuite("rebuild [embedded]", async () => {
  const db = await openTestDatabase("embedded");
  return { db, close: () => db.close() };
});

describe.skipIf(!pgUrl)("rebuild [postgresql]", () => {
  rebuildSuite("own database", async () => {
    const { db, drop } = await openFreshPostgresDatabase(20);
    return { db, close: drop };
  });
});

describe.skipIf(!pgUrl)("rebuild under concurrent commands [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ db, drop } = await openFreshPostgresDatabase(20));
    for (let i = 0; i < 10; i++) await visit(db);
  }, 60_000);
  afterAll(async () => drop?.());

  it("rebuilds while several writers run commands and readers read: nothing fails, and the result is the fold from scratch", async () => {
    let stop = false;
    const failures: unknown[] = [];
    let commands = 0;
    let reads = 0;
    const writers = Array.from({ length: 4 }, (_, w) =>
      (async () => {
        const user = { ...clinician, id: `writer-${w}` };
        while (!stop) {
          try {
            await visit(db, user);
            commands += 9;
          } catch (error) {
            failures.push(error);
          }
        }
      })(),
    );
    const reader = (async () => {
      const api = await callerAs(db, clinician);
      while (!stop) {
        try {
          await api.patient.list({ limit: 20 });
          await api.order.worklist({ limit: 20 });
          reads++;
        } catch (error) {
          failures.push(error);
        }
      }
    })();
    const results = [];
    await sleep(150);
    results.push(await rebuild(db, patientsProjection, { batchSize: 25 }));
    // Two together: one reading of the log for both, each swapped in on its own.
    await sleep(150);
    const store = storeFor(db);
    const together = await startRebuilds(store, ["encounters", "orders"], { reason: "test", ...admin });
    results.push(...(await runRebuilds(store, together, { batchSize: 25 })));
    await sleep(150);
    stop = true;
    await Promise.all([...writers, reader]);
    expect(failures).toEqual([]);
    expect(commands).toBeGreaterThan(0);
    expect(reads).toBeGreaterThan(0);
    for (const result of results) expect(result).toMatchObject({ status: "finished", error: null });

    // Every stream's row is at the stream's last version...
    for (const [table, type, key] of [["rm_patients", "patient", "patient_id"], ["rm_encounters", "encounter", "encounter_id"], ["rm_orders", "order", "order_id"]] as const) {
      const mismatched = await db.sql<{ stream_id: string }>(
        `SELECT s.stream_id FROM streams s LEFT JOIN ${table} t ON s.stream_id = '${type}-' || t.${key}::text
          WHERE s.stream_type = $1 AND (t.version IS DISTINCT FROM s.version)`,
        [type],
      );
      expect(mismatched, table).toEqual([]);
    }
    // ...and equal, row for row, to a quiet rebuild from scratch (itself equal to the inline rows, above).
    const after = await allRows(db);
    const all = await startRebuilds(storeFor(db), ["patients", "encounters", "orders"], { reason: "test", ...admin });
    for (const result of await runRebuilds(storeFor(db), all)) expect(result).toMatchObject({ status: "finished", error: null });
    expect(await allRows(db)).toEqual(after);
  }, 120_000);
});

// The swap locks the live tables against writers and renames; a transaction that holds one of
// them stands in its way. The swap gives up waiting after its lock timeout, or PostgreSQL ends it
// to break a deadlock; either way it tries again once the other has gone, and the rebuild ends
// finished, not failed after its whole replay.
describe.skipIf(!pgUrl)("a rebuild's swap against another transaction [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  let ownerUrl: string;
  beforeAll(async () => {
    ({ db, drop, ownerUrl } = await openFreshPostgresDatabase(10));
    for (let i = 0; i < 3; i++) await visit(db);
  }, 60_000);
  afterAll(async () => drop?.());

  /** A session of its own that writes into census's live table and holds it, transaction open. */
  async function writerHolding(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: ownerUrl });
    await client.connect();
    await client.query("BEGIN");
    await client.query("LOCK TABLE rm_census_encounters IN ROW EXCLUSIVE MODE");
    return client;
  }

  /** Waits until the swap's LOCK TABLE waits on census's live table; when it began waiting. */
  async function swapWaiting(): Promise<number> {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(10)) {
      const waiting = await db.sql<{ n: number }>(
        `SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
          WHERE c.relname = 'rm_census_encounters' AND l.mode = 'ExclusiveLock' AND NOT l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [],
      );
      if (waiting[0]!.n > 0) return performance.now();
    }
    throw new Error("the swap never waited on rm_census_encounters");
  }

  async function startCensusRebuild() {
    const store = storeFor(db);
    const started = await startRebuild(store, "census", { reason: "swap against a writer", ...admin });
    return runRebuild(store, started);
  }

  it("outwaits a writer's long transaction: its lock timeout, then again", async () => {
    const writer = await writerHolding();
    try {
      const rebuilt = startCensusRebuild();
      await swapWaiting();
      // Past the swap's lock timeout (2 s): its first attempt gives up, the next one waits again.
      await sleep(2_600);
      await swapWaiting();
      await writer.query("COMMIT");
      expect(await rebuilt).toMatchObject({ status: "finished", error: null });
    } finally {
      await writer.end();
    }
  }, 30_000);

  it("a cancel that comes while the swap waits for the live table is heard: the swap rolls back, and the rebuild ends cancelled", async () => {
    const writer = await writerHolding();
    try {
      const store = storeFor(db);
      const started = await startRebuild(store, "census", { reason: "cancelled during its swap", ...admin });
      const rebuilt = runRebuild(store, started);
      await swapWaiting();
      await cancelRebuild(storeFor(db), started.rebuildId);
      await writer.query("COMMIT");
      expect(await rebuilt).toMatchObject({ status: "cancelled" });
      expect((await rebuildById(db.prisma, started.rebuildId))?.status).toBe("cancelled");
      expect(await shadowCount(db)).toBe(0);
      // And a cancel once a swap has committed is refused as too late.
      const next = await startRebuild(store, "census", { reason: "finished", ...admin });
      expect(await runRebuild(store, next)).toMatchObject({ status: "finished" });
      await expect(cancelRebuild(storeFor(db), next.rebuildId)).rejects.toThrow(/already finished/);
    } finally {
      await writer.end();
    }
  }, 30_000);

  it("is tried again when PostgreSQL ends it to break a deadlock", async () => {
    // The deadlock is the swap's to find only when the writer starts waiting within the swap's
    // deadlock_timeout (1 s) of the swap's own wait; on a loaded machine the writer can come later,
    // and the swap's lock timeout (2 s) ends its attempt instead. Either way the rebuild must end
    // finished; the deadlock path is tried until one attempt takes it (at most three).
    let deadlockPath = false;
    for (let attempt = 0; attempt < 3 && !deadlockPath; attempt++) {
      const writer = await writerHolding();
      try {
        // The writer never ends the deadlock itself: only the swap's check may (a superuser's
        // setting; an owner that is none keeps the default, and the swap usually checks first).
        await writer.query("SAVEPOINT settings");
        await writer.query("SET LOCAL deadlock_timeout = '60s'").then(
          () => writer.query("RELEASE SAVEPOINT settings"),
          () => writer.query("ROLLBACK TO SAVEPOINT settings"),
        );
        const rebuilt = startCensusRebuild();
        const waitingSince = await swapWaiting();
        // The writer now waits on the swap's lock of census's checkpoint: each waits on the other.
        // The swap waited first, so its deadlock check runs first and ends its own transaction;
        // the writer then gets the row.
        await writer.query("SELECT 1 FROM projection_checkpoints WHERE name = 'census' FOR UPDATE");
        // Before the swap's lock timeout (2 s): the deadlock ended it, not the timeout.
        deadlockPath = performance.now() - waitingSince < 1_900;
        await writer.query("COMMIT");
        expect(await rebuilt).toMatchObject({ status: "finished", error: null });
      } finally {
        await writer.end();
      }
    }
    expect(deadlockPath).toBe(true);
  }, 60_000);
});

// A rebuild whose lock session dies while its process runs on (a network cut, a DBA ending the
// session): the next rebuild takes its row over at once and makes the shadow tables afresh, under
// the same names. The first one learned of it only after its batch: before, that batch landed in
// the new shadow (user_activity adds counts: they came out doubled). Now every write of a rebuild
// first holds its row as running, and the takeover's end of it waits for that write.
describe.skipIf(!pgUrl)("a rebuild taken over while its process runs on [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  let ownerUrl: string;
  const eraser: SessionUser = { id: "admin-eraser", email: "e@example.test", name: "Erin Eraser", roles: ["admin"] };
  beforeAll(async () => {
    ({ db, drop, ownerUrl } = await openFreshPostgresDatabase(10));
    const patients: string[] = [];
    for (let i = 0; i < 4; i++) patients.push(await visit(db));
    // An erasure last: a replay writes every row it holds at an erasure (encounters are masked).
    const [{ mrn }] = await db.sql<{ mrn: string }>("SELECT mrn FROM rm_patients WHERE patient_id = $1::uuid", [patients[1]]) as [{ mrn: string }];
    await (await callerAs(db, eraser)).admin.erasePatient({ patientId: patients[1]!, confirmMrn: mrn, reason: "data subject request 2026-44" });
  }, 60_000);
  afterAll(async () => drop?.());

  /** Ends the session that holds the projection's rebuild lock, from outside. */
  async function endLockSession(projection: string): Promise<void> {
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      const { rows } = await owner.query(
        `SELECT pg_terminate_backend(pid) AS ended FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND objid = hashtext($1)::oid
            AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
        [`projection-rebuild:${projection}`],
      );
      expect(rows).toEqual([{ ended: true }]);
    } finally {
      await owner.end();
    }
  }

  const cases = [
    {
      projection: "user_activity",
      // The transaction per batch (no replay of its own): its second batch.
      at: (_events: readonly { type: string }[], batch: number) => batch === 2,
      // Counts per user and type, without the rebuilds' own operations events (each run adds some).
      rows: () =>
        db.sql("SELECT user_id, event_type, sum(events)::int AS events FROM rm_activity_hourly WHERE event_type NOT LIKE 'ProjectionRebuild%' GROUP BY 1, 2 ORDER BY 1, 2", []),
      shadows: ["rm_activity_hourly", "rm_activity_patients", "rm_activity_streams"],
    },
    {
      projection: "encounters",
      // The replay: the batch with the erasure, whose write holds every row folded so far.
      at: (events: readonly { type: string }[]) => events.some((e) => e.type === "PatientErased"),
      rows: () => tableRows(db, "rm_encounters"),
      shadows: ["rm_encounters"],
    },
  ];
  for (const c of cases) {
    it(`${c.projection}: nothing of the first run lands in the shadow the second made, and the second comes out as a rebuild alone`, async () => {
      const store = storeFor(db);
      expect(await runRebuild(store, await startRebuild(store, c.projection, { reason: "alone", ...admin }))).toMatchObject({ status: "finished" });
      const alone = await c.rows();
      expect(alone.length).toBeGreaterThan(0);

      let second: ReturnType<typeof runRebuild> | undefined;
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      let batches = 0;
      const first = await startRebuild(store, c.projection, { reason: "its session will die", ...admin });
      const firstResult = await runRebuild(store, first, {
        batchSize: 5,
        async beforeBatch(events) {
          if (second || !c.at(events, ++batches)) return;
          await endLockSession(c.projection);
          const takeover = await startRebuild(store, c.projection, { reason: "the first one's session died", ...admin });
          let copying!: () => void;
          const made = new Promise<void>((r) => (copying = r));
          // Held at its first batch: its shadow made afresh, and empty.
          second = runRebuild(store, takeover, {
            batchSize: 5,
            async beforeBatch() {
              copying();
              await released;
            },
          });
          await made;
        },
      });
      try {
        expect(second).toBeDefined();
        expect(firstResult).toMatchObject({ status: "failed" });
        expect(await rebuildById(db.prisma, first.rebuildId)).toMatchObject({ status: "failed", error: "abandoned: the process running it stopped" });
        for (const table of c.shadows) {
          const [{ n }] = (await db.sql<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}__rebuild`, [])) as [{ n: number }];
          expect({ table, n }).toEqual({ table, n: 0 });
        }
      } finally {
        release();
      }
      expect(await second!).toMatchObject({ status: "finished", error: null });
      expect(await c.rows()).toEqual(alone);
    });
  }
});
