// Before a registration: is this person already registered? The same date of birth and the same
// names, folded as patient search folds them (case and accents aside), either way round (a given
// name typed as the family name), make a candidate. A given name is optional (an unidentified
// patient, a name not yet known): missing on either side, the family name and birth date alone
// make a candidate. Exact names on purpose: a looser match would stop every registration of a
// common name on a common birthday, and typing the names the way the first chart has them is
// what this check is for. The clinician sees the candidates (an access-log row each: their names
// are shown)
// and either opens one or registers anyway naming them, which the new patient's events record.
// The check runs inside the registration's transaction, under a lock on the birth date and names
// (checkedRegistration), so two registrations of one person at the same moment cannot both pass.
import type { Db, InlineProjector } from "../eventStore";
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
 * The registration's inline projection, with the check made again inside its transaction under a
 * lock: two clinicians registering the same person at the same moment both passed a check made
 * before either had committed, and the hospital had two charts. A transaction-scoped advisory
 * lock per birth date and folded name typed (both names, so the same person typed either way
 * round takes the same locks; in one order, so two registrations cannot deadlock) makes the
 * second wait for the first to commit, and its check then sees the first's row. A candidate not
 * named in `notDuplicateOf` rolls the registration back (PossibleDuplicateError).
 */
export function checkedRegistration<S>(person: Person, notDuplicateOf: readonly string[], project: InlineProjector<S>): InlineProjector<S> {
  const dismissed = new Set(notDuplicateOf);
  return async (tx, change) => {
    await prismaRunner(tx)(
      // (as text: a void column is not one the client reads)
      `SELECT count(locked)::int AS locks FROM (
         SELECT pg_advisory_xact_lock(hashtextextended('patient identity ' || $1 || ' ' || name, 0))::text AS locked
           FROM (SELECT DISTINCT emr_fold(typed) AS name FROM unnest(ARRAY[$2, $3]::text[]) AS typed ORDER BY 1) AS names
          WHERE name <> '') AS taken`,
      [person.dateOfBirth, person.familyName, person.givenName],
    );
    // The row is written before the table is read (the check passes over it: `notDuplicateOf`
    // holds the new id). A read first (ACCESS SHARE) and the write after would deadlock with a
    // rebuild's swap, which locks the table against writers, then renames it (ACCESS EXCLUSIVE);
    // written first, the registration waits for the swap, or the swap for it, and writes and
    // reads the table that is live by then. A refusal rolls the row back with the events.
    await project(tx, change);
    const unseen = (await possibleDuplicates(tx, person)).filter((c) => !dismissed.has(c.patientId));
    if (unseen.length > 0) throw new PossibleDuplicateError(unseen);
  };
}

/** The candidates a refused registration showed are recorded in the access log, as a search's results are. */
export async function recordCandidatesShown(ctx: AccessContext, error: PossibleDuplicateError): Promise<void> {
  await recordAccess(ctx, { patientIds: error.candidates.map((c) => c.patientId), procedure: "patient.register", screen: "search" });
}
