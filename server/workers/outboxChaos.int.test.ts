// The outbox worker as an operator runs it (the process `npm run worker:outbox` starts), seen from
// outside while things break: it is killed with SIGKILL mid-publish and started again, the broker's
// connection is cut, and the broker goes silent with the connection open (confirms time out),
// all while events are appended to many streams. A consumer on emr.events records what arrives.
// What must hold (README "Consuming emr.events"): every event arrives at least once; each stream's
// events first arrive in version order; no row is left waiting or dead-lettered, and no outage
// cost a row a try; the in-process handler (the critical-result flag) ran for every trigger.
// RabbitMQ is reached through a TCP proxy (server/testing/amqpProxy.ts): the machine's broker is
// shared and stays up. PostgreSQL, a database of its own (the outbox is read whole).
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import amqp from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../api/root";
import { storeFor } from "../api/context";
import { appendToStream, readStream, type NewEvent, type Store } from "../eventStore";
import { patientStream } from "../domain/streams";
import { amqpProxy, type AmqpProxy } from "../testing/amqpProxy";
import { contextFor, newPatient, testUser } from "../testing/caller";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { EVENTS_EXCHANGE } from "./bus";

const root = resolve(import.meta.dirname, "../..");
const tsxLoader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const amqpUrl = process.env.AMQP_URL?.trim() || null;

const STREAMS = 24;
const CRITICAL_ORDERS = 4;

type Arrival = { eventId: string; streamId: string; version: number };

/**
 * The worker process, started as `npm run worker:outbox` starts it (tsx on server/cli/outbox.ts),
 * but without npm in between: SIGKILL must reach the worker itself, not an npm that would leave
 * it running. Each run has its own application_name, so the test can tell when a killed run's
 * database sessions are gone.
 */
class Worker {
  private runs = 0;
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stopping = false;
  output = "";
  /** Exits the test did not cause (a crash). */
  crashes: string[] = [];
  name = "";

  constructor(private readonly env: Record<string, string>) {}

  start(): void {
    this.name = `outbox-chaos-${++this.runs}`;
    const url = new URL(this.env.DATABASE_URL!);
    url.searchParams.set("application_name", this.name);
    const child = spawn(process.execPath, ["--import", tsxLoader, join(root, "server", "cli", "outbox.ts")], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", ...this.env, DATABASE_URL: url.toString() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const name = this.name;
    this.child = child;
    this.stopping = false;
    const append = (d: Buffer) => void (this.output += d.toString());
    child.stdout!.on("data", append);
    child.stderr!.on("data", append);
    this.exited = new Promise((done) =>
      child.on("exit", (code, signal) => {
        if (!this.stopping) this.crashes.push(`${name}: code ${code}, signal ${signal}`);
        done();
      }),
    );
  }

  /** Waits for `pattern` in this run's output (after `from`, an offset into output). */
  async waitFor(pattern: RegExp, from: number, timeoutMs: number): Promise<boolean> {
    for (const end = Date.now() + timeoutMs; Date.now() < end; await sleep(20)) if (pattern.test(this.output.slice(from))) return true;
    return false;
  }

  async stop(signal: "SIGKILL" | "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.stopping = true;
    child.kill(signal);
    await this.exited;
  }
}

describe.skipIf(!pgUrl)("the outbox worker process under chaos [postgresql, a database of its own]", () => {
  describe.skipIf(!amqpUrl)("the outbox worker process while it is killed and the broker is cut off or silent", () => {
    let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
    let proxy: AmqpProxy;
    let consumer: amqp.ChannelModel;
    let worker: Worker;
    const arrivals: Arrival[] = [];

    beforeAll(async () => {
      fresh = await openFreshPostgresDatabase(6);
      proxy = await amqpProxy(amqpUrl);
      // The consumer goes straight to the broker (not through the proxy), bound before anything is
      // published, as README asks of a consumer. The broker is shared: other tests' messages arrive
      // too, and only this database's events count (by event id, below).
      consumer = await amqp.connect(amqpUrl!);
      const channel = await consumer.createChannel();
      await channel.assertExchange(EVENTS_EXCHANGE, "topic", { durable: true });
      const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, EVENTS_EXCHANGE, "#");
      await channel.consume(
        queue,
        (m) => {
          if (!m) return;
          const h = m.properties.headers ?? {};
          arrivals.push({ eventId: String(m.properties.messageId), streamId: String(h["x-stream-id"]), version: Number(h["x-event-version"]) });
        },
        { noAck: true },
      );
      worker = new Worker({
        DATABASE_URL: fresh.ownerUrl,
        AMQP_URL: proxy.url,
        OUTBOX_POLL_MS: "200",
        WORKER_METRICS_PORT: "0",
        // The same key as this process's appends: the worker checks it against the database at start.
        ...(process.env.PHI_MASTER_KEY ? { PHI_MASTER_KEY: process.env.PHI_MASTER_KEY } : {}),
      });
    });
    afterAll(async () => {
      await worker?.stop("SIGKILL");
      await consumer?.close().catch(() => {});
      proxy?.close();
      await fresh?.drop();
    });

    it("every event reaches the consumer, each stream's first arrivals in version order, no row left or dead-lettered, every trigger handled", { timeout: 90_000 }, async () => {
      const db = fresh.db;
      const store: Store = storeFor(db);

      /** A killed run's leases would keep its rows 60 s: the test moves the clock on by that much, for them only. */
      const lapseLeasesOf = async (run: string) => {
        // Its sessions first: a statement it sent before dying still runs, and may take a lease after the kill.
        for (let i = 0; i < 250; i++) {
          const [row] = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [run]);
          if (row!.n === 0) break;
          await sleep(20);
        }
        await db.sql("UPDATE outbox SET next_retry_at = now() WHERE processed_at IS NULL AND next_retry_at > now()", []);
      };
      const restart = async () => {
        const from = worker.output.length;
        worker.start();
        expect(await worker.waitFor(/outbox worker started/, from, 20_000)).toBe(true);
      };
      /** Holds the broker's replies until some are dropped: publishes then await confirms that will not come. */
      const confirmsHeld = async () => {
        proxy.holdReplies();
        const before = proxy.bytesDropped();
        for (const end = Date.now() + 10_000; Date.now() < end && proxy.bytesDropped() === before; ) await sleep(5);
        return proxy.bytesDropped() > before;
      };
      /**
       * Until the consumer gets this test's events again: the worker is connected and publishing (bytes
       * through the proxy alone could be a connection's handshake, and breaking that tests the connect).
       */
      const publishing = async (timeoutMs = 15_000) => {
        const count = () => arrivals.filter((a) => userStreams.has(a.streamId)).length;
        const before = count();
        for (const end = Date.now() + timeoutMs; Date.now() < end && count() === before; ) await sleep(5);
        return count() > before;
      };

      // Appends go on through everything: user streams (no PHI, no handler), a few events at a time.
      const users = Array.from({ length: STREAMS }, () => randomUUID());
      const versions = new Map<string, number>(users.map((u) => [u, 0]));
      const userStreams = new Set(users.map((u) => `user-${u}`));
      let appending = true;
      const roleEvent = (userId: string, v: number): NewEvent => ({
        type: v === 0 ? "UserCreated" : "UserRolesChanged",
        data: v === 0 ? { userId, email: `u${v}@example.test`, name: "Chaos Test", roles: [] } : { userId, previousRoles: [], roles: ["clinician"], reason: `change ${v}` },
        eventId: randomUUID(),
        occurredAt: new Date(),
        userId: "user-chaos",
        correlationId: randomUUID(),
        causationId: null,
      });
      const appender = (async () => {
        let i = 0;
        while (appending) {
          const userId = users[i++ % users.length]!;
          const v = versions.get(userId)!;
          const batch = Array.from({ length: 1 + (i % 3) }, (_, k) => roleEvent(userId, v + k));
          await appendToStream(store, `user-${userId}`, batch, { expectedVersion: v === 0 ? "no_stream" : v, aggregateType: "user" });
          versions.set(userId, v + batch.length);
          await sleep(15);
        }
      })();
      // Lab orders completed with a critical value: the worker's in-process handler flags each on its patient.
      const clinician = createCaller(contextFor(db, testUser(["clinician"])));
      const patients: string[] = [];
      const critical = async () => {
        const { patientId } = await clinician.patient.register(newPatient());
        const order = await clinician.order.create({ patientId, kind: "lab", details: { description: "Potassium, serum" }, priority: "stat" });
        await clinician.order.changeStatus({ orderId: order.orderId, expectedVersion: 1, newStatus: "in_progress" });
        await clinician.order.changeStatus({ orderId: order.orderId, expectedVersion: 2, newStatus: "completed", resultData: { value: 7.2, unit: "mmol/L", flag: "HH" } });
        patients.push(patientId);
      };

      try {
        await restart();
        await critical();
        expect(await publishing()).toBe(true);

        // 1. Killed while the broker has taken its messages and the confirms are on their way: the
        //    worker never learns they went out, so the next run sends them again.
        expect(await confirmsHeld()).toBe(true);
        await worker.stop("SIGKILL");
        proxy.cut();
        proxy.forward();
        await lapseLeasesOf(worker.name);
        await restart();
        await critical();

        // 2. Killed mid-publish with the broker answering.
        expect(await publishing()).toBe(true);
        await worker.stop("SIGKILL");
        await lapseLeasesOf(worker.name);
        await restart();

        // 3. The connection cut with publishes awaiting confirms, and new ones refused for a while.
        expect(await publishing()).toBe(true);
        expect(await confirmsHeld()).toBe(true);
        proxy.refuse();
        const refusedFrom = proxy.connections();
        proxy.cut();
        // The handlers do not wait for the broker: a critical result is flagged while it is away.
        await critical();
        const flagged = async (patientId: string) =>
          (await readStream(store, patientStream(patientId))).some((e) => e.type === "CriticalResultFlagged");
        for (const end = Date.now() + 10_000; Date.now() < end && !(await flagged(patients.at(-1)!)); ) await sleep(50);
        expect(await flagged(patients.at(-1)!)).toBe(true);
        // And the worker's bus has been refused on trying again (its back-off starts at 400 ms).
        for (const end = Date.now() + 10_000; Date.now() < end && proxy.connections() === refusedFrom; ) await sleep(20);
        expect(proxy.connections()).toBeGreaterThan(refusedFrom);
        proxy.forward();

        // 4. The broker silent, the connection open: the worker gives up on the confirms after 15 s
        //    and connects again (the proxy passes new connections again by then).
        expect(await publishing()).toBe(true);
        const from = worker.output.length;
        proxy.blackHole();
        expect(await worker.waitFor(/no publisher confirm from RabbitMQ in time/, from, 25_000)).toBe(true);
        proxy.forward();
        await critical();

        // 5. Killed once more, right after a pass published.
        expect(await publishing()).toBe(true);
        await worker.stop("SIGKILL");
        await lapseLeasesOf(worker.name);
        await restart();
      } finally {
        appending = false;
        await appender;
      }

      // Everything out: no row waiting (nor handled-but-unpublished, nor dead-lettered).
      const outstanding = async () => {
        const [row] = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL", []);
        return row!.n;
      };
      for (const end = Date.now() + 20_000; Date.now() < end && (await outstanding()) > 0; ) await sleep(100);
      const events = await db.sql<{ event_id: string; stream_id: string; version: number }>(
        "SELECT event_id::text AS event_id, stream_id, version::int AS version FROM events ORDER BY global_position",
        [],
      );
      const ids = new Set(events.map((e) => e.event_id));
      for (const end = Date.now() + 10_000; Date.now() < end && new Set(arrivals.filter((a) => ids.has(a.eventId)).map((a) => a.eventId)).size < ids.size; ) await sleep(50);
      await worker.stop("SIGTERM");

      const diagnose = () => `\n${worker.output.split("\n").filter((l) => /warn|error|fatal/i.test(l)).slice(-20).join("\n")}`;
      expect(worker.crashes, diagnose()).toEqual([]);
      const [rows] = await db.sql<{ total: number; unhandled: number; unprocessed: number; dead: number; tried: number }>(
        `SELECT count(*)::int AS total, count(*) FILTER (WHERE handled_at IS NULL)::int AS unhandled,
                count(*) FILTER (WHERE processed_at IS NULL)::int AS unprocessed,
                count(*) FILTER (WHERE dead_lettered_at IS NOT NULL)::int AS dead,
                count(*) FILTER (WHERE attempts > 0)::int AS tried
           FROM outbox`,
        [],
      );
      // Kills, cuts and a silent broker are the bus's troubles, never the rows': no try counted.
      expect(rows, diagnose()).toEqual({ total: events.length, unhandled: 0, unprocessed: 0, dead: 0, tried: 0 });

      // At least once: every event arrived.
      const ours = arrivals.filter((a) => ids.has(a.eventId));
      expect(events.filter((e) => !ours.some((a) => a.eventId === e.event_id)).map((e) => `${e.stream_id} v${e.version}`)).toEqual([]);
      // In order: per stream, the first arrival of each event by version (repeats may come late;
      // a nack, the one documented exception, does not happen here).
      const seen = new Set<string>();
      const firsts = new Map<string, number[]>();
      for (const a of ours) {
        if (seen.has(a.eventId)) continue;
        seen.add(a.eventId);
        firsts.set(a.streamId, [...(firsts.get(a.streamId) ?? []), a.version]);
      }
      const outOfOrder = [...firsts].filter(([, vs]) => vs.some((v, i) => i > 0 && v < vs[i - 1]!)).map(([s, vs]) => `${s}: ${vs.join(",")}`);
      expect(outOfOrder).toEqual([]);
      // The kills after the broker took messages did send some twice: the run was the one meant.
      expect(ours.length).toBeGreaterThan(ids.size);

      // The in-process handler ran for every trigger: each patient flagged once (it dedupes repeats).
      for (const patientId of patients) {
        const flags = (await readStream(store, patientStream(patientId))).filter((e) => e.type === "CriticalResultFlagged");
        expect(flags, patientId).toHaveLength(1);
      }
      expect(patients).toHaveLength(CRITICAL_ORDERS);
    });
  });
});
