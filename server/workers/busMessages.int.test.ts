// What a consumer of emr.events gets in each message, through the real procedures, the real
// outbox and RabbitMQ: the clear fields it routes on, nothing of a patient's in clear, the payload
// at the version it was stored in, and after an erasure nothing that opens.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import amqp from "amqplib";
import { z } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeFor } from "../api/context";
import { appendToStream, createRegistry, defineEvent, storeOn } from "../eventStore";
import { noPhi, PHI_ERASED } from "../eventStore/phi";
import { keyRingOf } from "../eventStore/protect";
import { openSealedPayload } from "../eventStore/phiMessage";
import { callerFor, newPatient } from "../testing/caller";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { EVENTS_EXCHANGE, rabbitBus } from "./bus";
import { outboxHandlers } from "./config";
import { drainOutbox, type Bus } from "./outbox";

const amqpUrl = process.env.AMQP_URL?.trim() || null;

describe.skipIf(!pgUrl)("emr.events messages [postgresql, a database of its own]", () => {
  describe.skipIf(!amqpUrl)("emr.events messages as a consumer reads them", () => {
    let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>> | undefined;
    let connection: amqp.ChannelModel;
    let bus: Bus;
    const received: amqp.ConsumeMessage[] = [];
    const db = () => fresh!.db;
    beforeAll(async () => {
      fresh = await openFreshPostgresDatabase(20);
      bus = rabbitBus(amqpUrl!);
      connection = await amqp.connect(amqpUrl!);
      const channel = await connection.createChannel();
      await channel.assertExchange(EVENTS_EXCHANGE, "topic", { durable: true });
      const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
      await channel.bindQueue(queue, EVENTS_EXCHANGE, "#");
      await channel.consume(queue, (m) => void (m && received.push(m)), { noAck: true });
    });
    afterAll(async () => {
      await bus?.close();
      await connection?.close();
      await fresh?.drop();
    });

    const bodyOf = (m: Pick<amqp.Message, "content">) => JSON.parse(m.content.toString());
    const ofStreams = (streams: string[]) => received.filter((m) => streams.includes(bodyOf(m).streamId));
    async function drainAll(store = storeFor(db())) {
      while ((await drainOutbox({ store, handlers: outboxHandlers(store), bus }, { batchSize: 100, maxAttempts: 5 })).claimed > 0);
    }
    async function waitFor(streams: string[], count: number) {
      for (let i = 0; i < 200 && ofStreams(streams).length < count; i++) await sleep(25);
      return ofStreams(streams);
    }

    it("names the event in clear fields (routing key, type, stream, versions, position, ids, times) and nothing of the patient", async () => {
      const clinician = callerFor(db(), ["clinician"]);
      const person = newPatient({ givenName: `Gwendolyn${randomUUID().slice(0, 4)}`, familyName: `Featherstone${randomUUID().slice(0, 4)}`, dateOfBirth: "1961-03-17" });
      const { patientId } = await clinician.patient.register(person);
      const { orderId } = await clinician.order.create({ patientId, kind: "lab", details: { code: "2345-7", description: "Glucose, serum" } });
      await clinician.order.changeStatus({ orderId, newStatus: "cancelled", reason: `drawn in error for ${person.familyName}`, expectedVersion: 1 });
      await drainAll();
      const streams = [`patient-${patientId}`, `order-${orderId}`];
      const messages = await waitFor(streams, 3);
      expect(messages.map((m) => m.fields.routingKey)).toEqual(["patient.PatientRegistered", "order.OrderCreated", "order.OrderStatusChanged"]);

      const phi = [person.givenName, person.familyName, person.mrn, person.dateOfBirth, person.email, person.phone];
      for (const m of messages) {
        const body = bodyOf(m);
        expect(m.fields.routingKey).toBe(`${body.aggregateType}.${body.type}`);
        expect(m.properties).toMatchObject({
          contentType: "application/json",
          contentEncoding: "utf-8",
          deliveryMode: 2,
          messageId: body.eventId,
          type: body.type,
          correlationId: body.metadata.correlationId,
          timestamp: Math.floor(Date.parse(body.metadata.recordedAt) / 1000),
          appId: "emr",
          headers: {
            "x-aggregate-type": body.aggregateType,
            "x-stream-id": body.streamId,
            "x-event-version": body.version,
            "x-global-position": body.globalPosition,
            "x-schema-version": body.metadata.schemaVersion,
            "x-correlation-id": body.metadata.correlationId,
            "x-causation-id": body.metadata.causationId,
          },
        });
        expect(body.metadata).toMatchObject({ eventId: body.eventId, schemaVersion: expect.any(Number), occurredAt: expect.any(String), userId: expect.any(String) });
        // Nothing a consumer without keys can read names the patient: not the routing key, not a
        // property or header, not the body's clear fields.
        const clear = JSON.stringify([m.fields.routingKey, m.properties, body]);
        for (const value of phi) expect(clear).not.toContain(value);
        expect(clear).not.toContain("drawn in error");
      }
      const [, placed, cancelled] = messages.map(bodyOf);
      expect(placed).toMatchObject({ aggregateType: "order", streamId: `order-${orderId}`, version: 1, data: { orderId, patientId, kind: "lab" } });
      expect(cancelled).toMatchObject({ version: 2, data: { orderId, previousStatus: "placed", newStatus: "cancelled" }, metadata: { causationId: expect.stringMatching(/^command:/) } });
      expect(cancelled.globalPosition).toBeGreaterThan(placed.globalPosition);
    });

    it("carries the payload as stored, at the schema version the message names, whether or not it holds PHI", async () => {
      // An event written by an earlier release (v1), published by this one (v2, with an upcaster).
      const v1 = createRegistry([defineEvent("BusShape", z.object({ a: z.string() }), { phi: noPhi })]);
      const v2 = createRegistry([
        defineEvent("BusShape", z.object({ a: z.string(), b: z.string() }), { version: 2, upcasters: { 1: (d) => ({ ...d, b: "upcast" }) }, phi: noPhi }),
      ]);
      const stream = newStreamId("shape");
      const old = { ...note(1), type: "BusShape", data: { a: "stored at v1" } };
      await appendToStream(storeOn(db(), v1), stream, [old], { expectedVersion: "no_stream", aggregateType: "shape" });
      await drainAll(storeOn(db(), v2));
      const [m] = await waitFor([stream], 1);
      const body = bodyOf(m!);
      expect(body.metadata.schemaVersion).toBe(1);
      expect(m!.properties.headers).toMatchObject({ "x-schema-version": 1 });
      expect(body.data).toEqual({ a: "stored at v1" });
    });

    it("after the patient's erasure: a message still queued and a re-delivery of an old row open to erased", async () => {
      const clinician = callerFor(db(), ["clinician"]);
      const person = newPatient();
      const { patientId } = await clinician.patient.register(person);
      await drainAll();
      const stream = `patient-${patientId}`;
      const [queued] = await waitFor([stream], 1);
      const admin = callerFor(db(), ["admin"]);
      await admin.admin.erasePatient({ patientId, confirmMrn: person.mrn, reason: "Erasure request under the retention policy" });
      // The worker delivers the registration once more (at-least-once: a lease ran out).
      await db().sql("UPDATE outbox SET processed_at = NULL, next_retry_at = now() WHERE stream_id = $1", [stream]);
      await drainAll();
      const messages = await waitFor([stream], 3);
      const bodies = messages.map(bodyOf);
      expect(bodies.map((b) => b.type)).toEqual(["PatientRegistered", "PatientRegistered", "PatientErased"]);
      const keys = { sql: db().sql, ring: keyRingOf(storeFor(db())) };
      for (const body of [bodyOf(queued!), bodies[1]]) {
        expect(await openSealedPayload(body.type, body.data, keys, body)).toMatchObject({ patientId, givenName: PHI_ERASED, familyName: PHI_ERASED, mrn: PHI_ERASED, dateOfBirth: PHI_ERASED });
      }
    });

    it("a large event (a 64 KB result) and a burst go through whole, each stream in order", async () => {
      const clinician = callerFor(db(), ["clinician"]);
      const { patientId } = await clinician.patient.register(newPatient());
      const { orderId } = await clinician.order.create({ patientId, kind: "lab", details: { description: "Panel" } });
      await clinician.order.changeStatus({ orderId, newStatus: "in_progress", expectedVersion: 1 });
      const resultData = { values: Array.from({ length: 6 }, (_, i) => ({ code: `c${i}`, text: "x".repeat(9_900) })) };
      expect(Buffer.byteLength(JSON.stringify(resultData))).toBeGreaterThan(59_000);
      await clinician.order.changeStatus({ orderId, newStatus: "completed", resultData, expectedVersion: 2 });
      // A 3 MB payload through the store (no procedure accepts one: bodies stop at 2 MB): many AMQP frames.
      const big = newStreamId();
      await appendToStream(storeOf(db()), big, [{ ...note(1), data: { text: "y".repeat(3_000_000), n: 1 } }], { expectedVersion: "no_stream", aggregateType: "note" });
      const burst = Array.from({ length: 20 }, () => newStreamId());
      for (let v = 0; v < 25; v++) {
        await Promise.all(burst.map((s) => appendToStream(storeOf(db()), s, [note(2 * v + 1), note(2 * v + 2)], { expectedVersion: 2 * v, aggregateType: "note" })));
      }
      await drainAll(storeOf(db()));
      const streams = [`order-${orderId}`, big, ...burst];
      const messages = await waitFor(streams, 3 + 1 + 20 * 50);
      expect(messages).toHaveLength(3 + 1 + 20 * 50);
      const completed = bodyOf(messages.find((m) => bodyOf(m).streamId === `order-${orderId}` && bodyOf(m).version === 3)!);
      expect(completed.data).toMatchObject({ newStatus: "completed" });
      expect(bodyOf(messages.find((m) => bodyOf(m).streamId === big)!).data.text).toHaveLength(3_000_000);
      for (const s of burst) expect(messages.filter((m) => bodyOf(m).streamId === s).map((m) => bodyOf(m).version)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await db().sql("SELECT id FROM outbox WHERE processed_at IS NULL", [])).toEqual([]);
    });

    it("two workers on connections of their own, small batches: each stream's messages reach the queue in version order", async () => {
      const streams = Array.from({ length: 12 }, () => newStreamId());
      for (let v = 0; v < 10; v++) {
        await Promise.all(streams.map((s) => appendToStream(storeOf(db()), s, [note(2 * v + 1), note(2 * v + 2)], { expectedVersion: 2 * v, aggregateType: "note" })));
      }
      const second = rabbitBus(amqpUrl!);
      const waiting = async () => Number((await db().sql<{ n: bigint }>("SELECT count(*) AS n FROM outbox WHERE processed_at IS NULL", []))[0]!.n);
      const worker = async (own: Bus) => {
        // Until nothing waits: a worker that finds every stream's head leased to the other tries again.
        for (let pass = 0; pass < 2_000 && (await waiting()) > 0; pass++) {
          await drainOutbox({ store: storeOf(db()), handlers: new Map(), bus: own }, { batchSize: 7, maxAttempts: 5 });
        }
      };
      try {
        await Promise.all([worker(bus), worker(second)]);
      } finally {
        await second.close();
      }
      const messages = await waitFor(streams, 12 * 20);
      expect(messages).toHaveLength(12 * 20);
      for (const s of streams) expect(messages.filter((m) => bodyOf(m).streamId === s).map((m) => bodyOf(m).version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    });

    it("a queue bound before publication keeps events for a consumer that is away; one bound after gets none of them", async () => {
      const key = `away${randomUUID().slice(0, 8)}`;
      const channel = await connection.createChannel();
      const early = `emr_bus_test_early_${key}`;
      const late = `emr_bus_test_late_${key}`;
      try {
        await channel.assertQueue(early, { durable: true });
        await channel.bindQueue(early, EVENTS_EXCHANGE, `${key}.#`);
        const stream = newStreamId(key);
        await appendToStream(storeOf(db()), stream, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: key });
        await drainAll(storeOf(db()));
        await channel.assertQueue(late, { durable: true });
        await channel.bindQueue(late, EVENTS_EXCHANGE, `${key}.#`);
        // The consumer comes back: its queue held both, in order; the late queue never saw them.
        const got = [await channel.get(early, { noAck: true }), await channel.get(early, { noAck: true })];
        expect(got.map((m) => m && bodyOf(m).version)).toEqual([1, 2]);
        expect(await channel.get(late, { noAck: true })).toBe(false);
        // And the outbox took them for delivered: nothing retries them.
        expect(await db().sql("SELECT id FROM outbox WHERE stream_id = $1 AND processed_at IS NULL", [stream])).toEqual([]);
      } finally {
        await channel.deleteQueue(early).catch(() => {});
        await channel.deleteQueue(late).catch(() => {});
        await channel.close().catch(() => {});
      }
    });

    it("a consumer's full queue (reject-publish): the broker refuses, the rows are retried with the reason", async () => {
      const key = `full${randomUUID().slice(0, 8)}`;
      const channel = await connection.createChannel();
      const queue = `emr_bus_test_${key}`;
      try {
        await channel.assertQueue(queue, { durable: true, arguments: { "x-max-length": 1, "x-overflow": "reject-publish" } });
        await channel.bindQueue(queue, EVENTS_EXCHANGE, `${key}.#`);
        const stream = newStreamId(key);
        await appendToStream(storeOf(db()), stream, [note(1), note(2), note(3)], { expectedVersion: "no_stream", aggregateType: key });
        const store = storeOf(db());
        expect(await drainOutbox({ store, handlers: new Map(), bus }, { batchSize: 100, maxAttempts: 5 })).toMatchObject({ published: 1, retried: 2 });
        const rows = await db().sql<{ attempts: number; last_error: string | null }>("SELECT attempts, last_error FROM outbox WHERE stream_id = $1 ORDER BY id", [stream]);
        const refused = { attempts: 1, last_error: `BrokerNack: RabbitMQ refused the message (nack): a queue bound for ${key}.NoteAdded is full (reject-publish) or could not store it` };
        expect(rows.slice(1)).toEqual([refused, refused]);
      } finally {
        await channel.deleteQueue(queue).catch(() => {});
        await channel.close().catch(() => {});
      }
    });
  });
});
