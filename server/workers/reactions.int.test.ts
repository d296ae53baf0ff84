// The handler chain: a lab order completed with a critical value (the trigger), delivered through
// the outbox to the in-process reaction, raises CriticalResultFlagged on the patient, caused by the
// trigger; delivering the same outbox message again writes nothing. On databases of their own:
// the outbox is global, and the shared test database would hand these drains other files' rows.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { readCausalTree, readStream, type Store, type StoredEvent } from "../eventStore";
import type { ResultData } from "../domain/order/events";
import { orderStream, patientStream } from "../domain/streams";
import { eventDetail } from "../projections/audit";
import { contextFor, newPatient, testUser } from "../testing/caller";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import { createCaller } from "../api/root";
import { outboxHandlers } from "./config";
import { rabbitBus } from "./bus";
import { drainOutbox } from "./outbox";
import { flagCriticalResults, reactionEventId } from "./reactions";

const kinds = [{ kind: "embedded" as const }, ...(pgUrl ? [{ kind: "postgresql" as const }] : [])];

describe.each(kinds)("critical result reaction [$kind]", ({ kind }) => {
  let db: Database;
  let drop = async () => {};
  let store: Store;
  const clinician = testUser(["clinician"]);
  let api: ReturnType<typeof createCaller>;

  beforeAll(async () => {
    if (kind === "embedded") {
      db = await openTestDatabase("embedded");
      drop = () => db.close();
    } else {
      ({ db, drop } = await openFreshPostgresDatabase(4));
    }
    const ctx = contextFor(db, clinician);
    store = ctx.store;
    api = createCaller(ctx);
  });
  afterAll(async () => {
    await drop();
  });

  const drainOnce = () => drainOutbox({ store, handlers: outboxHandlers(store) }, { batchSize: 100, maxAttempts: 5 });
  /** Until nothing is due: the reactions' own events are outbox rows too. */
  const drain = async () => {
    const total = { handled: 0, claimed: 0, published: 0, retried: 0, deadLettered: 0 };
    for (let r = await drainOnce(); r.claimed > 0; r = await drainOnce()) {
      for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += r[k];
    }
    return total;
  };

  /** A lab order for a new patient, taken to completed with this result; the completion event. */
  async function completedLab(resultData: ResultData, orderKind: "lab" | "imaging" = "lab") {
    const { patientId } = await api.patient.register(newPatient());
    const order = await api.order.create({ patientId, kind: orderKind, details: { description: "Potassium, serum" }, priority: "stat" });
    await api.order.changeStatus({ orderId: order.orderId, expectedVersion: 1, newStatus: "in_progress" });
    await api.order.changeStatus({ orderId: order.orderId, expectedVersion: 2, newStatus: "completed", resultData });
    const trigger = (await readStream(store, orderStream(order.orderId))).at(-1)!;
    return { patientId, orderId: order.orderId, trigger };
  }

  const flagsOf = async (patientId: string) => (await readStream(store, patientStream(patientId))).filter((e) => e.type === "CriticalResultFlagged");

  it("raises CriticalResultFlagged on the patient, caused by the completion, in its request, by its user", async () => {
    const { patientId, orderId, trigger } = await completedLab({
      Potassium: { value: 6.9, unit: "mmol/L", flag: "HH" },
      Sodium: { value: 140, unit: "mmol/L", flag: "N" },
    });
    expect(await drain()).toMatchObject({ published: expect.any(Number), retried: 0, deadLettered: 0 });

    const flags = await flagsOf(patientId);
    expect(flags).toHaveLength(1);
    const flag = flags[0]!;
    expect(flag.data).toEqual({
      patientId,
      orderId,
      orderKind: "lab",
      orderDescription: "Potassium, serum",
      findings: [{ name: "Potassium", value: 6.9, unit: "mmol/L", flag: "HH" }],
      resultedAt: (trigger.data as { changedAt: string }).changedAt,
    });
    expect(flag.metadata).toMatchObject({
      eventId: reactionEventId("CriticalResultFlagged", trigger),
      causationId: trigger.metadata.eventId,
      correlationId: trigger.metadata.correlationId,
      userId: clinician.id,
      schemaVersion: 1,
    });

    // The audit's causes and effects: command -> completion -> flag, a chain of more than one step.
    const detail = await eventDetail(store, flag.metadata.eventId);
    expect(detail?.causedBy.map((e) => e.metadata.eventId)).toEqual([trigger.metadata.eventId]);
    expect(`command:${detail?.causedByCommand}`).toBe(trigger.metadata.causationId);
    const down = await eventDetail(store, trigger.metadata.eventId);
    expect(down?.caused.map((e) => [e.type, e.depth])).toEqual([["CriticalResultFlagged", 1]]);
    // The whole chain as one tree across records, fetched in one query: the command's events at
    // the root (the completion on the order), the flag on the patient under the completion.
    expect(detail?.tree.rootCause).toBe(trigger.metadata.causationId);
    const nodes = detail!.tree.nodes.map((n) => [n.type, n.aggregateType, n.depth, n.parentId]);
    expect(nodes).toEqual([
      ["OrderStatusChanged", "order", 1, null],
      ["CriticalResultFlagged", "patient", 2, trigger.metadata.eventId],
    ]);
    let statements = 0;
    const counted: Store = { ...store, sql: (text, params) => (statements++, store.sql(text, params)) };
    expect((await readCausalTree(counted, flag.metadata.eventId))?.events).toHaveLength(2);
    expect(statements).toBe(1);

    // The chart's read model moved with the stream, so the next edit is not refused as stale.
    const version = (await readStream(store, patientStream(patientId))).length;
    const row = await db.prisma.rmPatient.findUnique({ where: { patientId }, select: { version: true } });
    expect(row?.version).toBe(version);
    await api.patient.updateDemographics({ patientId, expectedVersion: version, changes: { phone: "+1 555 0199" }, reason: "Patient called" });
  });

  it("flags a critical result while the message bus is down: the handlers do not wait for the broker, and the outage costs no attempt", async () => {
    const { patientId, trigger } = await completedLab({ value: 7.4, unit: "mmol/L", flag: "HH" });
    const down = rabbitBus("amqp://guest:guest@127.0.0.1:1", { connectTimeoutMs: 1_000 });
    try {
      const result = await drainOutbox({ store, handlers: outboxHandlers(store), bus: down }, { batchSize: 100, maxAttempts: 5 });
      expect(result.busUnavailable).toMatch(/ECONNREFUSED|connect/);
      expect(result).toMatchObject({ claimed: 0, published: 0, retried: 0, deadLettered: 0 });
      expect(result.handled).toBeGreaterThanOrEqual(1);
    } finally {
      await down.close();
    }
    expect(await flagsOf(patientId)).toHaveLength(1);
    const row = async () =>
      (
        await db.sql<{ handled: boolean; processed: boolean; attempts: number }>(
          "SELECT handled_at IS NOT NULL AS handled, processed_at IS NOT NULL AS processed, attempts FROM outbox WHERE event_id = $1::uuid",
          [trigger.metadata.eventId],
        )
      )[0];
    expect(await row()).toEqual({ handled: true, processed: false, attempts: 0 });
    // The bus back (here, a worker without one: handled is done), the row goes out; no second flag.
    await drain();
    expect(await row()).toEqual({ handled: true, processed: true, attempts: 0 });
    expect(await flagsOf(patientId)).toHaveLength(1);
  });

  it("writes nothing twice when the same outbox message is delivered again", async () => {
    const { patientId, trigger } = await completedLab({ value: 2.0, unit: "mmol/L", flag: "LL" });
    await drain();
    const before = await readStream(store, patientStream(patientId));
    expect(before.filter((e) => e.type === "CriticalResultFlagged")).toHaveLength(1);

    // The same message due again, as after a worker died between publishing and marking it.
    await db.sql("UPDATE outbox SET handled_at = NULL, processed_at = NULL, next_retry_at = now() - interval '1 second' WHERE event_id = $1::uuid", [
      trigger.metadata.eventId,
    ]);
    const again = await drainOnce();
    expect(again).toMatchObject({ claimed: 1, published: 1, retried: 0 });
    // And two deliveries at once, straight to the handler.
    const handler = flagCriticalResults(store);
    await Promise.all([handler(trigger), handler(trigger)]);

    const after = await readStream(store, patientStream(patientId));
    expect(after.map((e) => e.metadata.eventId)).toEqual(before.map((e) => e.metadata.eventId));
  });

  it("does nothing for normal or merely abnormal results, or other kinds of orders", async () => {
    const normal = await completedLab({ value: 5.4, unit: "mmol/L", flag: "H" });
    const imaging = await completedLab({ impression: "Large pneumothorax", flag: "AA" }, "imaging");
    await drain();
    expect(await flagsOf(normal.patientId)).toEqual([]);
    expect(await flagsOf(imaging.patientId)).toEqual([]);
  });

  it("records nothing, and fails nothing, for a patient erased before the result reached the handler", async () => {
    // The completion as a worker read it before the erasure (its key still cached, or the message
    // in flight): the findings are there, the patient is gone.
    const { patientId, trigger } = await completedLab({ value: 7.3, unit: "mmol/L", flag: "HH" });
    const [{ mrn }] = (await db.sql<{ mrn: string }>("SELECT mrn FROM rm_patients WHERE patient_id = $1::uuid", [patientId])) as [{ mrn: string }];
    await createCaller(contextFor(db, testUser(["admin"]))).admin.erasePatient({ patientId, confirmMrn: mrn, reason: "data subject request 2026-45" });
    await expect(flagCriticalResults(store)(trigger)).resolves.toBeUndefined();
    expect(await flagsOf(patientId)).toEqual([]);
  });

  it("ignores a completion whose order stream holds no order", async () => {
    const { trigger } = await completedLab({ value: 7.1, unit: "mmol/L", flag: "HH" });
    await drain();
    const orphan: StoredEvent = { ...trigger, streamId: orderStream(randomUUID()), metadata: { ...trigger.metadata, eventId: randomUUID() } };
    await expect(flagCriticalResults(store)(orphan)).resolves.toBeUndefined();
  });
});
