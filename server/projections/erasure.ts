// What an erasure does to the read models: the patient's rows stay (ids, statuses and times keep
// lists, counts and reports right) with every PHI column masked as PHI_ERASED or NULL. Run by
// admin.erasePatient in its transaction on the live tables, and by every projection that holds
// PHI when PatientErased reaches it (live runs and rebuilds alike), so a rebuild never brings
// PHI back, even in a process that still holds the patient's key in its cache.
import { prismaRunner, type Db, type FoldEvent } from "../eventStore";
import { PHI_ERASED } from "../eventStore/phi";

export const PATIENT_ERASED = "PatientErased";

/** The patients erased by the events of a batch. */
export const erasedPatientsIn = (events: readonly FoldEvent[]): string[] =>
  events.filter((e) => e.type === PATIENT_ERASED).map((e) => String((e.data as { patientId: string }).patientId));

/** The events of a batch other than erasures (the folds of encounters and orders know none). */
export const withoutErasures = <E extends FoldEvent>(events: readonly E[]): E[] => events.filter((e) => e.type !== PATIENT_ERASED);

const masked = (column: string) => `CASE WHEN ${column} IS NULL THEN NULL ELSE '${PHI_ERASED}' END`;
const maskedJson = (column: string) => `CASE WHEN ${column} IS NULL THEN NULL ELSE to_jsonb('${PHI_ERASED}'::text) END`;

/**
 * Each PHI-holding read model table: how its PHI columns are masked, by patient_id. Sex too: a
 * change of it is sealed with the patient's key (PatientDemographicsUpdated), so a rebuild after
 * the erasure reads it as erased, and the live row must say the same.
 */
export const maskStatements = {
  rm_patients: (t: string) =>
    `UPDATE ${t} SET mrn = 'ERASED-' || patient_id::text, given_name = '${PHI_ERASED}', family_name = '${PHI_ERASED}',
            date_of_birth = NULL, sex = '${PHI_ERASED}', email = NULL, phone = NULL, address = NULL, active = false,
            sort_key = '~erased ' || patient_id::text, erased_at = coalesce(erased_at, now()),
            safety = '{"allergyStatus":"unknown","allergies":[],"alerts":[]}'::jsonb
      WHERE patient_id = ANY ($1::uuid[])`,
  rm_encounters: (t: string) => `UPDATE ${t} SET reason = ${masked("reason")}, outcome = ${masked("outcome")}, location = ${masked("location")} WHERE patient_id = ANY ($1::uuid[])`,
  rm_orders: (t: string) =>
    `UPDATE ${t} SET description = '${PHI_ERASED}', status_reason = ${masked("status_reason")}, result_data = ${maskedJson("result_data")},
            details = (SELECT coalesce(jsonb_object_agg(key, to_jsonb('${PHI_ERASED}'::text)), '{}'::jsonb) FROM jsonb_each(details))
      WHERE patient_id = ANY ($1::uuid[])`,
  rm_order_turnaround: (t: string) => `UPDATE ${t} SET description = '${PHI_ERASED}' WHERE patient_id = ANY ($1::uuid[])`,
} as const;

export type MaskedTable = keyof typeof maskStatements;

/** Masks the patients' rows in these tables (a rebuild passes its shadow tables' names). */
export async function maskPatientRows(tx: Db, patientIds: readonly string[], tables: readonly MaskedTable[], nameOf: (table: string) => string = (t) => t): Promise<void> {
  if (patientIds.length === 0) return;
  const sql = prismaRunner(tx);
  for (const table of tables) await sql(maskStatements[table](nameOf(table)), [[...patientIds]]);
}
