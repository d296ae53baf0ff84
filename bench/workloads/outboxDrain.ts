// 7. Outbox drain: appends at a steady 1,000 events/s (batches of 5 every 5 ms) while the worker
// (server/workers: its handlers' stage and its bus stage, each claiming with SKIP LOCKED and a
// lease) drains the outbox to an in-process handler and, when RabbitMQ answers, to the bus with
// publisher confirms, each stream in order. Measured: end-to-end latency from the start of an
// append to a consumer of a queue bound to emr.events receiving the message (with no broker: to
// the handler seeing the event), p50/p99, the same to the in-process handler, and the events/s
// delivered. The worker polls at the default 1,000 ms but is woken by each append
// (server/workers/wakeup.ts: in-process here, and the NOTIFY after commit that other processes'
// workers LISTEN for), so latency is the store's, not the poll's. raw and peer: no equivalent
// (Emmett has no outbox), so both columns are empty and the target is checked on ours alone.
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { appendToStream, storeOn, type StoredEvent } from "../../server/eventStore";
import { EVENTS_EXCHANGE, rabbitBus } from "../../server/workers/bus";
import { runOutboxLoop } from "../../server/workers/loop";
import { addHandler, type Bus, type HandlerRegistry } from "../../server/workers/outbox";
import { announceAppends, listenForAppends } from "../../server/workers/wakeup";
import { aggregateType, batchFor, benchRegistry, newStreamId } from "../lib/events";
import { installStockParsers } from "../lib/pgTypes";
import { percentile } from "../lib/stats";
import type { Figure, Workload } from "../lib/types";

const pollMs = 1_000;
const batch = 5;
const everyMs = 5; // 5 events every 5 ms: 1,000 events/s

async function reachableBus(url: string): Promise<Bus | null> {
  const bus = rabbitBus(url);
  try {
    await bus.ready();
    return bus;
  } catch {
    await bus.close().catch(() => {});
    return null;
  }
}

export const outboxDrain: Workload = {
  number: 7,
  id: "outbox-drain",
  title: "outbox drain to in-process handlers and RabbitMQ",
  async run(ctx) {
    installStockParsers();
    const db = ctx.oursDatabase;
    const store = storeOn(db, benchRegistry);
    // Earlier rows' events are not this row's business: the worker starts from an empty queue.
    await db.prisma.$executeRawUnsafe("UPDATE outbox SET processed_at = now() WHERE processed_at IS NULL");

    const amqpUrl = process.env.AMQP_URL?.trim() || "amqp://guest:guest@127.0.0.1:5672";
    const bus = await reachableBus(amqpUrl);
    if (!bus) ctx.unavailable.push({ workload: "7. outbox drain", reason: `RabbitMQ did not answer at ${new URL(amqpUrl).host}: in-process handlers only` });

    const started = new Map<string, number>();
    const handled = new Set<string>();
    const received = new Set<string>();
    const handlerLatencies: number[] = [];
    const busLatencies: number[] = [];
    let firstStart = 0;
    let lastSeen = 0;
    const handlers: HandlerRegistry = new Map();
    const seen = async (event: StoredEvent) => {
      const id = event.metadata.eventId;
      const t0 = started.get(id);
      if (t0 === undefined || handled.has(id)) return; // at-least-once: a repeat is counted once
      handled.add(id);
      if (!bus) lastSeen = performance.now();
      handlerLatencies.push(performance.now() - t0);
    };
    for (const type of benchRegistry.types()) addHandler(handlers, type, seen);
    // A consumer as a lab system would be: a queue bound to the exchange before anything is published.
    const consumer = bus ? await amqp.connect(amqpUrl) : null;
    if (consumer) {
      const channel = await consumer.createChannel();
      await channel.assertExchange(EVENTS_EXCHANGE, "topic", { durable: true });
      const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, EVENTS_EXCHANGE, `${aggregateType}.#`);
      await channel.consume(
        queue,
        (m) => {
          const id = m?.properties.messageId as string | undefined;
          const t0 = id === undefined ? undefined : started.get(id);
          if (!id || t0 === undefined || received.has(id)) return;
          received.add(id);
          lastSeen = performance.now();
          busLatencies.push(lastSeen - t0);
        },
        { noAck: true },
      );
    }
    const latencies = bus ? busLatencies : handlerLatencies;

    // Appends through this client wake the worker once committed; the LISTEN connection is what
    // a worker in another process would use (here it also delivers this process's NOTIFYs).
    announceAppends(db);
    const listener = db.mode === "postgresql" && ctx.oursUrl ? listenForAppends(ctx.oursUrl) : null;
    const stop = new AbortController();
    const loop = runOutboxLoop({ store, handlers, bus }, { batchSize: 100, maxAttempts: 5, pollMs, signal: stop.signal });
    const seconds = ctx.sizes.outbox.seconds;
    const total = Math.round((seconds * 1000) / everyMs) * batch;
    try {
      ctx.progress.step(`7 outbox drain: appending 1,000 events/s for ${seconds} s while the worker drains`);
      firstStart = performance.now();
      const appends: Promise<unknown>[] = [];
      let streamId = newStreamId();
      let version = 0;
      for (let i = 0; i * batch < total; i++) {
        // Hold the rate: the i-th append starts at i × 5 ms, whatever the previous ones took.
        const due = firstStart + i * everyMs;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (version >= 100) {
          streamId = newStreamId();
          version = 0;
        }
        const events = batchFor(streamId, version, batch);
        const t0 = performance.now();
        for (const e of events) started.set(e.eventId, t0);
        const expected = version === 0 ? ("no_stream" as const) : version;
        version += batch;
        appends.push(appendToStream(store, streamId, events, { expectedVersion: expected, aggregateType }));
        // Appends to one stream must land in order: wait for this one before the stream's next.
        await appends.at(-1);
      }
      await Promise.all(appends);
      const deadline = performance.now() + 30_000;
      while ((latencies.length < total || handlerLatencies.length < total) && performance.now() < deadline) await sleep(20);
    } finally {
      stop.abort();
      await loop;
      await bus?.close();
      await consumer?.close();
      await listener?.close();
      installStockParsers();
    }
    const delivered = latencies.length;
    const rate = delivered / ((lastSeen - firstStart) / 1000);
    const note = `${total.toLocaleString("en-US")} events appended at 1,000/s in batches of 5; worker: batches of 100, woken by each append (poll fallback every ${pollMs} ms); ${bus ? "in-process handler, then RabbitMQ with publisher confirms, timed to a consumer's queue bound to emr.events" : "in-process handler only (RabbitMQ not reachable)"}; delivered ${delivered.toLocaleString("en-US")}`;
    const figures: Figure[] = [
      {
        workload: "7. outbox drain at 1,000 appended events/s",
        metric: "append-to-publish latency p99",
        unit: "ms",
        ours: percentile(latencies, 99),
        raw: null,
        peer: null,
        target: "< 50 ms at 1,000 appended events/s",
        better: "lower",
        check: ({ ours }) => ours < 50 && delivered === total,
        note,
      },
      {
        workload: "7. outbox drain at 1,000 appended events/s",
        metric: "append-to-publish latency p50",
        unit: "ms",
        ours: percentile(latencies, 50),
        raw: null,
        peer: null,
        target: "< 5 ms at 1,000 appended events/s",
        better: "lower",
        check: ({ ours }) => ours < 5,
      },
      {
        workload: "7. outbox drain at 1,000 appended events/s",
        metric: "delivered",
        unit: "events/s",
        ours: rate,
        raw: null,
        peer: null,
        target: null,
        better: "higher",
      },
    ];
    if (bus) {
      for (const [metric, p] of [["append-to-handler latency p50", 50], ["append-to-handler latency p99", 99]] as const) {
        figures.push({
          workload: "7. outbox drain at 1,000 appended events/s",
          metric,
          unit: "ms",
          ours: percentile(handlerLatencies, p),
          raw: null,
          peer: null,
          target: null,
          better: "lower",
        });
      }
    }
    return figures;
  },
};
