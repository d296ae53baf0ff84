-- A registration first looks for a patient already registered with the same date of birth and
-- names (server/api/duplicates.ts). Without an index that is a scan of every patient on each
-- registration; a date of birth holds a handful of the listed (not erased) patients.
CREATE INDEX rm_patients_birth_date_idx ON rm_patients (date_of_birth) WHERE erased_at IS NULL;
