// The outbox worker's throttles (the publisher heartbeat, the cached "does another worker
// publish?", sweepEveryMs) against a wall clock that steps back an hour (an NTP step, a VM
// resumed). They measure intervals on the steady clock, here the options' monotonicNow, so the
// step changes nothing; on Date.now() each stayed shut for the hour. An in-memory PGlite database
// of its own: the outbox and outbox_publishers are global.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Database } from "../db/client";
import { appendToStream } from "../eventStore";
import { openTestDatabase } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { drainOutbox, type Bus, type DrainOptions, type OutboxDeps } from "./outbox";

const HOUR_MS = 3_600_000;

describe("outbox throttles when the wall clock steps back [embedded]", () => {
  let db: Database;
  // The steady clock the throttles are given; the tests move it on by hand, never back.
  let steady = performance.now();
  const options = (more: Partial<DrainOptions> = {}): DrainOptions => ({ batchSize: 100, maxAttempts: 5, monotonicNow: () => steady, ...more });
  const realDateNow = Date.now.bind(Date);
  /**
   * From here on Date.now() is an hour behind. (The embedded database's now() follows it, as a
   * database on the same host would; the tests compare its times only with each other.)
   */
  const stepWallClockBack = () => vi.spyOn(Date, "now").mockImplementation(() => realDateNow() - HOUR_MS);

  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await db.sql("DELETE FROM outbox_publishers", []);
    // Whatever earlier tests left due, out of the way (no bus, no publisher: processed at once).
    while ((await drainOutbox({ store: storeOf(db), handlers: new Map(), processId: "cleaner:1:000000" }, options())).claimed > 0);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const seenAt = async (processId: string) =>
    (await db.sql<{ seen: string }>("SELECT seen_at::text AS seen FROM outbox_publishers WHERE process_id = $1", [processId]))[0]?.seen;

  it("a publisher's heartbeat still refreshes seen_at every 30 s of steady time after the wall clock steps back an hour", async () => {
    const bus: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
    const publisher: OutboxDeps = { store: storeOf(db), handlers: new Map(), bus, processId: "ward-p:101:aaaaaa" };
    await drainOutbox(publisher, options());
    // Its seen_at grown old (as after minutes of passes), then the wall clock steps back an hour.
    await db.sql("UPDATE outbox_publishers SET seen_at = now() - interval '10 minutes' WHERE process_id = $1", [publisher.processId]);
    const old = await seenAt(publisher.processId!);
    expect(old).toBeDefined();
    stepWallClockBack();
    // 5 s of steady time on: still within the 30 s throttle, no write.
    steady += 5_000;
    await drainOutbox(publisher, options());
    expect(await seenAt(publisher.processId!)).toBe(old);
    // 31 s on: the heartbeat is due again, whatever the wall clock did.
    steady += 26_000;
    await drainOutbox(publisher, options());
    expect(await seenAt(publisher.processId!)).not.toBe(old);
  });

  it("a worker without a bus that cached 'nobody publishes' asks again 2 s of steady time on, wall clock stepped back or not, and leaves the rows to the publisher", async () => {
    const busless: OutboxDeps = { store: storeOf(db), handlers: new Map(), processId: "ward-q:202:bbbbbb" };
    // Nobody publishes: it finishes rows itself, and keeps that answer for 2 s.
    await appendToStream(storeOf(db), newStreamId(), [note(1)], { expectedVersion: 0, aggregateType: "note" });
    expect(await drainOutbox(busless, options())).toMatchObject({ claimed: 1, published: 1 });
    // A publisher starts; the wall clock steps back an hour; 3 s of steady time pass.
    await db.sql("INSERT INTO outbox_publishers (process_id, seen_at) VALUES ($1, now())", ["ward-r:303:cccccc"]);
    stepWallClockBack();
    steady += 3_000;
    const event = note(1);
    await appendToStream(storeOf(db), newStreamId(), [event], { expectedVersion: 0, aggregateType: "note" });
    // It asks again, sees the publisher, and handles the row without marking it processed.
    expect(await drainOutbox(busless, options())).toMatchObject({ handled: 1, published: 0 });
    const [row] = await db.sql<{ handled: boolean; processed: boolean }>(
      "SELECT handled_at IS NOT NULL AS handled, processed_at IS NOT NULL AS processed FROM outbox WHERE event_id = $1::uuid",
      [event.eventId],
    );
    expect(row).toEqual({ handled: true, processed: false });
  });

  it("a worker without a bus sweeps for unpublished rows again sweepEveryMs of steady time on after the wall clock steps back an hour", async () => {
    const busless: OutboxDeps = { store: storeOf(db), handlers: new Map(), processId: "ward-s:404:dddddd" };
    // Due checks on the unstepped wall clock (a database on another host), so that the row is due.
    const every = () => options({ sweepEveryMs: 30_000, now: new Date(realDateNow()) });
    // Its first pass sweeps (nothing to find) and starts the 30 s.
    await drainOutbox(busless, every());
    // A row a worker with a bus handled and never published (that worker since gone).
    const event = note(1);
    await appendToStream(storeOf(db), newStreamId(), [event], { expectedVersion: 0, aggregateType: "note" });
    await db.sql("UPDATE outbox SET handled_at = now(), processed_at = NULL WHERE event_id = $1::uuid", [event.eventId]);
    stepWallClockBack();
    steady += 5_000;
    expect(await drainOutbox(busless, every())).toMatchObject({ claimed: 0 });
    steady += 26_000;
    expect(await drainOutbox(busless, every())).toMatchObject({ claimed: 1, published: 1 });
  });
});
