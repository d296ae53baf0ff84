-- Enrolment links: an account made by an admin gets no password from them. The admin hands the
-- new user a one-time link, and the user sets their own password. Only a SHA-256 of the link's
-- token is kept (the token is 256 random bits, so a plain hash is enough: nothing to guess); one
-- row per user, so issuing a new link replaces the old one's hash and the old link stops working.
CREATE TABLE auth_enrolment_links (
    user_id     text        PRIMARY KEY REFERENCES auth_users (id) ON DELETE CASCADE,
    token_hash  text        NOT NULL,
    issued_at   timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE UNIQUE INDEX auth_enrolment_links_token_hash_key ON auth_enrolment_links (token_hash);

-- Enrolment attempts per client address (a hash of it) in a fixed window, shared by every
-- instance, as sign-in attempts are limited per address. Rows of passed windows are pruned by the app.
CREATE TABLE auth_enrolment_attempts (
    address_key        text        PRIMARY KEY,
    attempts           integer     NOT NULL,
    window_started_at  timestamptz NOT NULL
);
CREATE INDEX auth_enrolment_attempts_window_idx ON auth_enrolment_attempts (window_started_at);

-- The app issues, replaces and uses links; it never deletes one (a link goes with its account).
-- It counts and prunes attempts.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT SELECT, INSERT, UPDATE ON auth_enrolment_links TO emr_app;
        REVOKE DELETE, TRUNCATE ON auth_enrolment_links FROM emr_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON auth_enrolment_attempts TO emr_app;
        REVOKE TRUNCATE ON auth_enrolment_attempts FROM emr_app;
    END IF;
END $$;
