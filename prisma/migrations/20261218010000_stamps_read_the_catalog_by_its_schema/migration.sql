-- The triggers that stamp rows with the database's time, and the one that refuses an erased data
-- key written by hand, decide by asking whether the writer owns the table. They read the owner
-- from `pg_class` by its bare name, with the writer's search path, and a session's temporary
-- schema is searched before pg_catalog for tables: a role that may create temporary tables could
-- create one named pg_class that names it the owner, then date its own access-log rows,
-- break-the-glass grants, seals and extracts, or store a patient's key as already erased. The
-- migrations take TEMPORARY from PUBLIC (20261205010000), but only where the migrating role owns
-- the database; elsewhere the app's role may hold it. The catalog is now named with its schema,
-- which no temporary table shadows. The functions are otherwise as they were.
CREATE OR REPLACE FUNCTION access_log_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        NEW.accessed_at := pg_catalog.date_trunc('milliseconds', pg_catalog.clock_timestamp());
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE FUNCTION stamped_by_the_database() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp timestamptz := pg_catalog.date_trunc('milliseconds', pg_catalog.clock_timestamp());
BEGIN
    IF NOT pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
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

CREATE OR REPLACE FUNCTION phi_keys_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.wrapped_key IS NULL AND NOT pg_catalog.pg_has_role(current_user, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        RAISE EXCEPTION 'phi_keys: a data key is stored erased only by phi_key_erase()' USING ERRCODE = 'ES004';
    END IF;
    RETURN NEW;
END;
$$;

-- Positions in the log are drawn by append_to_stream, as the owner. The app's role held USAGE on
-- every sequence (20261128000000), so it could draw from the events' counter by hand and leave
-- holes in global_position that no append made. It keeps SELECT (reading where the counter is).
REVOKE USAGE ON SEQUENCE events_global_position_seq FROM emr_app;
