// Before a registration: is this person already registered? The same date of birth and the same
// names, folded as patient search folds them (case and accents aside), either way round (a given
// name typed as the family name), make a candidate. A given name is optional (an unidentified
// patient, a name not yet known): missing on either side, the family name and birth date alone
// make a candidate. Exact names on purpose: a looser match would
// stop every registration of a common name on a common birthday, and typing the names the way
// the first chart has them is what this check is for. The clinician sees the candidates (an access-log row each: their names are shown)
// and either opens one or registers anyway naming them, which the new patient's events record.
import type { Db } from "../eventStore";
import { prismaRunner } from "../eventStore";
import { PossibleDuplicateError, type DuplicateCandidate } from "../errors";
import { recordAccess, type AccessContext } from "./accessLog";

/** At most this many candidates are shown; more would be a search, not a check. */
const MAX_CANDIDATES = 10;

type Person = { givenName: string; familyName: string; dateOfBirth: string };

/**
 * The duplicate check's statement: two probes of rm_patients_duplicate_idx (date of birth, folded
 * family name), one per name typed, each an equality on both columns, so only the patients born
 * that day under that family name are read, however many share the birthday, and whatever the
 * planner knows of the table (an IN over the folded names let it narrow by the date alone while
 * the table had no statistics, as a new hospital's has not, and fold every name born that day).
 */
export function duplicateQuery(person: Person): { text: string; params: string[] } {
  const columns = `patient_id::text, mrn, given_name, family_name, to_char(date_of_birth, 'YYYY-MM-DD') AS date_of_birth, sex`;
  return {
    text: `SELECT * FROM (
        SELECT ${columns} FROM rm_patients
         WHERE date_of_birth = $1::date AND emr_fold(family_name) = emr_fold($2) AND erased_at IS NULL AND emr_fold($2) <> ''
           AND (emr_fold(given_name) = emr_fold($3) OR emr_fold(given_name) = '' OR emr_fold($3) = '')
        UNION
        SELECT ${columns} FROM rm_patients
         WHERE date_of_birth = $1::date AND emr_fold(family_name) = emr_fold($3) AND erased_at IS NULL AND emr_fold($3) <> ''
           AND emr_fold(given_name) = emr_fold($2) AND emr_fold($2) <> ''
      ) AS candidates
      ORDER BY family_name, given_name, patient_id
      LIMIT ${MAX_CANDIDATES}`,
    params: [person.dateOfBirth, person.familyName, person.givenName],
  };
}

export async function possibleDuplicates(tx: Db, person: Person): Promise<DuplicateCandidate[]> {
  const { text, params } = duplicateQuery(person);
  const rows = await prismaRunner(tx)<{ patient_id: string; mrn: string; given_name: string; family_name: string; date_of_birth: string; sex: string }>(text, params);
  return rows.map((r) => ({ patientId: r.patient_id, mrn: r.mrn, givenName: r.given_name, familyName: r.family_name, dateOfBirth: r.date_of_birth, sex: r.sex }));
}

/**
 * Refuses a registration (PossibleDuplicateError) while a candidate is left that the clinician
 * has not named as someone else; the candidates shown are recorded in the access log first.
 */
export async function refuseUnseenDuplicates(
  ctx: AccessContext & { db: { prisma: Db } },
  person: Person,
  notDuplicateOf: readonly string[],
): Promise<void> {
  const dismissed = new Set(notDuplicateOf);
  const unseen = (await possibleDuplicates(ctx.db.prisma, person)).filter((c) => !dismissed.has(c.patientId));
  if (unseen.length === 0) return;
  await recordAccess(ctx, { patientIds: unseen.map((c) => c.patientId), procedure: "patient.register", screen: "search" });
  throw new PossibleDuplicateError(unseen);
}
