-- The access log records screen views, not queries: the screen a read came through (so the log
-- speaks in words, not procedure names) and the client's view id, so the several queries one
-- screen makes (the chart and its history, a refetch) count once. At most one row per user,
-- patient and view id per clock hour: a client that reuses a view id still leaves a row an hour.
-- Older rows keep a NULL screen; readers fall back to the procedure.
ALTER TABLE access_log ADD COLUMN screen text, ADD COLUMN view_id uuid;
CREATE UNIQUE INDEX access_log_view_key ON access_log
    (user_id, patient_id, view_id, (date_trunc('hour', accessed_at AT TIME ZONE 'UTC')))
    WHERE view_id IS NOT NULL;

-- Break-the-glass: a clinician's access to a chart of a patient not in their care, with the
-- reason given, granted until expires_at. Append-only like the access log: a grant is evidence.
CREATE TABLE emergency_access (
    id          uuid        PRIMARY KEY,
    user_id     text        NOT NULL,
    patient_id  uuid        NOT NULL,
    reason      text        NOT NULL,
    granted_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    expires_at  timestamptz NOT NULL,
    correlation_id text     NOT NULL
);
CREATE INDEX emergency_access_grant_idx ON emergency_access (user_id, patient_id, expires_at);
CREATE INDEX emergency_access_granted_idx ON emergency_access (granted_at, id);

-- A compliance review of one emergency access: who, when, the note. One per access, never edited.
CREATE TABLE emergency_access_review (
    access_id    uuid        PRIMARY KEY REFERENCES emergency_access (id),
    reviewer_id  text        NOT NULL,
    note         text        NOT NULL,
    reviewed_at  timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
);

CREATE FUNCTION emergency_access_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'emergency accesses and their reviews are append-only: % refused on table %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'ES004';
END;
$$;
CREATE TRIGGER emergency_access_no_update_delete BEFORE UPDATE OR DELETE ON emergency_access
    FOR EACH ROW EXECUTE FUNCTION emergency_access_refuse_change();
CREATE TRIGGER emergency_access_no_truncate BEFORE TRUNCATE ON emergency_access
    FOR EACH STATEMENT EXECUTE FUNCTION emergency_access_refuse_change();
CREATE TRIGGER emergency_access_review_no_update_delete BEFORE UPDATE OR DELETE ON emergency_access_review
    FOR EACH ROW EXECUTE FUNCTION emergency_access_refuse_change();
CREATE TRIGGER emergency_access_review_no_truncate BEFORE TRUNCATE ON emergency_access_review
    FOR EACH STATEMENT EXECUTE FUNCTION emergency_access_refuse_change();

DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON emergency_access, emergency_access_review FROM emr_app;
    END IF;
END $$;
