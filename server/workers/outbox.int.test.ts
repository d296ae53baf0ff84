// The outbox worker. Its logic runs on an in-memory PGlite database of its own, and the
// multi-worker and RabbitMQ tests on a PostgreSQL database of their own: the outbox is global,
// so the shared test database would hand these tests the other files' rows.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { TRPCError } from "@trpc/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { appendToStream, type StoredEvent } from "../eventStore";
import { callerFor } from "../testing/caller";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { captureLogLines } from "../testing/logLines";
import { rabbitBus } from "./bus";
import { addHandler, drainOutbox, type Bus, type HandlerRegistry, type OutboxDeps } from "./outbox";

type OutboxRow = {
  id: string | number | bigint;
  attempts: number;
  next_retry_at: Date;
  last_error: string | null;
  processed_at: Date | null;
  dead_lettered_at: Date | null;
};

async function outboxRow(db: Database, eventId: string): Promise<OutboxRow> {
  const [row] = await db.sql<OutboxRow>(
    "SELECT id, attempts, next_retry_at, last_error, processed_at, dead_lettered_at FROM outbox WHERE event_id = $1::uuid",
    [eventId],
  );
  if (!row) throw new Error(`no outbox row for ${eventId}`);
  return row;
}

async function appendNotes(db: Database, streamId: string, count: number, expectedVersion = 0) {
  const events = Array.from({ length: count }, (_, i) => note(expectedVersion + i + 1));
  await appendToStream(storeOf(db), streamId, events, { expectedVersion, aggregateType: "note" });
  return events.map((e) => e.eventId);
}

const removal = () => ({ ...note(0), type: "NoteRemoved", data: { reason: "synthetic private reason" } });

describe("outbox drain [embedded]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("publishes due rows to the handlers in position order and marks them processed", async () => {
    const a = newStreamId();
    const b = newStreamId();
    const ids = [
      ...(await appendNotes(db, a, 2)),
      ...(await appendNotes(db, b, 1)),
      ...(await appendNotes(db, a, 1, 2)),
      ...(await appendNotes(db, b, 2, 1)),
    ];
    const seen: StoredEvent[] = [];
    const removed: StoredEvent[] = [];
    const handlers: HandlerRegistry = new Map();
    addHandler(handlers, "NoteAdded", async (e) => void seen.push(e));
    addHandler(handlers, "NoteRemoved", async (e) => void removed.push(e));

    const result = await drainOutbox({ store: storeOf(db), handlers }, { batchSize: 100, maxAttempts: 5 });
    expect(result).toEqual({ handled: 6, claimed: 6, published: 6, retried: 0, deadLettered: 0 });
    expect(seen.map((e) => e.metadata.eventId)).toEqual(ids);
    const positions = seen.map((e) => e.globalPosition);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
    expect(seen[0]).toMatchObject({ type: "NoteAdded", streamId: a, version: 1, data: { n: 1 } });
    expect(removed).toEqual([]);
    for (const id of ids) {
      const row = await outboxRow(db, id);
      expect(row.processed_at).toBeInstanceOf(Date);
      expect(row).toMatchObject({ attempts: 0, last_error: null, dead_lettered_at: null });
    }
    expect(await drainOutbox({ store: storeOf(db), handlers }, { batchSize: 100, maxAttempts: 5 })).toMatchObject({ claimed: 0 });
  });

  it("claims at most batchSize rows, oldest first", async () => {
    const ids = await appendNotes(db, newStreamId(), 5);
    const seen: string[] = [];
    const handlers = addHandler(new Map(), "NoteAdded", async (e) => void seen.push(e.metadata.eventId));
    expect(await drainOutbox({ store: storeOf(db), handlers }, { batchSize: 2, maxAttempts: 5 })).toMatchObject({ claimed: 2, published: 2 });
    expect(seen).toEqual(ids.slice(0, 2));
    expect(await drainOutbox({ store: storeOf(db), handlers }, { batchSize: 10, maxAttempts: 5 })).toMatchObject({ claimed: 3, published: 3 });
    expect(seen).toEqual(ids);
  });

  it("retries a failing row with exponential backoff, dead-letters it after maxAttempts, and an admin can put it back", async () => {
    let failing = true;
    const published: string[] = [];
    const handlers = addHandler(new Map(), "NoteRemoved", async (e) => {
      if (failing) throw new Error("downstream unavailable");
      published.push(e.metadata.eventId);
    });
    const ok = note(1);
    const bad = removal();
    await appendToStream(storeOf(db), newStreamId(), [ok, bad], { expectedVersion: "no_stream", aggregateType: "note" });
    const deps: OutboxDeps = { store: storeOf(db), handlers };
    const t0 = new Date(Date.now() + 1_000);
    const at = (ms: number) => new Date(t0.getTime() + ms);
    const half = () => 0.5;

    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 3, now: t0, random: half })).toEqual({
      handled: 1,
      claimed: 2,
      published: 1,
      retried: 1,
      deadLettered: 0,
    });
    expect((await outboxRow(db, ok.eventId)).processed_at).toBeInstanceOf(Date);
    let row = await outboxRow(db, bad.eventId);
    expect(row).toMatchObject({ attempts: 1, last_error: "Error: downstream unavailable", processed_at: null, dead_lettered_at: null });
    // Attempt 1: uniform in [1 s, 2 s); the fixed jitter takes the middle.
    expect(row.next_retry_at.getTime()).toBe(at(1_500).getTime());

    // Not due yet: nothing is claimed.
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 3, now: at(1_499), random: half })).toMatchObject({ claimed: 0 });

    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 3, now: at(1_500), random: half })).toMatchObject({ claimed: 1, retried: 1 });
    row = await outboxRow(db, bad.eventId);
    expect(row.attempts).toBe(2);
    // Attempt 2: uniform in [4 s, 8 s).
    expect(row.next_retry_at.getTime()).toBe(at(7_500).getTime());

    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 3, now: at(60_000), random: half })).toEqual({
      handled: 0,
      claimed: 1,
      published: 0,
      retried: 0,
      deadLettered: 1,
    });
    row = await outboxRow(db, bad.eventId);
    expect(row).toMatchObject({ attempts: 3, processed_at: null });
    expect(row.dead_lettered_at?.getTime()).toBe(at(60_000).getTime());
    expect(row.last_error).not.toContain("synthetic");
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 3, now: at(3_600_000) })).toMatchObject({ claimed: 0 });

    const admin = callerFor(db, ["admin"]);
    const status = await admin.admin.outbox();
    expect(status).toMatchObject({ pending: 0, retrying: 0, deadLettered: 1, heldBehindDeadLetters: 0 });
    expect(status.deadLetters).toEqual([
      {
        id: Number(row.id),
        eventId: bad.eventId,
        eventType: "NoteRemoved",
        stage: "handlers",
        holding: 0,
        attempts: 3,
        lastError: "Error: downstream unavailable",
        deadLetteredAt: row.dead_lettered_at,
      },
    ]);
    expect(JSON.stringify(status)).not.toContain("synthetic");

    await expect(admin.admin.retryDeadLetter({ id: Number(row.id) + 1_000_000 })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await admin.admin.retryDeadLetter({ id: Number(row.id) })).toEqual({ id: Number(row.id) });
    row = await outboxRow(db, bad.eventId);
    expect(row).toMatchObject({ attempts: 0, dead_lettered_at: null, processed_at: null });
    // Pending: the row, and the retry's own record (OutboxDeadLetterRetried, an event like any other).
    expect(await admin.admin.outbox()).toMatchObject({ pending: 2, retrying: 0, deadLettered: 0, deadLetters: [] });
    // A dead letter that is back in line is not a dead letter any more.
    await expect(admin.admin.retryDeadLetter({ id: Number(row.id) })).rejects.toBeInstanceOf(TRPCError);

    failing = false;
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 3 })).toMatchObject({ claimed: 2, published: 2 });
    expect(published).toEqual([bad.eventId]);
    expect(await admin.admin.outbox()).toMatchObject({ pending: 0, lagSeconds: 0, deadLettered: 0 });
  });

  it("a refused publish is that row's failure only; its stream's next events wait behind it while it backs off", async () => {
    const a = newStreamId();
    const b = newStreamId();
    const inA = await appendNotes(db, a, 3);
    const inB = await appendNotes(db, b, 2);
    let refuse = true;
    const sent: string[] = [];
    const bus: Bus = {
      ready: async () => {},
      publish: async (e) => {
        if (refuse && e.metadata.eventId === inA[1]) throw Object.assign(new Error("message nacked by the broker"), { code: 406 });
        sent.push(e.metadata.eventId);
      },
      close: async () => {},
    };
    const deps: OutboxDeps = { store: storeOf(db), handlers: new Map(), bus };
    const t0 = new Date(Date.now() + 1_000);
    // Sent together on the channel: a nack of the second with the third taken is the one case in
    // which a later event of a stream goes out first (README, "Consuming emr.events").
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, now: t0, random: () => 0.5 })).toEqual({
      handled: 5,
      claimed: 5,
      published: 4,
      retried: 1,
      deadLettered: 0,
    });
    expect(new Set(sent)).toEqual(new Set([inA[0], inA[2], ...inB]));
    expect(sent.indexOf(inA[0]!)).toBeLessThan(sent.indexOf(inA[2]!));
    expect(await outboxRow(db, inA[1]!)).toMatchObject({ attempts: 1, last_error: "Error [406]: message nacked by the broker" });
    // The stream's next event waits while the refused one backs off, however due it is itself.
    const [later] = await appendNotes(db, a, 1, 3);
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, now: new Date(t0.getTime() + 100) })).toMatchObject({ claimed: 0 });
    expect(await outboxRow(db, later!)).toMatchObject({ attempts: 0, processed_at: null });

    refuse = false;
    sent.length = 0;
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 5, now: new Date(t0.getTime() + 60_000) })).toMatchObject({ claimed: 2, published: 2 });
    expect(sent).toEqual([inA[1], later]);
  });

  it("a dead letter holds its stream on the bus until an admin puts it back; then the stream goes out in order", async () => {
    const a = newStreamId();
    const b = newStreamId();
    const [first] = await appendNotes(db, a, 1);
    let refuse = true;
    const sent: string[] = [];
    const bus: Bus = {
      ready: async () => {},
      publish: async (e) => {
        if (refuse && e.metadata.eventId === first) throw new Error("queue full");
        sent.push(e.metadata.eventId);
      },
      close: async () => {},
    };
    const deps: OutboxDeps = { store: storeOf(db), handlers: new Map(), bus };
    const t0 = new Date(Date.now() + 1_000);
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 2, now: t0 })).toMatchObject({ claimed: 1, published: 0, retried: 1 });
    // Appended while the first backs off: they wait behind it.
    const behind = await appendNotes(db, a, 2, 1);
    const inB = await appendNotes(db, b, 1);
    // It is tried alone: refused again (dead now), the two behind it go back in line unsent.
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 2, now: new Date(t0.getTime() + 600_000) })).toMatchObject({
      claimed: 4,
      published: 1,
      deadLettered: 1,
    });
    // Dead: the two behind it are never claimed, however late it gets.
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 2, now: new Date(t0.getTime() + 3_600_000) })).toMatchObject({ claimed: 0 });
    expect(sent).toEqual(inB);

    const admin = callerFor(db, ["admin"]);
    const status = await admin.admin.outbox();
    expect(status).toMatchObject({ pending: 2, deadLettered: 1, heldBehindDeadLetters: 2 });
    const letter = status.deadLetters.find((d) => d.eventId === first);
    expect(letter).toMatchObject({ stage: "bus", holding: 2, attempts: 2, lastError: "Error: queue full" });

    refuse = false;
    await admin.admin.retryDeadLetter({ id: letter!.id });
    // (The test's clock is ahead of the database's: the two behind it were released at its time.)
    // The three, and the retry's own record (OutboxDeadLetterRetried), which goes out like any event.
    expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 2, now: new Date(t0.getTime() + 3_700_000) })).toMatchObject({ claimed: 4, published: 4 });
    expect(sent.filter((id) => [...inB, first, ...behind].includes(id))).toEqual([...inB, first, ...behind]);
    expect(await admin.admin.outbox()).toMatchObject({ pending: 0, deadLettered: 0, heldBehindDeadLetters: 0 });
  });

  it("runs the handlers while the bus is unreachable; publishing waits, and the outage costs the rows no attempts", async () => {
    const [id] = await appendNotes(db, newStreamId(), 1);
    const seen: string[] = [];
    const handlers = addHandler(new Map(), "NoteAdded", async (e) => void seen.push(e.metadata.eventId));
    const bus = rabbitBus("amqp://guest:guest@127.0.0.1:1");
    try {
      const result = await drainOutbox({ store: storeOf(db), handlers, bus }, { batchSize: 10, maxAttempts: 5 });
      expect(result).toMatchObject({ claimed: 0, published: 0, retried: 0, busUnavailable: expect.stringMatching(/ECONNREFUSED|connect/) });
    } finally {
      await bus.close();
    }
    expect(seen).toContain(id);
    const row = await outboxRow(db, id!);
    expect(row).toMatchObject({ attempts: 0, processed_at: null, last_error: null });
    expect(row.next_retry_at.getTime()).toBeLessThanOrEqual(Date.now());
    // Delivered once the bus is back (here a worker without one, for which handled is done), and
    // not handled twice. (An earlier test's failed row may fall due meanwhile on a slow machine,
    // so the count is this row's, not the drain's.)
    expect((await drainOutbox({ store: storeOf(db), handlers }, { batchSize: 10, maxAttempts: 5 })).published).toBeGreaterThanOrEqual(1);
    expect((await outboxRow(db, id!)).processed_at).not.toBeNull();
    expect(seen.filter((s) => s === id)).toHaveLength(1);
  });
  it("a worker without a bus finishes rows a worker with one handled, and says so in a warning (a mixed deployment loses them from the bus)", async () => {
    const handlers = addHandler(new Map(), "NoteAdded", async () => {});
    const store = storeOf(db);
    // Whatever earlier tests left due, out of the way first.
    while ((await drainOutbox({ store, handlers }, { batchSize: 100, maxAttempts: 5 })).claimed > 0);
    const { lines, restore } = captureLogLines("warn");
    try {
      // No bus anywhere: rows are finished by the handlers' stage, nothing to warn about.
      await appendNotes(db, newStreamId(), 3);
      expect(await drainOutbox({ store, handlers }, { batchSize: 100, maxAttempts: 5 })).toMatchObject({ published: 3 });
      expect(lines.filter((l) => l.includes("WITHOUT publishing"))).toEqual([]);
      // A worker with a bus handled them; one without finishes them, unpublished.
      await appendNotes(db, newStreamId(), 3);
      const bus: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
      expect(await drainOutbox({ store, handlers, bus }, { batchSize: 100, maxAttempts: 5, skipBus: true })).toMatchObject({ handled: 3, published: 0 });
      expect(await drainOutbox({ store, handlers }, { batchSize: 100, maxAttempts: 5 })).toMatchObject({ claimed: 3, published: 3 });
      const warned = lines.filter((l) => l.includes("WITHOUT publishing")).map((l) => JSON.parse(l) as { level: string; unpublished: number });
      expect(warned).toEqual([expect.objectContaining({ level: "warn", unpublished: 3 })]);
    } finally {
      restore();
    }
  });
});

const amqpUrl = process.env.AMQP_URL?.trim() || null;
if (!pgUrl) console.warn("[skipped on PostgreSQL] outbox workers: DATABASE_URL is not set (CI always sets it)");

describe.skipIf(!pgUrl)("outbox drain [postgresql, a database of its own]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>> | undefined;
  const db = () => fresh!.db;
  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(20);
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  it("two concurrent drains never publish the same row (FOR UPDATE SKIP LOCKED + lease)", async () => {
    const streams = Array.from({ length: 12 }, () => newStreamId());
    await Promise.all(streams.map((s) => appendNotes(db(), s, 10)));
    const published: string[] = [];
    const worker = (): OutboxDeps => ({
      store: storeOf(db()),
      handlers: addHandler(new Map(), "NoteAdded", async (e) => {
        published.push(e.metadata.eventId);
        await sleep(1);
      }),
    });
    const one = worker();
    const two = worker();
    let passes = 0;
    for (;;) {
      const [a, b] = await Promise.all([
        drainOutbox(one, { batchSize: 25, maxAttempts: 5 }),
        drainOutbox(two, { batchSize: 25, maxAttempts: 5 }),
      ]);
      passes++;
      if (a.claimed + b.claimed === 0) break;
    }
    expect(published).toHaveLength(120);
    expect(new Set(published).size).toBe(120);
    expect(passes).toBeGreaterThan(1);
  });

  it("two workers whose broker connections drop now and then: every stream's events go out once each, in version order", { timeout: 60_000 }, async () => {
    const streams = Array.from({ length: 16 }, () => newStreamId());
    // Appended in rounds across the streams, as wards write: each stream's rows spread over the outbox.
    for (let round = 0; round < 4; round++) await Promise.all(streams.map((s) => appendNotes(db(), s, 3, round * 3)));
    let seed = 11;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const sent = new Map<string, number[]>();
    /**
     * A worker's broker connection, as amqplib's channel behaves: publishes are taken in the order
     * they were sent; one in five, the connection drops, failing that publish and every one already
     * sent behind it (unconfirmed), and the next publish goes on a new connection.
     */
    const connection = (): Bus => {
      let line = Promise.resolve();
      let generation = 0;
      return {
        ready: async () => {},
        publish: (e) => {
          const sentOn = generation;
          const taken = line.then(async () => {
            await sleep(Math.floor(random() * 2));
            if (sentOn !== generation) throw new Error("connection closed");
            if (random() < 0.2) {
              generation++;
              throw new Error("connection closed");
            }
            sent.set(e.streamId, [...(sent.get(e.streamId) ?? []), e.version]);
          });
          line = taken.catch(() => {});
          return taken;
        },
        close: async () => {},
      };
    };
    const one: OutboxDeps = { store: storeOf(db()), handlers: new Map(), bus: connection() };
    const two: OutboxDeps = { store: storeOf(db()), handlers: new Map(), bus: connection() };
    const waiting = async () => Number((await db().sql<{ n: bigint }>("SELECT count(*) AS n FROM outbox WHERE processed_at IS NULL", []))[0]!.n);
    for (let pass = 1; pass < 1_000 && (await waiting()) > 0; pass++) {
      // A clock ten minutes on each pass: every retry is due again, whatever its backoff.
      const now = new Date(Date.now() + pass * 600_000);
      await Promise.all([drainOutbox(one, { batchSize: 7, maxAttempts: 1_000, now }), drainOutbox(two, { batchSize: 7, maxAttempts: 1_000, now })]);
    }
    expect(await waiting()).toBe(0);
    for (const s of streams) expect(sent.get(s)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it("a worker without AMQP_URL beside one with it runs the handlers only: every event reaches the bus, each handled once", async () => {
    const streams = Array.from({ length: 10 }, () => newStreamId());
    const ids = (await Promise.all(streams.map((s) => appendNotes(db(), s, 6)))).flat();
    const sent: string[] = [];
    const handled: string[] = [];
    const handlers = addHandler(new Map(), "NoteAdded", async (e) => void handled.push(e.metadata.eventId));
    const bus: Bus = { ready: async () => {}, publish: async (e) => void sent.push(e.metadata.eventId), close: async () => {} };
    // Two processes, as outbox_publishers tells them apart.
    const publisher: OutboxDeps = { store: storeOf(db()), handlers, bus, processId: "ward-a:101:aaaaaa" };
    const busless: OutboxDeps = { store: storeOf(db()), handlers, processId: "ward-b:202:bbbbbb" };
    // The publisher's first pass says it publishes (nothing of this test is due to it yet: the
    // bus-less worker's passes below take the rows first).
    await drainOutbox(publisher, { batchSize: 1, maxAttempts: 5 });
    const waiting = async () => Number((await db().sql<{ n: bigint }>("SELECT count(*) AS n FROM outbox WHERE processed_at IS NULL", []))[0]!.n);
    for (let pass = 0; pass < 200 && (await waiting()) > 0; pass++) {
      await drainOutbox(busless, { batchSize: 7, maxAttempts: 5 });
      if (pass % 3 === 2) await drainOutbox(publisher, { batchSize: 7, maxAttempts: 5 });
    }
    expect(await waiting()).toBe(0);
    for (const id of ids) expect(sent).toContain(id);
    expect(new Set(handled).size).toBe(handled.length);
    for (const id of ids) expect(handled).toContain(id);
  });

  it("a worker without a bus finishes handled rows itself once no publisher has been seen for five minutes (RabbitMQ removed)", async () => {
    const [id] = await appendNotes(db(), newStreamId(), 1);
    await db().sql("UPDATE outbox SET handled_at = now() WHERE event_id = $1::uuid", [id]);
    await db().sql("UPDATE outbox_publishers SET seen_at = now() - interval '6 minutes'", []);
    const busless: OutboxDeps = { store: storeOf(db()), handlers: new Map(), processId: "ward-c:303:cccccc" };
    await drainOutbox(busless, { batchSize: 100, maxAttempts: 5 });
    expect((await outboxRow(db(), id!)).processed_at).toBeInstanceOf(Date);
  });

  it("the loop's worker without a bus looks for rows left unpublished at most every sweepEveryMs, and again at once while it finds some", async () => {
    await db().sql("UPDATE outbox_publishers SET seen_at = now() - interval '6 minutes'", []);
    const busless: OutboxDeps = { store: storeOf(db()), handlers: new Map(), processId: "ward-d:404:dddddd" };
    const options = { batchSize: 1, maxAttempts: 5, sweepEveryMs: 60_000 };
    const ids = (await Promise.all([appendNotes(db(), newStreamId(), 1), appendNotes(db(), newStreamId(), 1)])).flat();
    // Handled by a worker that had a bus, never published; its handlers' rows cleared first.
    await drainOutbox(busless, { batchSize: 1_000, maxAttempts: 5 });
    await db().sql("UPDATE outbox SET handled_at = now(), processed_at = NULL WHERE event_id = ANY ($1::uuid[])", [ids]);
    await db().sql("DELETE FROM outbox_publishers WHERE process_id = $1", ["ward-d:404:dddddd"]);
    // That first drain swept (it had no sweepEveryMs): this one is within the minute, so it does not look.
    const first = await drainOutbox(busless, options);
    expect(first.claimed).toBe(0);
    expect((await outboxRow(db(), ids[0]!)).processed_at).toBeNull();
    // As a minute on (another process's clock): each pass finds one, so the next looks at once.
    const later: OutboxDeps = { ...busless, processId: "ward-e:505:eeeeee" };
    const done = async () => (await Promise.all(ids.map((id) => outboxRow(db(), id)))).every((r) => r.processed_at instanceof Date);
    const claims: number[] = [];
    while (claims.length < 20 && !(await done())) claims.push((await drainOutbox(later, options)).claimed);
    expect(await done()).toBe(true);
    expect(claims.length).toBeGreaterThanOrEqual(2);
    expect(claims.every((n) => n === 1)).toBe(true);
  });

  if (!amqpUrl) console.warn("[skipped] outbox to RabbitMQ: AMQP_URL is not set (.ci/run sets it and starts RabbitMQ)");

  it.skipIf(!amqpUrl)("publishes to the emr.events exchange with publisher confirms; messageId is the event id", async () => {
    const connection = await amqp.connect(amqpUrl!);
    const bus = rabbitBus(amqpUrl!);
    try {
      const channel = await connection.createChannel();
      await channel.assertExchange("emr.events", "topic", { durable: true });
      const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, "emr.events", "note.#");
      const received: amqp.ConsumeMessage[] = [];
      await channel.consume(queue, (m) => void (m && received.push(m)), { noAck: true });

      const streamId = newStreamId();
      const correlationId = `test-${randomUUID()}`;
      const first = note(1, { correlationId });
      const second = { ...note(2, { correlationId, causationId: first.eventId }), type: "NoteRemoved", data: { reason: "r" } };
      await appendToStream(storeOf(db()), streamId, [first, second], { expectedVersion: "no_stream", aggregateType: "note" });

      const result = await drainOutbox({ store: storeOf(db()), handlers: new Map(), bus }, { batchSize: 100, maxAttempts: 5 });
      expect(result).toMatchObject({ published: result.claimed, retried: 0 });

      const mine = () => received.filter((m) => m.properties.messageId === first.eventId || m.properties.messageId === second.eventId);
      for (let i = 0; i < 100 && mine().length < 2; i++) await sleep(50);
      const [m1, m2] = mine();
      expect(mine()).toHaveLength(2);
      expect(m1!.properties).toMatchObject({
        messageId: first.eventId,
        deliveryMode: 2,
        contentType: "application/json",
        headers: { "x-correlation-id": correlationId, "x-stream-id": streamId, "x-event-version": 1 },
      });
      expect(m1!.fields.routingKey).toBe("note.NoteAdded");
      expect(JSON.parse(m1!.content.toString())).toMatchObject({
        eventId: first.eventId,
        type: "NoteAdded",
        streamId,
        version: 1,
        data: { text: "note 1", n: 1 },
        metadata: { correlationId, causationId: null },
      });
      expect(m2!.fields.routingKey).toBe("note.NoteRemoved");
      expect(m2!.properties.headers).toMatchObject({ "x-causation-id": first.eventId });
      expect(JSON.parse(m2!.content.toString()).globalPosition).toBeGreaterThan(JSON.parse(m1!.content.toString()).globalPosition);
      expect((await outboxRow(db(), second.eventId)).processed_at).toBeInstanceOf(Date);
    } finally {
      await bus.close();
      await connection.close();
    }
  });
});
