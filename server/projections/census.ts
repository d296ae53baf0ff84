// Census: one row per encounter with its type, attending provider, start and end, so the page
// counts open encounters now and admissions and discharges for any day. Encounter events record
// no location (ward, bed, site), so the census is by encounter type and attending provider.
import { prismaRunner, type Db, type StoredEvent } from "../eventStore";
import type { EncounterEvent } from "../domain/encounter/events";
import { markApplied } from "./marks";
import type { Projection, ProjectionTarget } from "./types";

const TABLE = "rm_census_encounters";

type Row = {
  encounterId: string;
  patientId: string;
  encounterType: string;
  providerId: string;
  startedAt: string;
  endedAt: string | null;
  dischargeDisposition: string | null;
};

type Ended = { encounterId: string; endedAt: string; dischargeDisposition: string };

/** Encounters started in the batch (with their end when it is in the batch too), and ends of earlier ones. Pure. */
export function foldCensus(events: readonly StoredEvent[]): { started: Row[]; ended: Ended[] } {
  const started = new Map<string, Row>();
  const ended = new Map<string, Ended>();
  for (const stored of events) {
    const event = stored as unknown as StoredEvent<EncounterEvent>;
    if (event.type === "EncounterStarted") {
      const d = event.data;
      started.set(d.encounterId, {
        encounterId: d.encounterId,
        patientId: d.patientId,
        encounterType: d.encounterType,
        providerId: d.providerId,
        startedAt: d.startedAt,
        endedAt: null,
        dischargeDisposition: null,
      });
    } else if (event.type === "EncounterCompleted") {
      const d = event.data;
      const row = started.get(d.encounterId);
      if (row) started.set(d.encounterId, { ...row, endedAt: d.endedAt, dischargeDisposition: d.dischargeDisposition });
      else ended.set(d.encounterId, { encounterId: d.encounterId, endedAt: d.endedAt, dischargeDisposition: d.dischargeDisposition });
    }
  }
  return { started: [...started.values()], ended: [...ended.values()] };
}

export async function applyCensus(tx: Db, events: readonly StoredEvent[], target: ProjectionTarget): Promise<void> {
  const { started, ended } = foldCensus(events);
  const t = target.table(TABLE);
  const sql = prismaRunner(tx);
  if (started.length > 0) {
    await sql(
      `INSERT INTO ${t} (encounter_id, patient_id, encounter_type, provider_id, started_at, ended_at, discharge_disposition)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[])
       ON CONFLICT (encounter_id) DO UPDATE
          SET ended_at = EXCLUDED.ended_at, discharge_disposition = EXCLUDED.discharge_disposition`,
      [
        started.map((r) => r.encounterId),
        started.map((r) => r.patientId),
        started.map((r) => r.encounterType),
        started.map((r) => r.providerId),
        started.map((r) => r.startedAt),
        started.map((r) => r.endedAt),
        started.map((r) => r.dischargeDisposition),
      ],
    );
  }
  if (ended.length > 0) {
    await sql(
      `UPDATE ${t} AS c SET ended_at = x.ended_at, discharge_disposition = x.disposition
         FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS x(encounter_id, ended_at, disposition)
        WHERE c.encounter_id = x.encounter_id`,
      [ended.map((e) => e.encounterId), ended.map((e) => e.endedAt), ended.map((e) => e.dischargeDisposition)],
    );
  }
  await markApplied(tx, census.name, events);
}

export const census: Projection = {
  name: "census",
  description: "Open encounters by type and attending provider, and admissions and discharges per day.",
  version: 1,
  tables: [TABLE],
  eventTypes: ["EncounterStarted", "EncounterCompleted"],
  apply: applyCensus,
};
