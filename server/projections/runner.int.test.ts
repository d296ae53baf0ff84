// The projection runner on PostgreSQL: commit order with out-of-order commits, exactly once in
// effect across a SIGKILL mid-batch, and one active runner across processes with takeover.
import pg from "pg";
import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { appendToStream, storeIn } from "../eventStore";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { noteProjection, noteTablesSql } from "../testing/noteProjection";
import { runProjectionStep, startProjectionRunner } from "./runner";

type Seen = { event_id: string; applied_by: string };

async function appendNotes(db: Database, count: number, streams = 3): Promise<string[]> {
  const ids: string[] = [];
  const streamIds = Array.from({ length: streams }, () => newStreamId());
  for (let i = 0; i < count; i++) {
    const event = note(i + 1);
    await appendToStream(storeOf(db), streamIds[i % streams]!, [event], { expectedVersion: "any", aggregateType: "note" });
    ids.push(event.eventId);
  }
  return ids;
}

const noteCount = async (db: Database) =>
  (await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE event_type = 'NoteAdded'", []))[0]!.n;

const seen = (db: Database) => db.sql<Seen>("SELECT event_id::text AS event_id, applied_by FROM rm_note_seen", []);

async function until(what: string, check: () => Promise<boolean>, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The totals a fold from scratch of every note gives, to compare with the projection's. */
async function totalsFromScratch(db: Database) {
  return db.sql<{ stream_id: string; notes: number; total: string }>(
    `SELECT stream_id, count(*)::int AS notes, sum((data->>'n')::int)::text AS total FROM events WHERE event_type = 'NoteAdded'
      GROUP BY stream_id ORDER BY stream_id`,
    [],
  );
}
const totals = (db: Database) =>
  db.sql<{ stream_id: string; notes: number; total: string }>("SELECT stream_id, notes, total::text AS total FROM rm_note_totals ORDER BY stream_id", []);

function runnerProcess(url: string, owner: string, leaseSeconds: number, slowMs: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "server/projections/runnerProcess.fixture.ts", url, owner, String(leaseSeconds), String(slowMs)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) => reject(new Error(`runner ${owner} exited with ${code}`)));
  });
}

describe.skipIf(!pgUrl)("projection runner [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  let url: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    let ownerUrl: string;
    ({ db, drop, ownerUrl } = await openFreshPostgresDatabase(10));
    // The test projection's tables are DDL: the owner's.
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    await owner.query(noteTablesSql);
    await owner.end();
    url = new URL(pgUrl!).toString();
    const name = (await db.sql<{ d: string }>("SELECT current_database() AS d", []))[0]!.d;
    const u = new URL(pgUrl!);
    u.pathname = `/${name}`;
    url = u.toString();
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await drop?.();
  });

  const reset = async () => {
    await db.sql("DELETE FROM rm_note_seen", []);
    await db.sql("DELETE FROM rm_note_totals", []);
    await db.sql("DELETE FROM projection_checkpoints WHERE name = 'note_totals'", []);
  };

  it("sees an event that took a lower position but committed later, after it commits, and every event once", async () => {
    await reset();
    const store = storeOf(db);
    const projection = noteProjection();
    const before = await appendNotes(db, 3);
    // A transaction takes a position and holds; a later one commits first.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const slow = note(100);
    let appended!: () => void;
    const inFlight = new Promise<void>((r) => (appended = r));
    const slowTx = db.prisma.$transaction(
      async (tx) => {
        await appendToStream(storeIn(store, tx), newStreamId(), [slow], { expectedVersion: "no_stream", aggregateType: "note" });
        appended();
        await held;
      },
      { timeout: 30_000 },
    );
    await inFlight;
    const after = await appendNotes(db, 2);
    const owner = "step-test";
    const pass = () => runProjectionStep(store, projection, { owner, batchSize: 2 });
    // Drain what is visible: the early events, never the later commit past the one still running.
    await until("the events before the held transaction", async () => {
      await pass();
      const ids = (await seen(db)).map((s) => s.event_id);
      return before.every((id) => ids.includes(id));
    });
    for (let i = 0; i < 5; i++) await pass();
    let ids = (await seen(db)).map((s) => s.event_id);
    expect(ids).not.toContain(slow.eventId);
    expect(after.some((id) => ids.includes(id))).toBe(false);
    release();
    await slowTx;
    await until("every event", async () => {
      await pass();
      ids = (await seen(db)).map((s) => s.event_id);
      return [...before, slow.eventId, ...after].every((id) => ids.includes(id));
    });
    expect(ids.length).toBe(new Set(ids).size);
    expect(ids.indexOf(slow.eventId)).toBeLessThan(ids.indexOf(after[0]!));
  }, 60_000);

  it("after a SIGKILL mid-batch, a restarted runner ends with the fold from scratch, every event applied once", async () => {
    await reset();
    await appendNotes(db, 60, 4);
    const first = await runnerProcess(url, "runner-a", 1, 150);
    children.push(first);
    await until("some batches applied", async () => (await seen(db)).length >= 15);
    first.kill("SIGKILL");
    await new Promise((r) => first.once("exit", r));
    const second = await runnerProcess(url, "runner-b", 1, 0);
    children.push(second);
    // The checkpoint was reset: every note in the log, earlier tests' included, is applied again.
    const all = await noteCount(db);
    await until("all applied", async () => (await seen(db)).length >= all);
    await sleep(300);
    const rows = await seen(db);
    expect(rows.length).toBe(all);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(all);
    expect(await totals(db)).toEqual(await totalsFromScratch(db));
    second.kill("SIGTERM");
    await new Promise((r) => second.once("exit", r));
  }, 90_000);

  it("two runner processes: one applies, the other waits, and takes over within the lease when the first dies", async () => {
    await reset();
    const a = await runnerProcess(url, "runner-a", 2, 0);
    const b = await runnerProcess(url, "runner-b", 2, 0);
    children.push(a, b);
    await appendNotes(db, 20);
    const all = await noteCount(db);
    await until("all applied", async () => (await seen(db)).length >= all);
    await sleep(500);
    const owners = new Set((await seen(db)).map((r) => r.applied_by));
    expect(owners.size).toBe(1);
    const holder = [...owners][0]!;
    const [dead, survivor] = holder === "runner-a" ? [a, "runner-b"] : [b, "runner-a"];
    dead.kill("SIGKILL");
    await new Promise((r) => dead.once("exit", r));
    const killedAt = Date.now();
    await appendNotes(db, 20);
    await until("the other runner applies the next 20", async () => (await seen(db)).length >= all + 20);
    const tookOver = Date.now() - killedAt;
    await sleep(300);
    const rows = await seen(db);
    expect(rows.length).toBe(all + 20);
    expect(new Set(rows.map((r) => r.event_id)).size).toBe(all + 20);
    expect(rows.filter((r) => r.applied_by === survivor).length).toBe(20);
    expect(tookOver).toBeLessThan(10_000);
    expect(await totals(db)).toEqual(await totalsFromScratch(db));
  }, 90_000);

  it("the loop runs passes on wake() and gives its lease back when stopped", async () => {
    // The previous test's surviving runner process would otherwise keep the lease and do the work.
    await Promise.all(children.splice(0).map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : (c.once("exit", r), c.kill("SIGKILL"))))));
    await reset();
    const stop = new AbortController();
    const handle = startProjectionRunner(storeOf(db), [noteProjection({ owner: "loop" })], { pollMs: 60_000, signal: stop.signal, owner: "loop" });
    await sleep(200);
    await appendNotes(db, 4);
    handle.wake();
    await until("applied after wake", async () => (await seen(db)).length >= 4, 10_000);
    stop.abort();
    await handle.done;
    const [row] = await db.sql<{ lease_owner: string | null; lag_events: string }>(
      "SELECT lease_owner, lag_events::text AS lag_events FROM projection_checkpoints WHERE name = 'note_totals'",
      [],
    );
    expect(row).toEqual({ lease_owner: null, lag_events: "0" });
  }, 30_000);
});
