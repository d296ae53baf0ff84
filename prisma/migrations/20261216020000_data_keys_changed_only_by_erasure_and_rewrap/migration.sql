-- A data key is destroyed only by an erasure the log records, and replaced only by a re-wrap
-- that cannot lose it. emr_app held UPDATE on phi_keys (rotation and erasure used it), so one
-- `UPDATE phi_keys SET wrapped_key = NULL` (or a wrapping of garbage) shredded any patient for
-- good with no PatientErased in the log and their name still in rm_patients: an irreversible
-- change to what the history says, made outside append_to_stream. Now emr_app keeps SELECT and
-- INSERT (a new patient's key) and changes a key only through two functions that run as their
-- owner, with search_path pinned so a temporary table of the caller's cannot stand in for ours:
--   phi_key_erase(subject): only when the subject's stream holds a PatientErased event that is
--     committed or this transaction's own (erasePatient appends it first, in the same
--     transaction), so an erasure always leaves its event in the log;
--   phi_keys_rewrap(subjects, wrappings, master key id): refuses a NULL or empty wrapping, and
--     every wrapping it replaces is kept in phi_key_history (a trigger, for the owner's updates
--     too), which emr_app can neither read nor change: the database cannot tell a wrapping of
--     garbage from a real one (it never holds the master key), so a bogus re-wrap is made
--     recoverable instead; the owner puts the previous wrapping back (README, "PHI protection").
-- phi_keys_claim_for_rewrap() takes a rotation batch's row locks (SELECT ... FOR UPDATE needs
-- UPDATE privilege, which emr_app no longer holds).

-- Wrappings a re-wrap replaced, newest last; removed with the key when the subject is erased.
CREATE TABLE phi_key_history (
    id             bigserial   PRIMARY KEY,
    subject_id     text        NOT NULL,
    wrapped_key    text        NOT NULL,
    master_key_id  text        NOT NULL,
    replaced_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX phi_key_history_subject_idx ON phi_key_history (subject_id, id);

CREATE FUNCTION phi_keys_keep_previous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.wrapped_key IS NOT NULL AND NEW.wrapped_key IS NOT NULL AND NEW.wrapped_key IS DISTINCT FROM OLD.wrapped_key THEN
        INSERT INTO phi_key_history (subject_id, wrapped_key, master_key_id) VALUES (OLD.subject_id, OLD.wrapped_key, OLD.master_key_id);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER phi_keys_keep_previous AFTER UPDATE ON phi_keys FOR EACH ROW EXECUTE FUNCTION phi_keys_keep_previous();

-- A row the app inserts carries a key: an erased row (no wrapping) written before a patient had
-- a key would refuse every write about them, with no erasure in the log.
CREATE FUNCTION phi_keys_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.wrapped_key IS NULL AND NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION 'phi_keys: a data key is stored erased only by phi_key_erase()' USING ERRCODE = 'ES004';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER phi_keys_insert_guard BEFORE INSERT ON phi_keys FOR EACH ROW EXECUTE FUNCTION phi_keys_insert_guard();

-- Destroys the subject's data key (or records it erased when it never had one) and the
-- wrappings kept of it; true when this call erased it, false when it already was.
CREATE FUNCTION phi_key_erase(p_subject text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    erased boolean;
BEGIN
    -- The subject's stream: patientStream() in server/domain/streams.ts.
    IF NOT EXISTS (SELECT 1 FROM events WHERE stream_id = 'patient-' || p_subject AND event_type = 'PatientErased') THEN
        RAISE EXCEPTION 'phi_keys: the data key of % is destroyed only by an erasure: append PatientErased to its stream first', p_subject
            USING ERRCODE = 'ES004';
    END IF;
    INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id, erased_at) VALUES (p_subject, NULL, NULL, now())
    ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = NULL, master_key_id = NULL, erased_at = now()
     WHERE phi_keys.erased_at IS NULL;
    erased := FOUND;
    DELETE FROM phi_key_history WHERE subject_id = p_subject;
    RETURN erased;
END;
$$;

-- The rows a rotation batch re-wraps, locked for its transaction; rows another transaction holds
-- (an erasure) are skipped.
CREATE FUNCTION phi_keys_claim_for_rewrap(p_current text, p_limit integer)
    RETURNS TABLE (subject_id text, wrapped_key text, master_key_id text)
    LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.subject_id, k.wrapped_key, k.master_key_id FROM phi_keys k
     WHERE k.wrapped_key IS NOT NULL AND k.master_key_id <> p_current
     ORDER BY k.subject_id LIMIT p_limit FOR UPDATE SKIP LOCKED
$$;

-- Replaces the wrappings of keys not erased meanwhile; answers how many it replaced.
CREATE FUNCTION phi_keys_rewrap(p_subjects text[], p_wrapped text[], p_master_key_id text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    IF coalesce(p_master_key_id, '') = '' OR cardinality(p_subjects) IS DISTINCT FROM cardinality(p_wrapped)
       OR EXISTS (SELECT 1 FROM unnest(p_subjects, p_wrapped) AS r(subject, wrapped) WHERE coalesce(r.subject, '') = '' OR coalesce(r.wrapped, '') = '') THEN
        RAISE EXCEPTION 'phi_keys: a re-wrap needs a wrapping and the master key id for every data key it names' USING ERRCODE = 'ES004';
    END IF;
    UPDATE phi_keys AS k SET wrapped_key = r.wrapped, master_key_id = p_master_key_id, rotated_at = now()
      FROM unnest(p_subjects, p_wrapped) AS r(subject, wrapped)
     WHERE k.subject_id = r.subject AND k.wrapped_key IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;

REVOKE ALL ON FUNCTION phi_key_erase(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION phi_keys_claim_for_rewrap(text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION phi_keys_rewrap(text[], text[], text) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT EXECUTE ON FUNCTION phi_key_erase(text) TO emr_app;
        GRANT EXECUTE ON FUNCTION phi_keys_claim_for_rewrap(text, integer) TO emr_app;
        GRANT EXECUTE ON FUNCTION phi_keys_rewrap(text[], text[], text) TO emr_app;
        REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON phi_keys FROM emr_app;
        -- The default privileges granted it the new table and its sequence.
        REVOKE ALL ON phi_key_history FROM emr_app;
        REVOKE ALL ON SEQUENCE phi_key_history_id_seq FROM emr_app;
    END IF;
END;
$$;
