-- A seal's signing time and a data key's creation time carry the database's time, as grants,
-- reviews and extracts do (20261216010000_grants_and_extracts_stamped_by_the_database). Both only
-- had a DEFAULT, which a caller overrides: the app's role could insert a seal dated an hour ago,
-- so the compliance console's "newest seal signed" and the sealing-late warning (which go by it)
-- would say sealing was keeping up when no sealer ran, or a data key dated before the patient
-- existed. Neither time is part of what a seal signs or what a key wraps, so stamping changes no
-- signature. Rows written by anyone but the table's owner are stamped; the owner (a restore, and
-- the SECURITY DEFINER functions that erase and re-wrap keys) is left alone. Updates cannot move
-- them: emr_app holds no UPDATE on either table, and audit_seals refuses UPDATE for everyone.
CREATE OR REPLACE FUNCTION stamped_by_the_database() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp timestamptz := date_trunc('milliseconds', clock_timestamp());
BEGIN
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        CASE TG_TABLE_NAME
            WHEN 'emergency_access' THEN NEW.granted_at := stamp;
            WHEN 'emergency_access_review' THEN NEW.reviewed_at := stamp;
            WHEN 'audit_exports' THEN NEW.exported_at := stamp;
            WHEN 'audit_export_signatures' THEN NEW.signed_at := stamp;
            WHEN 'audit_seals' THEN NEW.sealed_at := stamp;
            WHEN 'phi_keys' THEN NEW.created_at := stamp;
        END CASE;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_seals_stamp BEFORE INSERT ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION stamped_by_the_database();
CREATE TRIGGER phi_keys_stamp BEFORE INSERT ON phi_keys
    FOR EACH ROW EXECUTE FUNCTION stamped_by_the_database();
