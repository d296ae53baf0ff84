// A command decided on another record's facts commits only on those facts as they still are:
// an order placed as the patient's allergy to it is recorded, or on an encounter as it is
// completed, either commits before that change (in commit order and in recorded time) or is
// decided again on the new facts (refused). refusingErased + onFreshFacts (erasure.ts), through
// stream_versions_decided_on (migration 20261217010000).
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { expect, it } from "vitest";
import type { Database } from "../db/client";
import { ConcurrencyError } from "../errors";
import { appendToStream, loadAggregate, prismaRunner } from "../eventStore";
import { isRetryableTransactionError, storeIn } from "../eventStore/db";
import { orderDecider } from "../domain/order/decider";
import { patientCheck, patientDecider } from "../domain/patient/decider";
import { encounterStream, orderStream, patientStream } from "../domain/streams";
import { projectOrder } from "../projections/clinical";
import { callerAs, contextFor, newPatient } from "../testing/caller";
import { newStreamId, note, storeOf } from "../testing/events";
import { describeEachDatabase, describePostgres } from "../testing/db";
import { runCommand } from "./commands";
import type { SessionUser } from "./context";
import { erasePatient, onFreshFacts, refusingErased, StaleFactsError } from "./erasure";

const clinician: SessionUser = { id: "clinician-facts", email: "facts@example.test", name: "Fran Facts", roles: ["clinician"] };
const races = 24;

type Row = { stream_id: string; event_type: string; recorded_at: Date };

/** The two streams' events in the log's commit order (transaction, then position). */
async function inCommitOrder(db: () => Database, streams: string[]): Promise<Row[]> {
  return db().sql<Row>("SELECT stream_id, event_type, recorded_at FROM events WHERE stream_id = ANY ($1::text[]) ORDER BY transaction_id, global_position", [streams]);
}

/** Whether `first` comes before `then` both in commit order and in recorded time. */
function before(rows: Row[], first: string, then: string): boolean {
  const a = rows.findIndex((r) => r.event_type === first);
  const b = rows.findIndex((r) => r.event_type === then);
  return a >= 0 && b >= 0 && a < b && rows[a]!.recorded_at.getTime() <= rows[b]!.recorded_at.getTime();
}

describePostgres("a decision commits only on the facts it read", (db) => {
  it("a medication order and an allergy to it at the same moment: the order commits before the allergy, or is refused for it", { timeout: 180_000 }, async () => {
    const api = await callerAs(db(), clinician);
    const other = await callerAs(db(), clinician);
    let refused = 0;
    for (let i = 0; i < races; i++) {
      const { patientId } = await api.patient.register(newPatient());
      const [order, allergy] = await Promise.allSettled([
        api.order.create({ patientId, kind: "medication", priority: "routine", details: { description: "Amoxicillin 500 mg" } }),
        new Promise((r) => setTimeout(r, i % 6)).then(() =>
          other.patient.recordAllergy({ patientId, substance: { code: "penicillin", text: "Penicillin" }, reaction: "anaphylaxis", severity: "severe", source: "patient", note: null }),
        ),
      ]);
      expect(allergy.status).toBe("fulfilled");
      if (order.status === "rejected") {
        expect((order.reason as TRPCError).code).toBe("PRECONDITION_FAILED");
        refused++;
        continue;
      }
      const rows = await inCommitOrder(db, [patientStream(patientId), orderStream(order.value.orderId)]);
      expect(before(rows, "OrderCreated", "AllergyRecorded"), rows.map((r) => `${r.event_type}@${r.recorded_at.toISOString()}`).join(" -> ")).toBe(true);
    }
    // Both outcomes happen: the race is real.
    expect(refused).toBeGreaterThan(0);
  });

  it("an order on an encounter as it is completed: the order commits before the completion, or is refused for it", { timeout: 180_000 }, async () => {
    const api = await callerAs(db(), clinician);
    const other = await callerAs(db(), clinician);
    for (let i = 0; i < races; i++) {
      const { patientId } = await api.patient.register(newPatient());
      const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient", reason: "Review" });
      const [order, completed] = await Promise.allSettled([
        api.order.create({ patientId, encounterId, kind: "procedure", priority: "routine", details: { description: "Wound dressing" } }),
        new Promise((r) => setTimeout(r, i % 4)).then(() => other.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Seen", dischargeDisposition: "home" })),
      ]);
      expect(completed.status).toBe("fulfilled");
      if (order.status === "rejected") {
        expect((order.reason as TRPCError).code).toBe("PRECONDITION_FAILED");
        continue;
      }
      const rows = await inCommitOrder(db, [encounterStream(encounterId), orderStream(order.value.orderId)]);
      expect(before(rows, "OrderCreated", "EncounterCompleted"), rows.map((r) => `${r.event_type}@${r.recorded_at.toISOString()}`).join(" -> ")).toBe(true);
    }
  });
});

/** What a promise failed with (null when it did not), so a rejection is never left unhandled. */
const failureOf = (promise: Promise<unknown>): Promise<unknown> => promise.then(() => null, (e: unknown) => e);

/** A latch: `open()` lets every `wait` through. */
function latch(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

/** Until the backend `pid` waits for a lock (a row another transaction holds). */
async function waitingForLock(db: () => Database, pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const [row] = await db().sql<{ wait: string | null }>("SELECT wait_event_type AS wait FROM pg_stat_activity WHERE pid = $1", [pid]);
    if (row?.wait === "Lock") return;
    if (Date.now() > deadline) throw new Error(`backend ${pid} never waited for a lock`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A decision on `facts` in a transaction of its own (stream_versions_decided_on, as
 * refusingErased reads it), held open until `commit` opens; resolves with the database's clock
 * just before its commit.
 */
function deciding(db: () => Database, facts: string, decided: () => void, commit: Promise<void>): Promise<Date> {
  return db().prisma.$transaction(
    async (tx) => {
      const run = prismaRunner(tx);
      await run("SELECT stream_id, version FROM stream_versions_decided_on($1::text[])", [[facts]]);
      decided();
      await commit;
      const [now] = await run<{ at: Date }>("SELECT clock_timestamp() AS at", []);
      return now!.at;
    },
    { timeout: 30_000 },
  );
}

describePostgres("a decision orders the appends to the records it read", (db) => {
  it("an append whose transaction began writing before the decision, and waited for it, is refused as retryable instead of sorting before it", { timeout: 60_000 }, async () => {
    const store = storeOf(db());
    const facts = newStreamId("note-facts");
    await appendToStream(store, facts, [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
    const olderHasId = latch();
    const decided = latch();
    const commitDecision = latch();
    let olderPid = 0;
    // The older transaction draws its id first (as the completion's did on its way into the
    // stream row), then appends to the stream the decision read.
    const older = failureOf(
      db().prisma.$transaction(
        async (tx) => {
          const run = prismaRunner(tx);
          const [me] = await run<{ pid: number }>("SELECT pg_backend_pid() AS pid, pg_current_xact_id()::text AS xid", []);
          olderPid = me!.pid;
          olderHasId.open();
          await decided.wait;
          return appendToStream(storeIn(store, tx), facts, [note(2)], { expectedVersion: 1, aggregateType: "note" });
        },
        { timeout: 30_000 },
      ),
    );
    await olderHasId.wait;
    const decision = deciding(db, facts, decided.open, commitDecision.wait);
    await decided.wait;
    await waitingForLock(db, olderPid);
    commitDecision.open();
    await decision;
    const error = await older;
    expect(isRetryableTransactionError(error), String(error)).toBe(true);
    // Run again, it sorts after the decision.
    const again = await appendToStream(store, facts, [note(2)], { expectedVersion: 1, aggregateType: "note" });
    expect(again.nextExpectedVersion).toBe(2);
  });

  it("an erasure whose transaction began writing before a write about the patient committed is refused as retryable, not sorted before that write", { timeout: 60_000 }, async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    const { orderId } = await api.order.create({ patientId, kind: "procedure", priority: "routine", details: { description: "Wound dressing" } });
    const hasId = latch();
    const written = latch();
    const admin: SessionUser = { id: "admin-facts", email: "admin-facts@example.test", name: "Ada Admin", roles: ["admin"] };
    const older = failureOf(
      db().prisma.$transaction(
        async (tx) => {
          await prismaRunner(tx)("SELECT pg_current_xact_id()::text AS xid", []);
          hasId.open();
          await written.wait;
          const ctx = contextFor(db(), admin);
          return erasePatient({ store: storeIn(ctx.store, tx), user: admin, correlationId: ctx.correlationId }, { patientId, reason: "data subject request" });
        },
        { timeout: 30_000 },
      ),
    );
    await hasId.wait;
    // A write about the patient on a stream of its own, decided on nothing of the patient's.
    await api.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "in_progress" });
    written.open();
    const error = await older;
    expect(isRetryableTransactionError(error), String(error)).toBe(true);
    // Run again, the erasure sorts after the write it followed.
    const ctx = contextFor(db(), admin);
    await erasePatient({ store: ctx.store, user: admin, correlationId: ctx.correlationId }, { patientId, reason: "data subject request" });
    const rows = await inCommitOrder(db, [patientStream(patientId), orderStream(orderId)]);
    expect(before(rows, "OrderStatusChanged", "PatientErased"), rows.map((r) => r.event_type).join(" -> ")).toBe(true);
  });

  it("an append that waited for a decision on its stream carries a recorded time after the decision's commit", { timeout: 60_000 }, async () => {
    const store = storeOf(db());
    const facts = newStreamId("note-facts");
    await appendToStream(store, facts, [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
    const decided = latch();
    const commitDecision = latch();
    const decision = deciding(db, facts, decided.open, commitDecision.wait);
    await decided.wait;
    let pid = 0;
    const appendStarted = latch();
    const append = db().prisma.$transaction(
      async (tx) => {
        const [me] = await prismaRunner(tx)<{ pid: number }>("SELECT pg_backend_pid() AS pid", []);
        pid = me!.pid;
        appendStarted.open();
        return appendToStream(storeIn(store, tx), facts, [note(2)], { expectedVersion: 1, aggregateType: "note" });
      },
      { timeout: 30_000 },
    );
    await appendStarted.wait;
    await waitingForLock(db, pid);
    // Long enough that a clock read before the wait shows.
    await new Promise((r) => setTimeout(r, 50));
    commitDecision.open();
    const decidedAt = await decision;
    const appended = await append;
    const recordedAt = appended.events[0]!.recordedAt;
    expect(new Date(recordedAt).getTime()).toBeGreaterThanOrEqual(Math.floor(decidedAt.getTime()));
  });
});

describeEachDatabase("a decision on stale facts", (db) => {
  it("is refused in its transaction, nothing written, and given up as a conflict when the facts keep changing", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    const ctx = { ...contextFor(db(), clinician), user: clinician };
    const patient = await loadAggregate(ctx.store, patientStream(patientId), patientDecider);
    await api.patient.recordAllergy({ patientId, substance: { code: "penicillin", text: "Penicillin" }, reaction: "rash", severity: "mild", source: "patient", note: null });

    const tried: string[] = [];
    const stale = () => {
      const orderId = randomUUID();
      tried.push(orderStream(orderId));
      // Decided on the chart as it was before the allergy (its version then).
      return runCommand(
        ctx,
        orderStream(orderId),
        orderDecider,
        {
          type: "CreateOrder",
          data: { orderId, patientId, providerId: clinician.id, kind: "medication", priority: "routine", details: { description: "Amoxicillin 500 mg" }, patient: patientCheck(patient.state), encounter: null },
          metadata: { now: new Date() },
        },
        { startsStream: true, project: refusingErased(projectOrder, { patientVersion: patient.version }) },
      );
    };
    await expect(stale()).rejects.toBeInstanceOf(StaleFactsError);
    await expect(onFreshFacts(stale)).rejects.toBeInstanceOf(ConcurrencyError);
    expect(tried).toHaveLength(1 + 5);
    const [written] = await db().sql<{ events: number }>("SELECT count(*)::int AS events FROM events WHERE stream_id = ANY ($1::text[])", [tried]);
    expect(written?.events).toBe(0);
  });
});
