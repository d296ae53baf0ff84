-- Sealing health: every sealer pass records its outcome, one row per process (a restarted process
-- is a new process id), so the compliance console and /metrics can tell a sealer that keeps up
-- from one that fails, refuses (no signing key, a witness that no longer matches) or never ran.
-- Nothing of any event is kept here: counts, times and a short reason or error summary.
CREATE TABLE audit_sealer_status (
    process_id      text        PRIMARY KEY,
    last_pass_at    timestamptz NOT NULL,
    -- sealed: sealed_events events were sealed; idle: nothing to seal; refused: would not seal
    -- (reason says why); failed: the pass failed (reason: class, SQLSTATE, never a value).
    outcome         text        NOT NULL CHECK (outcome IN ('sealed', 'idle', 'refused', 'failed')),
    sealed_events   integer     NOT NULL DEFAULT 0 CHECK (sealed_events >= 0),
    reason          text        CHECK (char_length(reason) <= 500),
    last_sealed_at  timestamptz
);

-- The console reads the last day's passes, newest first; each write prunes week-old rows.
CREATE INDEX audit_sealer_status_last_pass_idx ON audit_sealer_status (last_pass_at DESC);

-- The app writes its own row (upsert) and prunes rows of processes long gone; no TRUNCATE.
DO $$ BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON audit_sealer_status TO emr_app;
        REVOKE TRUNCATE, REFERENCES, TRIGGER ON audit_sealer_status FROM emr_app;
    END IF;
END $$;
