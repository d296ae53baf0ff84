// Activity by user: events per user, event type and hour, and which patients each user's events
// touched per hour, for compliance to spot unusual activity (many charts in a day, night work).
// Rows are per quarter of an hour (UTC starts, in the column hour_start), so the page reads days
// and hours of day in the viewer's time zone: every zone's offset is a whole number of quarters
// (Kolkata +5:30, Kathmandu +5:45, Chatham +13:45), which whole UTC hours are not.
// An event counts in the hour it was recorded: when the user did it. A visit entered after the
// fact occurred earlier (its clinical time), but the work of entering it, what this watches for,
// happened when it was typed in.
import { prismaRunner, type Db, type StoredEvent } from "../eventStore";
import { markApplied } from "./marks";
import type { Projection, ProjectionTarget } from "./types";
import { isUuid } from "../../shared/ids";

const HOURLY = "rm_activity_hourly";
const PATIENTS = "rm_activity_patients";
const STREAMS = "rm_activity_streams";


const QUARTER_MS = 15 * 60_000;

/** The start of an instant's quarter of an hour (:00, :15, :30, :45 UTC): its row's hour_start. */
export function hourStartOf(at: Date): string {
  return new Date(Math.floor(at.getTime() / QUARTER_MS) * QUARTER_MS).toISOString();
}

function patientIdIn(event: StoredEvent): string | null {
  const value = (event.data as Record<string, unknown>).patientId;
  return typeof value === "string" && isUuid(value) ? value : null;
}

/** Events that name their patient and start an encounter's or order's stream. */
const streamStarts = new Set(["EncounterStarted", "OrderCreated"]);

export type ActivityFold = {
  counts: { hourStart: string; userId: string; eventType: string; events: number }[];
  /** (hour, user, patient) touches; patient null until the stream's patient is known. */
  touches: { hourStart: string; userId: string; patientId: string | null; streamId: string }[];
  /** Encounter and order streams started in the batch, with their patient. */
  streams: { streamId: string; patientId: string }[];
};

/** The batch as counts, touches and new stream owners. Pure. */
export function foldActivity(events: readonly StoredEvent[]): ActivityFold {
  const counts = new Map<string, ActivityFold["counts"][number]>();
  const touches = new Map<string, ActivityFold["touches"][number]>();
  const streams = new Map<string, string>();
  for (const event of events) {
    const hourStart = hourStartOf(event.metadata.recordedAt);
    const userId = event.metadata.userId;
    const key = `${hourStart}|${userId}|${event.type}`;
    const count = counts.get(key);
    if (count) count.events += 1;
    else counts.set(key, { hourStart, userId, eventType: event.type, events: 1 });

    const patientId = patientIdIn(event);
    if (patientId && streamStarts.has(event.type)) streams.set(event.streamId, patientId);
    const touchesPatient = patientId !== null || event.aggregateType === "encounter" || event.aggregateType === "order";
    if (!touchesPatient) continue;
    const known = patientId ?? streams.get(event.streamId) ?? null;
    touches.set(`${hourStart}|${userId}|${known ?? event.streamId}`, { hourStart, userId, patientId: known, streamId: event.streamId });
  }
  return {
    counts: [...counts.values()],
    touches: [...touches.values()],
    streams: [...streams].map(([streamId, patientId]) => ({ streamId, patientId })),
  };
}

export async function applyActivity(tx: Db, events: readonly StoredEvent[], target: ProjectionTarget): Promise<void> {
  const fold = foldActivity(events);
  const sql = prismaRunner(tx);
  const hourly = target.table(HOURLY);
  const patients = target.table(PATIENTS);
  const streamsTable = target.table(STREAMS);

  if (fold.streams.length > 0) {
    await sql(
      `INSERT INTO ${streamsTable} (stream_id, patient_id)
       SELECT * FROM unnest($1::text[], $2::uuid[]) ON CONFLICT (stream_id) DO NOTHING`,
      [fold.streams.map((s) => s.streamId), fold.streams.map((s) => s.patientId)],
    );
  }
  // Status changes and completions carry only their order's or encounter's id: their patient is
  // the one the stream started with, in an earlier batch.
  const unknown = [...new Set(fold.touches.filter((t) => t.patientId === null).map((t) => t.streamId))];
  const owners = new Map<string, string>();
  if (unknown.length > 0) {
    const rows = await sql<{ stream_id: string; patient_id: string }>(
      `SELECT stream_id, patient_id::text AS patient_id FROM ${streamsTable} WHERE stream_id = ANY ($1::text[])`,
      [unknown],
    );
    for (const r of rows) owners.set(r.stream_id, r.patient_id);
  }
  const touches = new Map<string, { hourStart: string; userId: string; patientId: string }>();
  for (const t of fold.touches) {
    const patientId = t.patientId ?? owners.get(t.streamId);
    if (patientId) touches.set(`${t.hourStart}|${t.userId}|${patientId}`, { hourStart: t.hourStart, userId: t.userId, patientId });
  }

  if (fold.counts.length > 0) {
    // Counters: exactly-once in effect because the runner commits each batch with its checkpoint.
    await sql(
      `INSERT INTO ${hourly} AS h (hour_start, user_id, event_type, events)
       SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::integer[])
       ON CONFLICT (hour_start, user_id, event_type) DO UPDATE SET events = h.events + EXCLUDED.events`,
      [fold.counts.map((c) => c.hourStart), fold.counts.map((c) => c.userId), fold.counts.map((c) => c.eventType), fold.counts.map((c) => c.events)],
    );
  }
  if (touches.size > 0) {
    const list = [...touches.values()];
    await sql(
      `INSERT INTO ${patients} (hour_start, user_id, patient_id)
       SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::uuid[]) ON CONFLICT DO NOTHING`,
      [list.map((t) => t.hourStart), list.map((t) => t.userId), list.map((t) => t.patientId)],
    );
  }
  await markApplied(tx, userActivity.name, events);
}

export const userActivity: Projection = {
  name: "user_activity",
  description: "Events per user, event type and quarter of an hour, and the patients each user's events touched, for the compliance activity chart.",
  // 2: hours of recording, not of occurrence (a late entry counts when it was typed in).
  // 3: quarters of an hour, so days and hours are right in zones a half or three quarters off UTC.
  version: 3,
  tables: [HOURLY, PATIENTS, STREAMS],
  apply: applyActivity,
};
