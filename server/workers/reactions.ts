// In-process reactions: outbox handlers that append to another aggregate. Delivery is at least
// once, so each derives its event's id from the trigger's: a re-delivered trigger appends the same
// id again and the store answers with the first append, writing nothing twice.
import {
  appendToStream,
  loadAggregate,
  loadAtVersion,
  uuidFromName,
  type NewEvent,
  type Store,
  type StoredEvent,
} from "../eventStore";
import { orderDecider } from "../domain/order/decider";
import type { OrderEvent } from "../domain/order/events";
import { criticalFindings } from "../../shared/clinical/results";
import { patientDecider } from "../domain/patient/decider";
import { patientStream } from "../domain/streams";
import { projectPatient } from "../projections/clinical";
import type { OutboxHandler } from "./outbox";

/** The id of the event a reaction writes for a trigger: the same trigger, the same id. */
export const reactionEventId = (reaction: string, trigger: StoredEvent) => uuidFromName(`${reaction}:${trigger.metadata.eventId}`);

/**
 * A lab order completed with critical values raises CriticalResultFlagged on its patient.
 * Who: the trigger's user, who recorded the result and so raised the flag; the audit then names a
 * person, not a machine. The correlation id is the trigger's (same request), the causation id the
 * trigger's event id, and the time the trigger's, so a re-delivery builds the identical event.
 */
export function flagCriticalResults(store: Store): OutboxHandler {
  return async (trigger) => {
    const event = trigger as unknown as StoredEvent<OrderEvent>;
    if (event.type !== "OrderStatusChanged" || event.data.newStatus !== "completed") return;
    const findings = criticalFindings(event.data.resultData);
    if (findings.length === 0) return;
    // The order as it was when it completed: its patient, kind and description.
    const order = (await loadAtVersion(store, event.streamId, orderDecider, event.version)).state;
    if (order.status === "not_created" || order.kind !== "lab") return;

    const streamId = patientStream(order.patientId);
    const patient = await loadAggregate(store, streamId, patientDecider);
    // Erased since the result was recorded (a worker still held the patient's key, or read the
    // trigger before the erasure): nothing more is recorded about them, and that is this
    // message's outcome. Before, the decider's refusal failed every delivery into a dead letter
    // that held the order's later events.
    if (patient.state.status === "registered" && patient.state.erasedAt) return;
    const [flagged] = patientDecider.decide(
      {
        type: "FlagCriticalResult",
        data: {
          patientId: order.patientId,
          orderId: order.orderId,
          orderKind: order.kind,
          orderDescription: order.details.description,
          findings,
          resultedAt: new Date(event.data.changedAt),
        },
        metadata: { now: event.metadata.occurredAt },
      },
      patient.state,
    );
    const reaction: NewEvent = {
      ...flagged!,
      eventId: reactionEventId("CriticalResultFlagged", trigger),
      occurredAt: trigger.metadata.occurredAt,
      userId: trigger.metadata.userId,
      correlationId: trigger.metadata.correlationId,
      causationId: trigger.metadata.eventId,
    };

    const inTransaction = store.transaction ?? ((fn: (tx: Store) => Promise<void>) => fn(store));
    await inTransaction(async (txStore) => {
      // An erasure that committed after the load: its transaction set the read model's erased_at,
      // and this waits for it (FOR SHARE), as commands about the patient do (erasure.ts).
      const [row] = await txStore.sql<{ erased: boolean }>("SELECT erased_at IS NOT NULL AS erased FROM rm_patients WHERE patient_id = $1::uuid FOR SHARE", [order.patientId]);
      if (row?.erased) return;
      // "any": the flag depends on no version of the patient (registration is never undone), and
      // a repeat is answered from the stored ids whatever the stream's version is now.
      const result = await appendToStream(txStore, streamId, [reaction], { expectedVersion: "any", aggregateType: patientDecider.aggregateType });
      if (result.repeated) return;
      // The stream row stays locked until commit: this fold is the state right after the flag.
      const after = await loadAggregate(txStore, streamId, patientDecider);
      const written = result.events[0]!;
      const stored: StoredEvent = {
        type: reaction.type,
        data: reaction.data,
        streamId,
        aggregateType: patientDecider.aggregateType,
        version: written.version,
        globalPosition: written.globalPosition,
        transactionId: "",
        metadata: {
          eventId: reaction.eventId,
          occurredAt: reaction.occurredAt,
          recordedAt: written.recordedAt,
          userId: reaction.userId,
          correlationId: reaction.correlationId,
          causationId: reaction.causationId,
          schemaVersion: 1,
          extra: {},
        },
      };
      await projectPatient(txStore.db, { events: [stored], state: after.state, version: after.version });
    });
  };
}
