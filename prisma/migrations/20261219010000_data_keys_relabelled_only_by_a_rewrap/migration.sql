-- A re-wrap must re-wrap. phi_keys_rewrap (20261216020000) took a patient's stored wrapping back
-- unchanged with only master_key_id moved, and the trigger that keeps replaced wrappings fired only
-- when the wrapping changed, so phi_key_history kept nothing. emr_app could thereby label a key
-- still wrapped by the old master key with the new one's id: a rotation (which claims keys whose
-- id is not the current one) then skipped it and reported none remaining, the start-up check (one
-- key per master key id) passed, the operator dropped PHI_MASTER_KEY_PREVIOUS, and that patient's
-- data key could never be unwrapped again, with nothing kept to restore; or label it with an id
-- no one has, and every start failed. Now:
--   phi_keys_keep_previous keeps the old (wrapping, master key id) when either changes, the
--     owner's updates by hand included;
--   phi_keys_rewrap refuses a wrapping that is the subject's stored one, or one kept in its
--     history, under another master key id: a real re-wrap draws a fresh nonce, so it never
--     repeats a wrapping, and a relabel (in one step, or two through another wrapping) is refused.
-- The functions are otherwise as they were: the same owner-run settings and grants (CREATE OR
-- REPLACE keeps the grants of 20261216020000).
CREATE OR REPLACE FUNCTION phi_keys_keep_previous() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.wrapped_key IS NOT NULL AND NEW.wrapped_key IS NOT NULL
       AND (NEW.wrapped_key IS DISTINCT FROM OLD.wrapped_key OR NEW.master_key_id IS DISTINCT FROM OLD.master_key_id) THEN
        INSERT INTO phi_key_history (subject_id, wrapped_key, master_key_id) VALUES (OLD.subject_id, OLD.wrapped_key, OLD.master_key_id);
    END IF;
    RETURN NULL;
END;
$$;

-- Replaces the wrappings of keys not erased meanwhile; answers how many it replaced.
-- (unnest stays unqualified: only the bare name takes several arrays in FROM; pg_catalog is
-- searched first here, as the pinned search_path does not name it.)
CREATE OR REPLACE FUNCTION phi_keys_rewrap(p_subjects text[], p_wrapped text[], p_master_key_id text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
    relabelled text;
BEGIN
    IF coalesce(p_master_key_id, '') = '' OR pg_catalog.cardinality(p_subjects) IS DISTINCT FROM pg_catalog.cardinality(p_wrapped)
       OR EXISTS (SELECT 1 FROM unnest(p_subjects, p_wrapped) AS r(subject, wrapped) WHERE coalesce(r.subject, '') = '' OR coalesce(r.wrapped, '') = '') THEN
        RAISE EXCEPTION 'phi_keys: a re-wrap needs a wrapping and the master key id for every data key it names' USING ERRCODE = 'ES004';
    END IF;
    SELECT r.subject INTO relabelled FROM unnest(p_subjects, p_wrapped) AS r(subject, wrapped)
     WHERE EXISTS (SELECT 1 FROM phi_keys k
                    WHERE k.subject_id = r.subject AND k.wrapped_key = r.wrapped AND k.master_key_id IS DISTINCT FROM p_master_key_id)
        OR EXISTS (SELECT 1 FROM phi_key_history h
                    WHERE h.subject_id = r.subject AND h.wrapped_key = r.wrapped AND h.master_key_id IS DISTINCT FROM p_master_key_id)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'phi_keys: the data key of % keeps a wrapping it had under another master key: a re-wrap wraps it anew under %', relabelled, p_master_key_id
            USING ERRCODE = 'ES004';
    END IF;
    UPDATE phi_keys AS k SET wrapped_key = r.wrapped, master_key_id = p_master_key_id, rotated_at = pg_catalog.now()
      FROM unnest(p_subjects, p_wrapped) AS r(subject, wrapped)
     WHERE k.subject_id = r.subject AND k.wrapped_key IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END;
$$;
