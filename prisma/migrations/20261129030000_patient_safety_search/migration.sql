-- Allergies and alerts on the patient list's read model, and search as people type names.

-- The chart's safety banner reads allergies and alerts from the patient's row (a fold of the
-- stream like every other column). Patients recorded before have neither: "not recorded".
ALTER TABLE rm_patients
    ADD COLUMN safety jsonb NOT NULL DEFAULT '{"allergyStatus":"unknown","allergies":[],"alerts":[]}';

-- Trigram search (pg_trgm: a trusted extension, so the database's owner may create it; PGlite
-- ships it and loads it in the constructor). Any part of the name in any order, typo-tolerant.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Accent and case folding that is the same on every server (unaccent is not immutable and not
-- always installed): Latin letters with diacritics to their base letter, then lower case, then
-- anything that is not a letter or digit to a space. The search applies it to what is typed too.
CREATE FUNCTION emr_fold(value text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN trim(regexp_replace(lower(translate(value,
        'ÁÀÂÄÃÅĀĂĄáàâäãåāăąÇĆČçćčĎďÉÈÊËĒĖĘĚéèêëēėęěÍÌÎÏĪĮíìîïīįİıŁłÑŃŇñńňÓÒÔÖÕØŌŐóòôöõøōőŔŘŕřŚŠŞśšşŤŢťţÚÙÛÜŪŮŰŲúùûüūůűųÝŸýÿŹŻŽźżž',
        'AAAAAAAAAaaaaaaaaaCCCcccDdEEEEEEEEeeeeeeeeIIIIIIiiiiiiIiLlNNNnnnOOOOOOOOooooooooRRrrSSSsssTTttUUUUUUUUuuuuuuuuYYyyZZZzzz')), '[^a-z0-9]+', ' ', 'g'));

-- Family name, given name and MRN, folded: "delgado probe8680 rosa mrn00042".
ALTER TABLE rm_patients
    ADD COLUMN search_text text GENERATED ALWAYS AS (emr_fold(family_name || ' ' || given_name || ' ' || mrn)) STORED;
CREATE INDEX rm_patients_search_idx ON rm_patients USING gin (search_text gin_trgm_ops);

-- The list's order, covering search_text: a search for a common name walks this index in order
-- and tests each entry without visiting the table (an index-only scan), so a page of matches that
-- sort late still costs one index range, not the table's rows.
DROP INDEX rm_patients_sort_idx;
CREATE INDEX rm_patients_sort_idx ON rm_patients (sort_key, patient_id) INCLUDE (search_text);

-- The prefix indexes of the earlier word-prefix search: no query uses them now.
DROP INDEX rm_patients_family_idx;
DROP INDEX rm_patients_given_idx;
