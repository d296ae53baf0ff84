-- Every audit extract handed out: who, when, which view with which filter, in which format, and
-- the seal it carried. Append-only like the access log (which also gets one row per patient the
-- extract contains, screen 'audit_export'): an extract of patient data is itself evidence.
CREATE TABLE audit_exports (
    id             uuid        PRIMARY KEY,
    user_id        text        NOT NULL,
    exported_at    timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    view           text        NOT NULL,
    format         text        NOT NULL,
    filter         jsonb       NOT NULL,
    seal_seq       bigint,
    correlation_id text        NOT NULL
);
CREATE INDEX audit_exports_exported_idx ON audit_exports (exported_at, id);
CREATE INDEX audit_exports_user_idx ON audit_exports (user_id, exported_at);

CREATE FUNCTION audit_exports_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit exports are append-only: % refused on table audit_exports', TG_OP USING ERRCODE = 'ES005';
END;
$$;
CREATE TRIGGER audit_exports_no_update_delete BEFORE UPDATE OR DELETE ON audit_exports
    FOR EACH ROW EXECUTE FUNCTION audit_exports_refuse_change();
CREATE TRIGGER audit_exports_no_truncate BEFORE TRUNCATE ON audit_exports
    FOR EACH STATEMENT EXECUTE FUNCTION audit_exports_refuse_change();

DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT SELECT, INSERT ON audit_exports TO emr_app;
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_exports FROM emr_app;
    END IF;
END $$;
