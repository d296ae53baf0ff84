// The outbox worker during a broker outage: appends do not cut its back-off short (one
// connection attempt per append, 133 in 4 s, before), and a broker that stops answering fails
// the publish after the confirm timeout instead of holding the batch for minutes. Against a TCP
// proxy to the real RabbitMQ (AMQP_URL) that refuses, passes nothing while keeping sockets open,
// or cuts the connection while publishes wait for their confirms.
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { appendToStream } from "../eventStore";
import { amqpProxy } from "../testing/amqpProxy";
import { openTestDatabase } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { rabbitBus } from "./bus";
import { runOutboxLoop } from "./loop";
import { addHandler, drainOutbox, publishOutbox } from "./outbox";
import { appended } from "./wakeup";

const amqpUrl = process.env.AMQP_URL?.trim() || null;

/**
 * The local broker's rabbitmqctl, to set max_message_size for one test (RabbitMQ reads it when a
 * channel opens), or null when it cannot be run here (a broker on another machine).
 */
const rabbitmqctl = (() => {
  if (!amqpUrl || !["localhost", "127.0.0.1", "[::1]"].includes(new URL(amqpUrl).hostname)) return null;
  const evaluate = (expression: string) => execFileSync("rabbitmqctl", ["eval", expression], { timeout: 20_000, encoding: "utf8", stdio: "pipe" }).trim();
  try {
    const max = /^\{ok,(\d+)\}$/.exec(evaluate("application:get_env(rabbit, max_message_size)."))?.[1];
    return max ? { maxMessageSize: Number(max), setMaxMessageSize: (bytes: number) => evaluate(`application:set_env(rabbit, max_message_size, ${bytes}).`) } : null;
  } catch {
    return null;
  }
})();

describe("outbox worker and an unreachable or silent broker [embedded database]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => db?.close());

  it("appends during a broker outage do not defeat the back-off: connection attempts stay bounded, and the handlers keep up", { timeout: 30_000 }, async () => {
    const proxy = await amqpProxy(null);
    const bus = rabbitBus(proxy.url, { connectTimeoutMs: 1_000 });
    const stop = new AbortController();
    const store = storeOf(db);
    let handled = 0;
    const handlers = addHandler(new Map(), "NoteAdded", async () => void handled++);
    try {
      const loop = runOutboxLoop({ store, handlers, bus }, { batchSize: 50, maxAttempts: 5, pollMs: 100, signal: stop.signal });
      // 100 appends over ~3 s, each waking the worker as a committed append does.
      const started = Date.now();
      for (let i = 0; i < 100; i++) {
        await appendToStream(store, newStreamId(), [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
        appended(store.db);
        await sleep(30);
      }
      const elapsed = Date.now() - started;
      // The last append's handlers: woken by it, they do not wait for the broker's back-off.
      for (let i = 0; i < 40 && handled < 100; i++) await sleep(25);
      stop.abort();
      await loop;
      // Back-off 200, 400, 800, 1600, 3200 ms ...: a handful of attempts in that time, not one per append.
      expect(elapsed).toBeGreaterThan(2_500);
      expect(proxy.connections()).toBeGreaterThan(1);
      expect(proxy.connections()).toBeLessThanOrEqual(6);
      // Nothing was claimed, so the outage cost no attempts on the rows.
      const [row] = await db.sql<{ n: bigint; tried: bigint; waiting: bigint }>(
        "SELECT count(*) AS n, count(*) FILTER (WHERE attempts > 0) AS tried, count(*) FILTER (WHERE handled_at IS NULL) AS waiting FROM outbox WHERE processed_at IS NULL",
        [],
      );
      expect(Number(row!.n)).toBeGreaterThanOrEqual(100);
      expect(Number(row!.tried)).toBe(0);
      // Every event's in-process handlers ran during the outage (a critical result is flagged at once).
      expect(handled).toBe(100);
      expect(Number(row!.waiting)).toBe(0);
    } finally {
      await bus.close();
      proxy.close();
    }
  });

  it.skipIf(!amqpUrl)("a broker that stops answering fails the publish after the confirm timeout at no cost in tries; the rows go out once it answers", { timeout: 60_000 }, async () => {
    // Earlier rows of this file's database out of the way: only this test's rows count below.
    await db.sql("UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL", []);
    const proxy = await amqpProxy(amqpUrl);
    const bus = rabbitBus(proxy.url, { confirmTimeoutMs: 1_000 });
    const store = storeOf(db);
    const deps = { store, handlers: new Map(), bus };
    try {
      await bus.ready();
      proxy.blackHole();
      await appendToStream(store, newStreamId(), [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      const started = performance.now();
      const stalled = await drainOutbox(deps, { batchSize: 10, maxAttempts: 5 });
      const tookMs = performance.now() - started;
      expect(stalled).toMatchObject({ claimed: 2, published: 0, retried: 0, deadLettered: 0, busUnavailable: expect.stringMatching(/no publisher confirm/) });
      expect(tookMs).toBeLessThan(5_000);
      const rows = await db.sql<{ attempts: number; last_error: string }>("SELECT attempts, last_error FROM outbox WHERE processed_at IS NULL", []);
      expect(rows).toHaveLength(2);
      // No attempt counted (a resource alarm of a few minutes dead-lettered every stream's head), due again at once.
      for (const row of rows) expect(row).toMatchObject({ attempts: 0, last_error: expect.stringMatching(/no publisher confirm/) });
      // However long it lasts (connections that open, then publishes no broker confirms, as under
      // RabbitMQ's resource alarm): the rows are never dead-lettered for it (maxAttempts 1 here).
      const connectedThenSilent = async () => {
        proxy.forward();
        await bus.ready();
        proxy.blackHole();
      };
      await connectedThenSilent();
      const again = await drainOutbox(deps, { batchSize: 10, maxAttempts: 1 });
      expect(again).toMatchObject({ claimed: 2, published: 0, deadLettered: 0, busUnavailable: expect.stringMatching(/no publisher confirm/) });
      // The worker's bus loop backs off on it as on a refused connection.
      await connectedThenSilent();
      await expect(publishOutbox({ ...deps, bus }, { batchSize: 10, maxAttempts: 1 })).rejects.toThrow(/no publisher confirm/);
      expect(await db.sql("SELECT 1 FROM outbox WHERE processed_at IS NULL AND (attempts > 0 OR dead_lettered_at IS NOT NULL)", [])).toEqual([]);

      // The broker answers again: a new connection, and the same rows go out.
      proxy.forward();
      expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 5 })).toMatchObject({ published: 2 });
    } finally {
      await bus.close();
      proxy.close();
    }
  });
  it.skipIf(!amqpUrl)("a connection lost while publishes wait for their confirms costs no try: the rows go back in line, first of their streams", { timeout: 30_000 }, async () => {
    await db.sql("UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL", []);
    const proxy = await amqpProxy(amqpUrl);
    const bus = rabbitBus(proxy.url);
    const store = storeOf(db);
    const deps = { store, handlers: new Map(), bus };
    try {
      await bus.ready();
      await appendToStream(store, newStreamId(), [note(1), note(2), note(3)], { expectedVersion: "no_stream", aggregateType: "note" });
      // The broker takes the messages; its confirms never arrive, and the connection drops (a
      // broker restart, a network cut, a missed heartbeat). amqplib fails every unconfirmed publish
      // then, with an error the bus took for the broker's refusal (a nack): each such cut cost every
      // row in flight a try, and five dead-lettered the head of every stream being published
      // (maxAttempts 1 here: the first is enough to show it).
      proxy.holdReplies();
      const sentBefore = proxy.bytesUp();
      const draining = drainOutbox(deps, { batchSize: 10, maxAttempts: 1 });
      for (let i = 0; i < 200 && proxy.bytesUp() === sentBefore; i++) await sleep(10);
      await sleep(50);
      proxy.cut();
      proxy.forward();
      const cut = await draining;
      expect(cut).toMatchObject({ claimed: 3, published: 0, retried: 0, deadLettered: 0, busUnavailable: expect.stringMatching(/connection/i) });
      const rows = await db.sql<{ attempts: number; dead: boolean; last_error: string }>(
        "SELECT attempts, dead_lettered_at IS NOT NULL AS dead, last_error FROM outbox WHERE processed_at IS NULL ORDER BY id",
        [],
      );
      expect(rows).toHaveLength(3);
      for (const row of rows) expect(row).toMatchObject({ attempts: 0, dead: false, last_error: expect.not.stringMatching(/nack/) });
      // The loop's stage two backs off on it as on a refused connection, then a new connection takes them.
      expect(await drainOutbox(deps, { batchSize: 10, maxAttempts: 1 })).toMatchObject({ published: 3, deadLettered: 0 });
    } finally {
      await bus.close();
      proxy.close();
    }
  });
  it.skipIf(!rabbitmqctl)(
    "a message the broker never takes (larger than max_message_size) is that row's failure alone: it reaches the dead letters holding its stream, and the rows in flight beside it go out",
    { timeout: 60_000 },
    async () => {
      await db.sql("UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL", []);
      const exchange = `emr.events.too-large-${randomUUID()}`;
      const store = storeOf(db);
      const tooLarge = newStreamId();
      await appendToStream(store, tooLarge, [note(1, { data: { text: "x".repeat(100_000), n: 1 } }), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      const others: string[] = [];
      for (let i = 0; i < 4; i++) {
        others.push(newStreamId());
        await appendToStream(store, others[i]!, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      }
      // 64 KiB for the channels opened meanwhile (the events of this suite's other tests are under 1 KiB).
      rabbitmqctl!.setMaxMessageSize(65_536);
      const bus = rabbitBus(amqpUrl!, { exchange });
      try {
        let deadLettered = 0;
        for (let pass = 0; pass < 10 && deadLettered === 0; pass++) {
          // Each pass five minutes on: past every backoff (at most 128 s).
          const now = new Date(Date.now() + pass * 300_000);
          deadLettered += (await drainOutbox({ store, handlers: new Map(), bus }, { batchSize: 20, maxAttempts: 3, now, random: () => 0 })).deadLettered;
        }
        const rows = await db.sql<{ stream_id: string; attempts: number; processed: boolean; dead: boolean; last_error: string | null }>(
          "SELECT stream_id, attempts, processed_at IS NOT NULL AS processed, dead_lettered_at IS NOT NULL AS dead, last_error FROM outbox WHERE stream_id = ANY ($1::text[]) ORDER BY id",
          [[tooLarge, ...others]],
        );
        const [large, behind, ...rest] = rows;
        expect(large).toMatchObject({ stream_id: tooLarge, attempts: 3, dead: true, processed: false, last_error: expect.stringMatching(/^BrokerChannelClosed: RabbitMQ closed the channel: .*PRECONDITION.FAILED/) });
        expect(behind).toMatchObject({ stream_id: tooLarge, dead: false, processed: false });
        // Sent beside it on the channel it closed, they were charged nothing, and went out alone.
        expect(rest).toHaveLength(8);
        for (const row of rest) expect(row).toMatchObject({ attempts: 0, dead: false, processed: true });
      } finally {
        rabbitmqctl!.setMaxMessageSize(rabbitmqctl!.maxMessageSize);
        await bus.close();
      }
    },
  );

  it.skipIf(!amqpUrl)(
    "a channel the broker closes over the publisher, not the message (the exchange gone, no permission to write), costs no attempt, however often: nothing is dead-lettered, and all goes out once it is back",
    { timeout: 30_000 },
    async () => {
      await db.sql("UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL", []);
      // An exchange of this test's own (the shared emr.events stays), deleted behind the bus's back
      // before each pass: the broker closes the channel on the next publish (404 NOT_FOUND), as it
      // does with 403 ACCESS_REFUSED when the user's write permission is taken away.
      const exchange = `emr.events.outage-${randomUUID()}`;
      const bus = rabbitBus(amqpUrl!, { exchange });
      const admin = await amqp.connect(amqpUrl!);
      const store = storeOf(db);
      try {
        for (let i = 0; i < 3; i++) await appendToStream(store, newStreamId(), [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
        // More passes than maxAttempts: counted as the messages' failure, the fifth dead-lettered
        // the head of every stream.
        for (let pass = 0; pass < 6; pass++) {
          await bus.ready();
          await (await admin.createChannel()).deleteExchange(exchange);
          const result = await drainOutbox({ store, handlers: new Map(), bus }, { batchSize: 10, maxAttempts: 5 });
          expect(result).toMatchObject({ published: 0, retried: 0, deadLettered: 0 });
          expect(result.busUnavailable).toMatch(/^BrokerRefusedPublisher: RabbitMQ closed the channel: .*NOT_FOUND/);
        }
        const rows = await db.sql<{ attempts: number; dead: boolean; last_error: string | null }>(
          "SELECT attempts, dead_lettered_at IS NOT NULL AS dead, last_error FROM outbox WHERE processed_at IS NULL ORDER BY id",
          [],
        );
        expect(rows).toHaveLength(6);
        for (const row of rows) expect(row).toMatchObject({ attempts: 0, dead: false });
        // The next connection declares the exchange again, and every row goes out.
        let published = 0;
        for (let pass = 0; pass < 4 && published < 6; pass++) published += (await drainOutbox({ store, handlers: new Map(), bus }, { batchSize: 10, maxAttempts: 5 })).published;
        expect(published).toBe(6);
      } finally {
        await bus.close();
        await (await admin.createChannel()).deleteExchange(exchange).catch(() => {});
        await admin.close();
      }
    },
  );
});
