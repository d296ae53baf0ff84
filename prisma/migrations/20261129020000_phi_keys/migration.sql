-- PHI protection: one data key per data subject (a patient), random, stored wrapped by the
-- master key (PHI_MASTER_KEY, never in the database). Erasing a patient destroys their key
-- (wrapped_key and master_key_id set to NULL, erased_at set): every event and snapshot sealed
-- under it becomes unreadable while staying in place, so the hash chain still verifies.

CREATE TABLE phi_keys (
    subject_id     text        PRIMARY KEY,
    -- base64(nonce + AES-256-GCM(data key) + tag) under the master key; NULL once erased.
    wrapped_key    text,
    -- First 16 hex digits of SHA-256 over the master key that wrapped it; NULL once erased.
    master_key_id  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    rotated_at     timestamptz,
    erased_at      timestamptz,
    CONSTRAINT phi_keys_erased_check CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL) AND (wrapped_key IS NULL) = (master_key_id IS NULL))
);
-- keys:rotate walks the keys not yet under the new master key.
CREATE INDEX phi_keys_master_idx ON phi_keys (master_key_id, subject_id) WHERE wrapped_key IS NOT NULL;

-- An erased key stays erased, and a key row keeps its subject: nobody (the owner included,
-- short of dropping the trigger) can bring a destroyed key back or move one to another patient.
CREATE FUNCTION phi_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.subject_id <> OLD.subject_id THEN
        RAISE EXCEPTION 'phi_keys: a data key cannot change subject' USING ERRCODE = 'ES004';
    END IF;
    IF OLD.erased_at IS NOT NULL AND (NEW.wrapped_key IS NOT NULL OR NEW.erased_at IS DISTINCT FROM OLD.erased_at) THEN
        RAISE EXCEPTION 'phi_keys: the data key of % was erased and cannot be restored', OLD.subject_id USING ERRCODE = 'ES004';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER phi_keys_guard BEFORE UPDATE ON phi_keys FOR EACH ROW EXECUTE FUNCTION phi_keys_guard();

-- The app creates, rotates and erases keys; it never deletes a row (a deleted erased row would
-- let a new key be made for a forgotten patient).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT SELECT, INSERT, UPDATE ON phi_keys TO emr_app;
        REVOKE DELETE, TRUNCATE ON phi_keys FROM emr_app;
    END IF;
END $$;

-- An erased patient's row stays (ids, statuses, counts keep working) with its PHI masked: the
-- date of birth is then unknown.
ALTER TABLE rm_patients ALTER COLUMN date_of_birth DROP NOT NULL;
ALTER TABLE rm_patients ADD COLUMN erased_at timestamptz;
