// The outbox's two stages under the states that lose, reorder or strand a row: a broker outage
// longer than the publishers' freshness window, a worker that outlived its lease, a stream whose
// earlier row is refused while a later one was tried before. On a PostgreSQL database of its own
// (the outbox is global: the shared test database would hand these tests the other files' rows).
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { appendToStream } from "../eventStore";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { addHandler, BusUnavailableError, drainOutbox, publishOutbox, type Bus, type OutboxDeps } from "./outbox";

type Row = { attempts: number; last_error: string | null; handled_at: Date | null; processed_at: Date | null; dead_lettered_at: Date | null; next_retry_at: Date };

async function row(db: Database, eventId: string): Promise<Row> {
  const [r] = await db.sql<Row>("SELECT attempts, last_error, handled_at, processed_at, dead_lettered_at, next_retry_at FROM outbox WHERE event_id = $1::uuid", [eventId]);
  if (!r) throw new Error(`no outbox row for ${eventId}`);
  return r;
}

async function appendNotes(db: Database, streamId: string, count: number, expectedVersion = 0) {
  const events = Array.from({ length: count }, (_, i) => note(expectedVersion + i + 1));
  await appendToStream(storeOf(db), streamId, events, { expectedVersion, aggregateType: "note" });
  return events.map((e) => e.eventId);
}

/** A bus whose publish of `eventId` waits inside until `release`; other events go out at once. */
function slowFor(eventId: string) {
  const { entered, inside: inSlowPublish, release, released } = gate();
  const slowBus: Bus = {
    ready: async () => {},
    publish: async (e) => {
      if (e.metadata.eventId !== eventId) return;
      entered();
      await released;
    },
    close: async () => {},
  };
  return { slowBus, inSlowPublish, release };
}

/** A slow handler's or publish's gate: `entered` when it is inside, and it waits there until `release`. */
function gate() {
  let entered!: () => void;
  const inside = new Promise<void>((resolve) => (entered = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  return { entered, inside, release, released };
}

if (!pgUrl) console.warn("[skipped on PostgreSQL] outbox races: DATABASE_URL is not set (CI always sets it)");

describe.skipIf(!pgUrl)("outbox races [postgresql, a database of its own]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>> | undefined;
  const db = () => fresh!.db;
  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(10);
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  it("a publisher whose broker has been down for more than five minutes still publishes: a worker without a bus leaves the rows to it", async () => {
    // Whatever publisher was seen, seen long ago: the outage began six minutes back.
    await db().sql("UPDATE outbox_publishers SET seen_at = now() - interval '6 minutes'", []);
    const down: Bus = {
      ready: async () => {
        throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5672"), { code: "ECONNREFUSED" });
      },
      publish: async () => {
        throw new Error("not connected");
      },
      close: async () => {},
    };
    const publisher: OutboxDeps = { store: storeOf(db()), handlers: new Map(), bus: down, processId: "ward-p:1:outage" };
    const busless: OutboxDeps = { store: storeOf(db()), handlers: new Map(), processId: "ward-q:2:nobus" };
    const ids = await appendNotes(db(), newStreamId(), 2);
    // The publisher's two loops during the outage: the handlers' pass runs, the bus's cannot connect.
    await drainOutbox(publisher, { batchSize: 100, maxAttempts: 5, skipBus: true });
    await expect(publishOutbox({ ...publisher, bus: down }, { batchSize: 100, maxAttempts: 5 })).rejects.toBeInstanceOf(BusUnavailableError);
    for (const id of ids) expect((await row(db(), id)).handled_at).toBeInstanceOf(Date);
    // The worker without a bus must not take them off the bus: its publisher is only waiting for RabbitMQ.
    await drainOutbox(busless, { batchSize: 100, maxAttempts: 5 });
    for (const id of ids) expect((await row(db(), id)).processed_at).toBeNull();
    // Nor the rows appended meanwhile, which it handles and leaves to the publisher.
    const [later] = await appendNotes(db(), newStreamId(), 1);
    await drainOutbox({ ...busless, processId: "ward-q:3:nobus" }, { batchSize: 100, maxAttempts: 5 });
    expect(await row(db(), later!)).toMatchObject({ processed_at: null });
    expect((await row(db(), later!)).handled_at).toBeInstanceOf(Date);
  });

  it("a handler's failure from a worker that outlived its lease does not undo another worker's handling (nor dead-letter the row in the bus's line)", async () => {
    const [id] = await appendNotes(db(), newStreamId(), 1);
    const { entered, inside: inSlowHandler, release, released } = gate();
    const slow: OutboxDeps = {
      store: storeOf(db()),
      handlers: addHandler(new Map(), "NoteAdded", async (e) => {
        if (e.metadata.eventId !== id) return;
        entered();
        await released;
        throw new Error("downstream timed out");
      }),
    };
    const bus: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
    const quick: OutboxDeps = { store: storeOf(db()), handlers: addHandler(new Map(), "NoteAdded", async () => {}), bus, processId: "ward-r:4:quick" };
    const t0 = new Date(Date.now() + 1_000);
    // The slow worker claims it with a one-second lease and hangs in the handler.
    const slowPass = drainOutbox({ ...slow, processId: "ward-s:5:slow" }, { batchSize: 100, maxAttempts: 1, now: t0, leaseMs: 1_000 });
    await inSlowHandler;
    // The lease has run out: another worker handles it; it waits for the bus now.
    const t1 = new Date(t0.getTime() + 10_000);
    expect(await drainOutbox(quick, { batchSize: 100, maxAttempts: 1, now: t1, skipBus: true })).toMatchObject({ handled: expect.any(Number) });
    expect((await row(db(), id!)).handled_at).toBeInstanceOf(Date);
    // The slow worker's handler fails at last: too late, the row is handled.
    release();
    // Nothing dead-lettered or retried to count either (emr_outbox_publish_failures_total).
    expect(await slowPass).toMatchObject({ retried: 0, deadLettered: 0 });
    expect(await row(db(), id!)).toMatchObject({ attempts: 0, last_error: null, dead_lettered_at: null, processed_at: null });
    // And it goes out on the bus.
    expect(await drainOutbox(quick, { batchSize: 100, maxAttempts: 1, now: new Date(t1.getTime() + 1) })).toMatchObject({ published: expect.any(Number) });
    expect((await row(db(), id!)).processed_at).toBeInstanceOf(Date);
  });

  it("a handler's failure from a worker that outlived its lease, while another worker has the row in hand, neither counts an attempt, cuts the other's lease short nor dead-letters the row under it", async () => {
    const [id] = await appendNotes(db(), newStreamId(), 1);
    const slowGate = gate();
    const otherGate = gate();
    const failing = (g: ReturnType<typeof gate>, fail: boolean): OutboxDeps["handlers"] =>
      addHandler(new Map(), "NoteAdded", async (e) => {
        if (e.metadata.eventId !== id) return;
        g.entered();
        await g.released;
        if (fail) throw new Error("downstream timed out");
      });
    const t0 = new Date(Date.now() + 1_000);
    // The slow worker claims the row with a one-second lease and hangs in its handler.
    const slowPass = drainOutbox({ store: storeOf(db()), handlers: failing(slowGate, true), processId: "ward-u:7:slow" }, { batchSize: 100, maxAttempts: 1, now: t0, leaseMs: 1_000 });
    await slowGate.inside;
    // Its lease has run out: another worker claims the row (a minute's lease) and is at work on it.
    const t1 = new Date(t0.getTime() + 10_000);
    const otherPass = drainOutbox({ store: storeOf(db()), handlers: failing(otherGate, false), processId: "ward-v:8:other" }, { batchSize: 100, maxAttempts: 1, now: t1, leaseMs: 60_000 });
    await otherGate.inside;
    const leased = await row(db(), id!);
    // The slow worker's handler fails now, with one attempt allowed: not its row any more.
    slowGate.release();
    expect(await slowPass).toMatchObject({ retried: 0, deadLettered: 0 });
    const during = await row(db(), id!);
    expect(during).toMatchObject({ attempts: 0, last_error: null, dead_lettered_at: null, handled_at: null });
    expect(during.next_retry_at).toEqual(leased.next_retry_at);
    // A third worker finds nothing due: the other's lease stands.
    const third = await drainOutbox({ store: storeOf(db()), handlers: failing(gate(), true), processId: "ward-w:9:third" }, { batchSize: 100, maxAttempts: 1, now: new Date(t1.getTime() + 5_000) });
    expect(third).toMatchObject({ claimed: 0, handled: 0, retried: 0, deadLettered: 0 });
    // The other worker's success is recorded: the row is handled, and no dead letter.
    otherGate.release();
    expect(await otherPass).toMatchObject({ retried: 0, deadLettered: 0 });
    const after = await row(db(), id!);
    expect(after).toMatchObject({ attempts: 0, last_error: null, dead_lettered_at: null });
    expect(after.handled_at).toBeInstanceOf(Date);
  });

  it("a publish confirmed after the lease ran out, when another worker has published the row, is not counted as published again", async () => {
    // The earlier tests' rows out of the way: the counts below are this row's.
    await db().sql("UPDATE outbox SET processed_at = now(), handled_at = coalesce(handled_at, now()) WHERE processed_at IS NULL", []);
    const [id] = await appendNotes(db(), newStreamId(), 1);
    const { slowBus, inSlowPublish, release } = slowFor(id!);
    const quickBus: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
    const handlers = new Map();
    await drainOutbox({ store: storeOf(db()), handlers, bus: quickBus, processId: "ward-u:7:quick" }, { batchSize: 100, maxAttempts: 5, skipBus: true });
    expect((await row(db(), id!)).handled_at).toBeInstanceOf(Date);
    const t0 = new Date(Date.now() + 1_000);
    const slowPass = publishOutbox({ store: storeOf(db()), handlers, bus: slowBus, processId: "ward-t:6:slow" }, { batchSize: 100, maxAttempts: 5, now: t0, leaseMs: 1_000 });
    await inSlowPublish;
    // Its lease has run out: another worker publishes the row and marks it processed.
    const quick = await publishOutbox({ store: storeOf(db()), handlers, bus: quickBus, processId: "ward-u:7:quick" }, { batchSize: 100, maxAttempts: 5, now: new Date(t0.getTime() + 10_000) });
    expect(quick.published).toBe(1);
    // The broker confirms the slow worker's copy at last: a repeat consumers drop, not a second row
    // published (emr_outbox_published_total would count the event twice).
    release();
    expect((await slowPass).published).toBe(0);
    expect((await row(db(), id!)).processed_at).toBeInstanceOf(Date);
  });

  it("a publish confirmed after the lease ran out, when another worker has dead-lettered the row meanwhile, leaves it published, not a dead letter nor set aside", async () => {
    await db().sql("UPDATE outbox SET processed_at = now(), handled_at = coalesce(handled_at, now()) WHERE processed_at IS NULL", []);
    const [id] = await appendNotes(db(), newStreamId(), 1);
    const { slowBus, inSlowPublish, release } = slowFor(id!);
    const refusingBus: Bus = { ready: async () => {}, publish: async () => Promise.reject(new Error("PRECONDITION_FAILED: message too large")), close: async () => {} };
    const handlers = new Map();
    await drainOutbox({ store: storeOf(db()), handlers, bus: refusingBus, processId: "ward-w:8:refusing" }, { batchSize: 100, maxAttempts: 1, skipBus: true });
    const t0 = new Date(Date.now() + 1_000);
    const slowPass = publishOutbox({ store: storeOf(db()), handlers, bus: slowBus, processId: "ward-v:9:slow" }, { batchSize: 100, maxAttempts: 1, now: t0, leaseMs: 1_000 });
    await inSlowPublish;
    // Its lease has run out: another worker's broker refuses the row, its last try: a dead letter.
    const refused = await publishOutbox({ store: storeOf(db()), handlers, bus: refusingBus, processId: "ward-w:8:refusing" }, { batchSize: 100, maxAttempts: 1, now: new Date(t0.getTime() + 10_000) });
    expect(refused.deadLettered).toBe(1);
    // The broker confirms the slow worker's copy: the event went out. The row says so, and is
    // no dead letter for an admin to retry (a second copy) or a "set aside, never published".
    release();
    expect((await slowPass).published).toBe(1);
    expect(await row(db(), id!)).toMatchObject({ processed_at: expect.any(Date), dead_lettered_at: null, last_error: null });
  });

  it("a handler that finished after its lease ran out, when a worker without a bus has handled and finished the row, is not counted again", async () => {
    // No publisher anywhere: the workers without a bus finish rows as they handle them.
    await db().sql("UPDATE outbox SET processed_at = now(), handled_at = coalesce(handled_at, now()) WHERE processed_at IS NULL", []);
    await db().sql("UPDATE outbox_publishers SET seen_at = now() - interval '6 minutes'", []);
    const [id] = await appendNotes(db(), newStreamId(), 1);
    const { entered, inside: inSlowHandler, release, released } = gate();
    const slow: OutboxDeps = {
      store: storeOf(db()),
      handlers: addHandler(new Map(), "NoteAdded", async (e) => {
        if (e.metadata.eventId !== id) return;
        entered();
        await released;
      }),
      processId: "ward-v:8:slow",
    };
    const quick: OutboxDeps = { store: storeOf(db()), handlers: addHandler(new Map(), "NoteAdded", async () => {}), processId: "ward-w:9:quick" };
    const t0 = new Date(Date.now() + 1_000);
    const slowPass = drainOutbox(slow, { batchSize: 100, maxAttempts: 5, now: t0, leaseMs: 1_000 });
    await inSlowHandler;
    // Its lease has run out: the other worker handles the row and, with no bus anywhere, finishes it.
    expect(await drainOutbox(quick, { batchSize: 100, maxAttempts: 5, now: new Date(t0.getTime() + 10_000) })).toMatchObject({ handled: 1, published: 1 });
    // The slow handler returns at last: the row was not its to mark, and emr_outbox_published_total
    // must not count the event twice.
    release();
    expect(await slowPass).toMatchObject({ handled: 0, published: 0 });
    expect((await row(db(), id!)).processed_at).toBeInstanceOf(Date);
  });

  it("a row tried before waits for the earlier rows of its stream sent with it: refused, they hold it back", async () => {
    // Drained first: nothing else is due to the bus in this test.
    const none: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
    while ((await drainOutbox({ store: storeOf(db()), handlers: new Map(), bus: none }, { batchSize: 500, maxAttempts: 5 })).claimed > 0);
    const [x, y] = await appendNotes(db(), newStreamId(), 2);
    // y failed before (a refusal before the upgrade, a confirm that never came); x did not.
    await db().sql("UPDATE outbox SET last_error = 'Error: refused before' WHERE event_id = $1::uuid", [y]);
    const sent: string[] = [];
    let refuse = true;
    const bus: Bus = {
      ready: async () => {},
      publish: async (e) => {
        await sleep(5);
        if (refuse && e.metadata.eventId === x) throw Object.assign(new Error("message nacked by the broker"), { code: 406 });
        sent.push(e.metadata.eventId);
      },
      close: async () => {},
    };
    const deps: OutboxDeps = { store: storeOf(db()), handlers: new Map(), bus };
    const t0 = new Date(Date.now() + 1_000);
    await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, now: t0, random: () => 0.5 });
    // x was refused: y, sent alone only after x was answered, must wait behind it.
    expect(sent).not.toContain(y);
    expect(await row(db(), x!)).toMatchObject({ attempts: 1, processed_at: null });
    expect(await row(db(), y!)).toMatchObject({ attempts: 0, processed_at: null });
    refuse = false;
    await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, now: new Date(t0.getTime() + 60_000) });
    // (Only this test's rows: an earlier test's, handled at a clock ahead, may fall due here.)
    expect(sent.filter((id) => id === x || id === y)).toEqual([x, y]);
  });

  it("a stream's later row is not claimed for the bus while an earlier one, due, is locked by another writer (a late worker marking its failure)", async () => {
    const none: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
    while ((await drainOutbox({ store: storeOf(db()), handlers: new Map(), bus: none }, { batchSize: 500, maxAttempts: 5 })).claimed > 0);
    const [e, o] = await appendNotes(db(), newStreamId(), 2);
    const sent: string[] = [];
    const bus: Bus = { ready: async () => {}, publish: async (ev) => void sent.push(ev.metadata.eventId), close: async () => {} };
    const deps: OutboxDeps = { store: storeOf(db()), handlers: new Map(), bus };
    // Both handled, due for the bus.
    await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, skipBus: true });
    // A worker whose lease on e ran out is writing e's failure (a backoff): its row lock is held.
    const late = new pg.Client({ connectionString: fresh!.ownerUrl });
    await late.connect();
    try {
      await late.query("BEGIN");
      await late.query("SELECT id FROM outbox WHERE event_id = $1::uuid FOR UPDATE", [e]);
      await drainOutbox(deps, { batchSize: 10, maxAttempts: 5 });
      // e was skipped (locked): o must not go out ahead of it.
      expect(sent).not.toContain(o);
      await late.query("UPDATE outbox SET attempts = 1, last_error = 'Error: refused', next_retry_at = now() + interval '1 hour' WHERE event_id = $1::uuid", [e]);
      await late.query("COMMIT");
    } finally {
      await late.end();
    }
    await drainOutbox(deps, { batchSize: 10, maxAttempts: 5 });
    expect(sent).toEqual([]);
    await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, now: new Date(Date.now() + 7_200_000) });
    expect(sent).toEqual([e, o]);
  });

  it("the bus claim is the app role's to execute, not PUBLIC's; outbox_publishers is written by the app's role", async () => {
    const [acl] = await db().sql<{ public_may: boolean; app_may: boolean; publishers: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE p.proname = 'outbox_claim_for_bus' AND a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS public_may,
              has_function_privilege('emr_app', 'outbox_claim_for_bus(timestamptz, integer, integer)', 'EXECUTE') AS app_may,
              has_table_privilege('emr_app', 'outbox_publishers', 'SELECT, INSERT, UPDATE, DELETE') AS publishers`,
      [],
    );
    expect(acl).toEqual({ public_may: false, app_may: true, publishers: true });
  });
});
