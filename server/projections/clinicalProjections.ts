// The inline clinical read models as projections, so they can be rebuilt from the log like any
// other. Live writes stay inline (clinical.ts, in the command's transaction); a rebuild replays
// the log through these into shadow tables.
// - apply (the swap's tail, and any caller with a transaction): folds each stream touched by the
//   batch from its first event (earlier events of a stream that continues from a previous batch
//   are read back from the log) into one row per stream, and writes all rows of the batch with
//   one INSERT ... SELECT FROM unnest: one statement per batch, not one per event.
// - replay (a rebuild's copy phase): the same fold, but the folded state of the streams touched
//   most recently stays in memory (a bounded write-back cache), so a stream that continues in a
//   later batch goes on from it instead of being read back, and its row is written once, when
//   the stream leaves the cache or at the end, instead of once per batch it appears in. Writes
//   go through the store's driver (no interactive transaction) and overlap the next batch's fold.
import type { Db, FoldEvent, SqlRunner, Store, StoredEvent } from "../eventStore";
import { eventColumns, prismaRunner, selectEvents, storeIn } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { patientDecider } from "../domain/patient/decider";
import { encounterDecider } from "../domain/encounter/decider";
import { orderDecider } from "../domain/order/decider";
import { patientEvents, type PatientEvent } from "../domain/patient/events";
import { encounterEvents, type EncounterEvent } from "../domain/encounter/events";
import { orderEvents, type OrderEvent } from "../domain/order/events";
import { encounterRow, orderRow, patientRow } from "./clinical";
import type { Projection, Replay } from "./types";
import { erasedPatientsIn, maskPatientRows, PATIENT_ERASED, withoutErasures, type MaskedTable } from "./erasure";

type Folded<S> = { state: S; version: number; firstAt: Date; lastAt: Date };

type Fold<S> = { initialState: () => S; evolve: (state: S, event: FoldEvent) => S; eventTypes: readonly string[] };

/** The batch's events per stream, in order. */
function byStreamOf<E extends FoldEvent>(events: readonly E[]): Map<string, E[]> {
  const byStream = new Map<string, E[]>();
  for (const event of events) {
    const list = byStream.get(event.streamId);
    if (list) list.push(event);
    else byStream.set(event.streamId, [event]);
  }
  return byStream;
}

/** The earlier events (of the fold's types) of streams that continue from before the batch, per stream. */
async function readBack(store: Store, streams: readonly (readonly [streamId: string, fromVersion: number])[], fold: Fold<unknown>): Promise<Map<string, StoredEvent[]>> {
  const earlier = new Map<string, StoredEvent[]>();
  if (streams.length === 0) return earlier;
  const prior = await selectEvents(
    store,
    `SELECT ${eventColumns} FROM events e
       JOIN unnest($1::text[], $2::int[]) AS b(sid, v) ON e.stream_id = b.sid AND e.version < b.v
      -- The projection's types only, as in the batch (the runner and rebuild filter by type).
      WHERE e.event_type = ANY ($3::text[])
      ORDER BY e.stream_id, e.version`,
    [streams.map(([id]) => id), streams.map(([, v]) => v), [...fold.eventTypes]],
    "trusted", // a bulk read of events validated on write, like the batch itself (streamAll)
  );
  for (const event of prior) {
    const list = earlier.get(event.streamId);
    if (list) list.push(event);
    else earlier.set(event.streamId, [event]);
  }
  return earlier;
}

/** Folds `events` onto `from` (the stream's state before them), or onto `earlier` from the start. */
function foldOnto<S>(fold: Fold<S>, from: Folded<S> | undefined, earlier: readonly FoldEvent[], events: readonly FoldEvent[]): Folded<S> {
  let state = from ? from.state : fold.initialState();
  for (const event of earlier) state = fold.evolve(state, event);
  for (const event of events) state = fold.evolve(state, event);
  const last = events.at(-1)!;
  return { state, version: last.version, firstAt: from ? from.firstAt : (earlier[0] ?? events[0]!).metadata.occurredAt, lastAt: last.metadata.occurredAt };
}

/** Each stream touched by the batch, folded from its first event (earlier events read back). */
async function foldStreams<S>(tx: Db, events: readonly StoredEvent[], fold: Fold<S>): Promise<Folded<S>[]> {
  const byStream = byStreamOf(events);
  const continuing = [...byStream.entries()].filter(([, list]) => list[0]!.version > 1).map(([id, list]) => [id, list[0]!.version] as const);
  const earlier = await readBack(storeIn({ registry: eventRegistry }, tx), continuing, fold as Fold<unknown>);
  return [...byStream].map(([streamId, list]) => foldOnto(fold, undefined, earlier.get(streamId) ?? [], list));
}

type Column = readonly [name: string, sqlType: string];

/** A column's value as the text the statement casts back (jsonb as JSON text, SQL NULL for null). */
const asText = (value: unknown, sqlType: string): string | null =>
  value === null || value === undefined ? null : sqlType === "jsonb" ? JSON.stringify(value) : typeof value === "string" ? value : String(value);

/**
 * A text[] literal of the values. JSON's string escapes for `"` and `\` are the array literal's
 * own, and an unquoted null is NULL there too, so JSON.stringify (native, fast) writes it unless
 * a value needed another JSON escape (a control character): then each value is quoted here. The
 * driver's own array serializer cost ~10x this per row.
 */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  const json = JSON.stringify(values);
  if (!/\\[^"\\]/.test(json)) return `{${json.slice(1, -1)}}`;
  return `{${values.map((v) => (v === null ? "NULL" : `"${v.replace(/[\\"]/g, "\\$&")}"`)).join(",")}}`;
}

/**
 * One INSERT ... ON CONFLICT DO UPDATE for all the rows: each column goes as one text array,
 * unnested and cast to its type by the statement (PostgreSQL parses arrays of text ~3x faster
 * than a JSON document of the rows). The rows' keys must be distinct.
 */
async function upsertRows(sql: SqlRunner, table: string, key: string, columns: readonly Column[], rows: readonly Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const names = columns.map(([name]) => name);
  const arrays = columns.map(([name, type]) => textArrayLiteral(rows.map((row) => asText(row[name], type))));
  await sql(
    `INSERT INTO ${table} (${names.join(", ")})
     SELECT ${columns.map(([n, t]) => `r.${n}::${t}`).join(", ")} FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(", ")}) AS r(${names.join(", ")})
     ON CONFLICT (${key}) DO UPDATE SET ${names.filter((n) => n !== key).map((n) => `${n} = EXCLUDED.${n}`).join(", ")}`,
    arrays,
  );
}

const typesOf = (defs: readonly { type: string }[]) => defs.map((d) => d.type);
// The stored events of a projection's types are its aggregate's events (the runner filters by type).
const patientFold = { eventTypes: typesOf(patientEvents), initialState: patientDecider.initialState, evolve: (s: ReturnType<typeof patientDecider.initialState>, e: FoldEvent) => patientDecider.evolve(s, e as unknown as PatientEvent) };
const encounterFold = { eventTypes: typesOf(encounterEvents), initialState: encounterDecider.initialState, evolve: (s: ReturnType<typeof encounterDecider.initialState>, e: FoldEvent) => encounterDecider.evolve(s, e as unknown as EncounterEvent) };
const orderFold = { eventTypes: typesOf(orderEvents), initialState: orderDecider.initialState, evolve: (s: ReturnType<typeof orderDecider.initialState>, e: FoldEvent) => orderDecider.evolve(s, e as unknown as OrderEvent) };

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** A clinical read model: its fold, its table, and the row of a folded stream (null: no row yet). */
type Model<S> = {
  fold: Fold<S>;
  table: MaskedTable & ("rm_patients" | "rm_encounters" | "rm_orders");
  key: string;
  columns: readonly Column[];
  row(f: Folded<S>): Record<string, unknown> | null;
  /**
   * Its rows are masked by PatientErased (encounters, orders: their fold knows no erasure); the
   * patients' fold masks its own row.
   */
  maskedByErasure: boolean;
};

/** Streams a replay holds in memory at most (their folded state). */
export const REPLAY_HELD_STREAMS = 20_000;

function modelProjection<S>(meta: Pick<Projection, "name" | "description" | "version">, model: Model<S>): Projection {
  const rowsOf = (folded: Iterable<Folded<S>>) => {
    const rows: Record<string, unknown>[] = [];
    for (const f of folded) {
      const row = model.row(f);
      if (row) rows.push(row);
    }
    return rows;
  };
  return {
    ...meta,
    tables: [model.table],
    eventTypes: model.maskedByErasure ? [...model.fold.eventTypes, PATIENT_ERASED] : model.fold.eventTypes,
    async apply(tx, events, target) {
      const folded = await foldStreams(tx, model.maskedByErasure ? withoutErasures(events) : events, model.fold);
      await upsertRows(prismaRunner(tx), target.table(model.table), model.key, model.columns, rowsOf(folded));
      if (model.maskedByErasure) await maskPatientRows(tx, erasedPatientsIn(events), [model.table], (t) => target.table(t));
    },
    replay(store, target, fenced): Replay {
      const table = target.table(model.table);
      // Streams in the order they were last touched (a Map keeps insertion order; a touch re-inserts).
      const held = new Map<string, Folded<S>>();
      // Patients erased so far: a row of theirs written after their erasure is masked again.
      const erased = new Set<string>();
      let writing: Promise<void> = Promise.resolve();
      const write = async (folded: Folded<S>[], erasedNow: readonly string[]) => {
        const rows = rowsOf(folded);
        if (model.maskedByErasure) for (const id of erasedNow) erased.add(id);
        const toMask = new Set(erasedNow);
        if (model.maskedByErasure) for (const row of rows) if (erased.has(String(row.patient_id))) toMask.add(String(row.patient_id));
        if (rows.length === 0 && (!model.maskedByErasure || toMask.size === 0)) return;
        await fenced(async (tx) => {
          await upsertRows(prismaRunner(tx), table, model.key, model.columns, rows);
          if (model.maskedByErasure && toMask.size > 0) await maskPatientRows(tx, [...toMask], [model.table], (t) => target.table(t));
        });
      };
      // One write at a time, in order: a batch's write waits for the previous one.
      const enqueue = (folded: Folded<S>[], erasedNow: readonly string[]) => {
        const previous = writing;
        writing = previous.then(() => write(folded, erasedNow));
        writing.catch(() => {}); // awaited by the next batch or finish
        return previous;
      };
      return {
        async batch(events) {
          const erasedNow = model.maskedByErasure ? erasedPatientsIn(events) : [];
          const byStream = byStreamOf(model.maskedByErasure ? withoutErasures(events) : events);
          const missing: (readonly [string, number])[] = [];
          for (const [streamId, list] of byStream) {
            const first = list[0]!.version;
            if (first > 1 && held.get(streamId)?.version !== first - 1) missing.push([streamId, first]);
          }
          const earlier = await readBack(store, missing, model.fold as Fold<unknown>);
          for (const [streamId, list] of byStream) {
            const from = held.get(streamId);
            const continues = from !== undefined && from.version === list[0]!.version - 1;
            held.delete(streamId);
            held.set(streamId, foldOnto(model.fold, continues ? from : undefined, continues ? [] : (earlier.get(streamId) ?? []), list));
          }
          // An erasure: every row held goes out first, so the mask finds it.
          const out: Folded<S>[] = [];
          for (const [streamId, f] of held) {
            if (erasedNow.length === 0 && held.size - out.length <= REPLAY_HELD_STREAMS) break;
            out.push(f);
            held.delete(streamId);
          }
          await enqueue(out, erasedNow);
        },
        async finish() {
          const out = [...held.values()];
          held.clear();
          await enqueue(out, []);
          await writing;
        },
        async settle() {
          held.clear();
          await writing.catch(() => {});
        },
      };
    },
  };
}

const patientColumns: Column[] = [
  ["patient_id", "uuid"], ["mrn", "text"], ["given_name", "text"], ["family_name", "text"], ["date_of_birth", "date"],
  ["sex", "text"], ["email", "text"], ["phone", "text"], ["address", "jsonb"], ["active", "boolean"], ["sort_key", "text"], ["safety", "jsonb"],
  ["version", "integer"], ["registered_at", "timestamptz"], ["updated_at", "timestamptz"], ["erased_at", "timestamptz"],
];

export const patientsProjection: Projection = modelProjection(
  {
    name: "patients",
    description: "Patient list and charts (rm_patients): one row per registered patient, kept inline with each command.",
    version: 1,
  },
  {
    fold: patientFold,
    table: "rm_patients",
    key: "patient_id",
    columns: patientColumns,
    maskedByErasure: false,
    row(f) {
      if (f.state.status !== "registered") return null;
      const r = patientRow(f.state, f.version, f.lastAt);
      return {
        patient_id: r.patientId, mrn: r.mrn, given_name: r.givenName, family_name: r.familyName,
        date_of_birth: r.dateOfBirth ? r.dateOfBirth.toISOString().slice(0, 10) : null, sex: r.sex, email: r.email, phone: r.phone,
        address: r.address, active: r.active, sort_key: r.sortKey, safety: r.safety, version: r.version,
        registered_at: iso(f.firstAt), updated_at: iso(r.updatedAt), erased_at: iso(r.erasedAt),
      };
    },
  },
);

const encounterColumns: Column[] = [
  ["encounter_id", "uuid"], ["patient_id", "uuid"], ["provider_id", "text"], ["encounter_type", "text"], ["status", "text"],
  ["reason", "text"], ["location", "text"], ["started_at", "timestamptz"], ["ended_at", "timestamptz"], ["outcome", "text"],
  ["discharge_disposition", "text"], ["duration_minutes", "integer"], ["version", "integer"], ["updated_at", "timestamptz"],
];

export const encountersProjection: Projection = modelProjection(
  { name: "encounters", description: "Encounters of each patient (rm_encounters), kept inline with each command.", version: 1 },
  {
    fold: encounterFold,
    table: "rm_encounters",
    key: "encounter_id",
    columns: encounterColumns,
    // PatientErased too: the rows of an erased patient are masked whatever the events decrypt to.
    maskedByErasure: true,
    row(f) {
      if (f.state.status === "not_started") return null;
      const r = encounterRow(f.state, f.version, f.lastAt);
      return {
        encounter_id: r.encounterId, patient_id: r.patientId, provider_id: r.providerId, encounter_type: r.encounterType,
        status: r.status, reason: r.reason, location: r.location, started_at: iso(r.startedAt), ended_at: iso(r.endedAt), outcome: r.outcome,
        discharge_disposition: r.dischargeDisposition, duration_minutes: r.durationMinutes, version: r.version, updated_at: iso(r.updatedAt),
      };
    },
  },
);

const orderColumns: Column[] = [
  ["order_id", "uuid"], ["patient_id", "uuid"], ["encounter_id", "uuid"], ["provider_id", "text"], ["kind", "text"],
  ["description", "text"], ["details", "jsonb"], ["priority", "text"], ["priority_rank", "smallint"], ["status", "text"],
  ["status_reason", "text"], ["result_data", "jsonb"], ["scheduled_for", "timestamptz"], ["created_at", "timestamptz"],
  ["status_changed_at", "timestamptz"], ["version", "integer"],
];

export const ordersProjection: Projection = modelProjection(
  { name: "orders", description: "Orders and the worklist (rm_orders), kept inline with each command.", version: 1 },
  {
    fold: orderFold,
    table: "rm_orders",
    key: "order_id",
    columns: orderColumns,
    maskedByErasure: true,
    row(f) {
      if (f.state.status === "not_created") return null;
      const r = orderRow(f.state, f.version, f.lastAt);
      return {
        order_id: r.orderId, patient_id: r.patientId, encounter_id: r.encounterId, provider_id: r.providerId, kind: r.kind,
        description: r.description, details: r.details, priority: r.priority, priority_rank: r.priorityRank, status: r.status,
        status_reason: r.statusReason, result_data: r.resultData, scheduled_for: iso(r.scheduledFor), created_at: iso(f.firstAt),
        status_changed_at: iso(r.statusChangedAt), version: r.version,
      };
    },
  },
);

/** Written inside each command's transaction; the runner never applies them live, a rebuild does. */
export const inlineProjections: readonly Projection[] = [patientsProjection, encountersProjection, ordersProjection];
