// The inline clinical read models as projections, so they can be rebuilt from the log like any
// other. Live writes stay inline (clinical.ts, in the command's transaction); a rebuild replays
// the log through these into shadow tables. apply folds each stream touched by the batch from
// its first event (earlier events of a stream that continues from a previous batch are read
// back from the log) into one row per stream, and writes all rows of the batch with one
// INSERT ... SELECT FROM jsonb_to_recordset: one statement per batch, not one per event.
import type { Db, StoredEvent } from "../eventStore";
import { eventColumns, selectEvents, storeIn } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { patientDecider } from "../domain/patient/decider";
import { encounterDecider } from "../domain/encounter/decider";
import { orderDecider } from "../domain/order/decider";
import { patientEvents, type PatientEvent } from "../domain/patient/events";
import { encounterEvents, type EncounterEvent } from "../domain/encounter/events";
import { orderEvents, type OrderEvent } from "../domain/order/events";
import { encounterRow, orderRow, patientRow } from "./clinical";
import type { Projection, ProjectionTarget } from "./types";
import { erasedPatientsIn, maskPatientRows, PATIENT_ERASED, withoutErasures } from "./erasure";

type Folded<S> = { state: S; version: number; firstAt: Date; lastAt: Date };

/** Each stream's events of the batch, in order, with the stream's earlier events read back when it continues. */
type Fold<S> = { initialState: () => S; evolve: (state: S, event: StoredEvent) => S; eventTypes: readonly string[] };

async function foldStreams<S>(tx: Db, events: readonly StoredEvent[], decider: Fold<S>): Promise<Folded<S>[]> {
  const byStream = new Map<string, StoredEvent[]>();
  for (const event of events) {
    const list = byStream.get(event.streamId);
    if (list) list.push(event);
    else byStream.set(event.streamId, [event]);
  }
  const continuing = [...byStream.entries()].filter(([, list]) => list[0]!.version > 1);
  const earlier = new Map<string, StoredEvent[]>();
  if (continuing.length > 0) {
    const prior = await selectEvents(
      storeIn({ registry: eventRegistry }, tx),
      `SELECT ${eventColumns} FROM events e
         JOIN unnest($1::text[], $2::int[]) AS b(sid, v) ON e.stream_id = b.sid AND e.version < b.v
        -- The projection's types only, as in the batch (the runner and rebuild filter by type).
        WHERE e.event_type = ANY ($3::text[])
        ORDER BY e.stream_id, e.version`,
      [continuing.map(([id]) => id), continuing.map(([, list]) => list[0]!.version), [...decider.eventTypes]],
      "trusted", // a bulk read of events validated on write, like the batch itself (streamAll)
    );
    for (const event of prior) {
      const list = earlier.get(event.streamId);
      if (list) list.push(event);
      else earlier.set(event.streamId, [event]);
    }
  }
  const out: Folded<S>[] = [];
  for (const [streamId, list] of byStream) {
    const all = [...(earlier.get(streamId) ?? []), ...list];
    let state = decider.initialState();
    for (const event of all) state = decider.evolve(state, event);
    out.push({ state, version: list.at(-1)!.version, firstAt: all[0]!.metadata.occurredAt, lastAt: list.at(-1)!.metadata.occurredAt });
  }
  return out;
}

type Column = readonly [name: string, sqlType: string];

/** One INSERT ... ON CONFLICT DO UPDATE for every row of the batch. */
async function upsertRows(tx: Db, table: string, key: string, columns: readonly Column[], rows: readonly Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map(([name]) => name);
  const sql = `INSERT INTO ${table} (${names.join(", ")})
    SELECT ${names.join(", ")} FROM jsonb_to_recordset($1::jsonb) AS r(${columns.map(([n, t]) => `${n} ${t}`).join(", ")})
    ON CONFLICT (${key}) DO UPDATE SET ${names.filter((n) => n !== key).map((n) => `${n} = EXCLUDED.${n}`).join(", ")}`;
  await tx.$executeRawUnsafe(sql, JSON.stringify(rows));
}

const typesOf = (defs: readonly { type: string }[]) => defs.map((d) => d.type);
// The stored events of a projection's types are its aggregate's events (the runner filters by type).
const patientFold = { eventTypes: typesOf(patientEvents), initialState: patientDecider.initialState, evolve: (s: ReturnType<typeof patientDecider.initialState>, e: StoredEvent) => patientDecider.evolve(s, e as unknown as PatientEvent) };
const encounterFold = { eventTypes: typesOf(encounterEvents), initialState: encounterDecider.initialState, evolve: (s: ReturnType<typeof encounterDecider.initialState>, e: StoredEvent) => encounterDecider.evolve(s, e as unknown as EncounterEvent) };
const orderFold = { eventTypes: typesOf(orderEvents), initialState: orderDecider.initialState, evolve: (s: ReturnType<typeof orderDecider.initialState>, e: StoredEvent) => orderDecider.evolve(s, e as unknown as OrderEvent) };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

const patientColumns: Column[] = [
  ["patient_id", "uuid"], ["mrn", "text"], ["given_name", "text"], ["family_name", "text"], ["date_of_birth", "date"],
  ["sex", "text"], ["email", "text"], ["phone", "text"], ["address", "jsonb"], ["active", "boolean"], ["sort_key", "text"], ["safety", "jsonb"],
  ["version", "integer"], ["registered_at", "timestamptz"], ["updated_at", "timestamptz"], ["erased_at", "timestamptz"],
];

export const patientsProjection: Projection = {
  name: "patients",
  description: "Patient list and charts (rm_patients): one row per registered patient, kept inline with each command.",
  version: 1,
  tables: ["rm_patients"],
  eventTypes: typesOf(patientEvents),
  async apply(tx, events, target: ProjectionTarget) {
    const folded = await foldStreams(tx, events, patientFold);
    const rows = [];
    for (const f of folded) {
      if (f.state.status !== "registered") continue;
      const r = patientRow(f.state, f.version, f.lastAt);
      rows.push({
        patient_id: r.patientId, mrn: r.mrn, given_name: r.givenName, family_name: r.familyName,
        date_of_birth: r.dateOfBirth ? r.dateOfBirth.toISOString().slice(0, 10) : null, sex: r.sex, email: r.email, phone: r.phone,
        address: r.address, active: r.active, sort_key: r.sortKey, safety: r.safety, version: r.version,
        registered_at: iso(f.firstAt), updated_at: iso(r.updatedAt), erased_at: iso(r.erasedAt),
      });
    }
    await upsertRows(tx, target.table("rm_patients"), "patient_id", patientColumns, rows);
  },
};

const encounterColumns: Column[] = [
  ["encounter_id", "uuid"], ["patient_id", "uuid"], ["provider_id", "text"], ["encounter_type", "text"], ["status", "text"],
  ["reason", "text"], ["location", "text"], ["started_at", "timestamptz"], ["ended_at", "timestamptz"], ["outcome", "text"],
  ["discharge_disposition", "text"], ["duration_minutes", "integer"], ["version", "integer"], ["updated_at", "timestamptz"],
];

export const encountersProjection: Projection = {
  name: "encounters",
  description: "Encounters of each patient (rm_encounters), kept inline with each command.",
  version: 1,
  tables: ["rm_encounters"],
  // PatientErased too: the rows of an erased patient are masked whatever the events decrypt to.
  eventTypes: [...typesOf(encounterEvents), PATIENT_ERASED],
  async apply(tx, events, target) {
    const folded = await foldStreams(tx, withoutErasures(events), encounterFold);
    const rows = [];
    for (const f of folded) {
      if (f.state.status === "not_started") continue;
      const r = encounterRow(f.state, f.version, f.lastAt);
      rows.push({
        encounter_id: r.encounterId, patient_id: r.patientId, provider_id: r.providerId, encounter_type: r.encounterType,
        status: r.status, reason: r.reason, location: r.location, started_at: iso(r.startedAt), ended_at: iso(r.endedAt), outcome: r.outcome,
        discharge_disposition: r.dischargeDisposition, duration_minutes: r.durationMinutes, version: r.version, updated_at: iso(r.updatedAt),
      });
    }
    await upsertRows(tx, target.table("rm_encounters"), "encounter_id", encounterColumns, rows);
    await maskPatientRows(tx, erasedPatientsIn(events), ["rm_encounters"], (t) => target.table(t));
  },
};

const orderColumns: Column[] = [
  ["order_id", "uuid"], ["patient_id", "uuid"], ["encounter_id", "uuid"], ["provider_id", "text"], ["kind", "text"],
  ["description", "text"], ["details", "jsonb"], ["priority", "text"], ["priority_rank", "smallint"], ["status", "text"],
  ["status_reason", "text"], ["result_data", "jsonb"], ["scheduled_for", "timestamptz"], ["created_at", "timestamptz"],
  ["status_changed_at", "timestamptz"], ["version", "integer"],
];

export const ordersProjection: Projection = {
  name: "orders",
  description: "Orders and the worklist (rm_orders), kept inline with each command.",
  version: 1,
  tables: ["rm_orders"],
  eventTypes: [...typesOf(orderEvents), PATIENT_ERASED],
  async apply(tx, events, target) {
    const folded = await foldStreams(tx, withoutErasures(events), orderFold);
    const rows = [];
    for (const f of folded) {
      if (f.state.status === "not_created") continue;
      const r = orderRow(f.state, f.version, f.lastAt);
      rows.push({
        order_id: r.orderId, patient_id: r.patientId, encounter_id: r.encounterId, provider_id: r.providerId, kind: r.kind,
        description: r.description, details: r.details, priority: r.priority, priority_rank: r.priorityRank, status: r.status,
        status_reason: r.statusReason, result_data: r.resultData, scheduled_for: iso(r.scheduledFor), created_at: iso(f.firstAt),
        status_changed_at: iso(r.statusChangedAt), version: r.version,
      });
    }
    await upsertRows(tx, target.table("rm_orders"), "order_id", orderColumns, rows);
    await maskPatientRows(tx, erasedPatientsIn(events), ["rm_orders"], (t) => target.table(t));
  },
};

/** Written inside each command's transaction; the runner never applies them live, a rebuild does. */
export const inlineProjections: readonly Projection[] = [patientsProjection, encountersProjection, ordersProjection];
