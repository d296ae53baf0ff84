-- The duplicate check before a registration (server/api/duplicates.ts) found its candidates by
-- date of birth alone, then folded the names of every listed patient born that day. A birthday
-- many patients share (1 January, the placeholder date an unknown birth date gets) made every
-- registration read all of them: at a few thousand on one date, a registration took 40 ms of
-- the database instead of 1. The names it compares are folded family names, so the index is on
-- the date and the folded family name; the check asks for either of the two names typed (a
-- given name typed as the family name is also a candidate), two probes of this index.
CREATE INDEX rm_patients_duplicate_idx ON rm_patients (date_of_birth, emr_fold(family_name)) WHERE erased_at IS NULL;
DROP INDEX rm_patients_birth_date_idx;
