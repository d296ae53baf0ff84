-- The signature each audit extract ended with (server/audit/export.ts): its row count and the
-- SHA-256 of its bytes before the trailer, signed with the seals' key. Written when the last
-- row has gone out, so an extract without a row here was never finished (a closed download);
-- a copy an auditor is shown can be matched by its digest against what the server wrote, even
-- without the key. Append-only like audit_exports: one row per extract (its id).
CREATE TABLE audit_export_signatures (
    export_id  uuid        PRIMARY KEY,
    signed_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    rows       bigint      NOT NULL,
    sha256     bytea       NOT NULL,
    key_id     text,
    signature  bytea
);

CREATE FUNCTION audit_export_signatures_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit export signatures are append-only: % refused on table audit_export_signatures', TG_OP USING ERRCODE = 'ES005';
END;
$$;
CREATE TRIGGER audit_export_signatures_no_update_delete BEFORE UPDATE OR DELETE ON audit_export_signatures
    FOR EACH ROW EXECUTE FUNCTION audit_export_signatures_refuse_change();
CREATE TRIGGER audit_export_signatures_no_truncate BEFORE TRUNCATE ON audit_export_signatures
    FOR EACH STATEMENT EXECUTE FUNCTION audit_export_signatures_refuse_change();

DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT SELECT, INSERT ON audit_export_signatures TO emr_app;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_export_signatures FROM emr_app;
    END IF;
END $$;
