-- The patient list's order index holds the listed (not erased) patients only, so a search that
-- walks it in order is an index-only scan. The list always asks for erased_at IS NULL; with the
-- earlier index (all rows) that condition sent every entry walked to the table: "Núñez", whose
-- 6% of 100,000 patients sort after half the others, read 57,000 rows to fill a page (70 ms or
-- more). Index-only, the same walk reads about 700 index pages (5 ms), and a walk of the whole
-- index stays under 10 ms.
DROP INDEX rm_patients_sort_idx;
CREATE INDEX rm_patients_sort_idx ON rm_patients (sort_key, patient_id) INCLUDE (search_text) WHERE erased_at IS NULL;
