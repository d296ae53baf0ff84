// Order turnaround: one row per order with when it was placed and when it closed (completed or
// cancelled), so the page computes percentiles per day from the orders themselves and lists the
// orders still open past their priority's threshold.
import { prismaRunner, type Db, type StoredEvent } from "../eventStore";
import type { OrderEvent } from "../domain/order/events";
import { markApplied } from "./marks";
import type { Projection, ProjectionTarget } from "./types";
import { erasedPatientsIn, maskPatientRows, PATIENT_ERASED, withoutErasures } from "./erasure";

const TABLE = "rm_order_turnaround";

type Row = {
  orderId: string;
  patientId: string;
  kind: string;
  priority: string;
  description: string;
  placedAt: string;
  scheduledFor: string | null;
  status: string;
  closedAt: string | null;
};

type StatusChange = { orderId: string; status: string; closedAt: string | null };

const closedAtOf = (status: string, changedAt: string) => (status === "completed" || status === "cancelled" ? changedAt : null);

/**
 * Folds a batch into rows to insert (orders created in it, with any later change of the same
 * batch already applied) and status changes of orders created before it. Pure.
 */
export function foldTurnaround(events: readonly StoredEvent[]): { created: Row[]; changed: StatusChange[] } {
  const created = new Map<string, Row>();
  const changed = new Map<string, StatusChange>();
  for (const stored of events) {
    const event = stored as unknown as StoredEvent<OrderEvent>;
    if (event.type === "OrderCreated") {
      const d = event.data;
      created.set(d.orderId, {
        orderId: d.orderId,
        patientId: d.patientId,
        kind: d.kind,
        priority: d.priority,
        description: d.details.description,
        placedAt: event.metadata.occurredAt.toISOString(),
        scheduledFor: d.scheduledFor,
        status: "placed",
        closedAt: null,
      });
    } else if (event.type === "OrderStatusChanged") {
      const d = event.data;
      const closedAt = closedAtOf(d.newStatus, d.changedAt);
      const row = created.get(d.orderId);
      if (row) created.set(d.orderId, { ...row, status: d.newStatus, closedAt });
      else changed.set(d.orderId, { orderId: d.orderId, status: d.newStatus, closedAt });
    }
  }
  return { created: [...created.values()], changed: [...changed.values()] };
}

export async function applyTurnaround(tx: Db, events: readonly StoredEvent[], target: ProjectionTarget): Promise<void> {
  const { created, changed } = foldTurnaround(withoutErasures(events));
  const t = target.table(TABLE);
  const sql = prismaRunner(tx);
  if (created.length > 0) {
    // Idempotent per order: a replayed creation rewrites the same row.
    await sql(
      `INSERT INTO ${t} (order_id, patient_id, kind, priority, description, placed_at, scheduled_for, status, closed_at)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::text[], $9::timestamptz[])
       ON CONFLICT (order_id) DO UPDATE
          SET status = EXCLUDED.status, closed_at = EXCLUDED.closed_at`,
      [
        created.map((r) => r.orderId),
        created.map((r) => r.patientId),
        created.map((r) => r.kind),
        created.map((r) => r.priority),
        created.map((r) => r.description),
        created.map((r) => r.placedAt),
        created.map((r) => r.scheduledFor),
        created.map((r) => r.status),
        created.map((r) => r.closedAt),
      ],
    );
  }
  if (changed.length > 0) {
    await sql(
      `UPDATE ${t} AS o SET status = c.status, closed_at = c.closed_at
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS c(order_id, status, closed_at)
        WHERE o.order_id = c.order_id`,
      [changed.map((c) => c.orderId), changed.map((c) => c.status), changed.map((c) => c.closedAt)],
    );
  }
  await maskPatientRows(tx, erasedPatientsIn(events), ["rm_order_turnaround"], () => t);
  await markApplied(tx, orderTurnaround.name, events);
}

export const orderTurnaround: Projection = {
  name: "order_turnaround",
  description: "Per order kind and priority: time from placed to completed or cancelled, and the orders still open past their threshold.",
  version: 1,
  tables: [TABLE],
  // PatientErased masks the patient's order descriptions (erasure.ts).
  eventTypes: ["OrderCreated", "OrderStatusChanged", PATIENT_ERASED],
  apply: applyTurnaround,
};
