-- Sign-in (better-auth's user, session, account, verification and rate-limit tables, with our
-- roles on the user) and the read-access log that answers "who looked at this chart, and when".

CREATE TABLE auth_users (
    id              text        PRIMARY KEY,
    name            text        NOT NULL,
    email           text        NOT NULL,
    email_verified  boolean     NOT NULL DEFAULT false,
    image           text,
    -- A user may hold several roles; an empty list signs in but may call nothing.
    roles           text[]      NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT auth_users_email_key UNIQUE (email),
    CONSTRAINT auth_users_roles_check CHECK (roles <@ ARRAY['clinician', 'compliance', 'admin']::text[])
);

CREATE TABLE auth_sessions (
    id          text        PRIMARY KEY,
    expires_at  timestamptz NOT NULL,
    token       text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    ip_address  text,
    user_agent  text,
    user_id     text        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    CONSTRAINT auth_sessions_token_key UNIQUE (token)
);
CREATE INDEX auth_sessions_user_id_idx ON auth_sessions (user_id);

CREATE TABLE auth_accounts (
    id                        text        PRIMARY KEY,
    account_id                text        NOT NULL,
    provider_id               text        NOT NULL,
    user_id                   text        NOT NULL REFERENCES auth_users (id) ON DELETE CASCADE,
    access_token              text,
    refresh_token             text,
    id_token                  text,
    access_token_expires_at   timestamptz,
    refresh_token_expires_at  timestamptz,
    scope                     text,
    -- The library's password hash (scrypt); never a plain password.
    password                  text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_accounts_user_id_idx ON auth_accounts (user_id);

CREATE TABLE auth_verifications (
    id          text        PRIMARY KEY,
    identifier  text        NOT NULL,
    value       text        NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_verifications_identifier_idx ON auth_verifications (identifier);

-- Sign-in attempts per client and path, shared by every instance of the app.
CREATE TABLE auth_rate_limits (
    id            text    PRIMARY KEY,
    key           text    NOT NULL,
    count         integer NOT NULL,
    last_request  bigint  NOT NULL,
    CONSTRAINT auth_rate_limits_key_key UNIQUE (key)
);

-- One row per patient whose data a query returned, written before the data leaves the server.
-- user_id has no foreign key on purpose: the log outlives users.
CREATE TABLE access_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    accessed_at     timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    user_id         text        NOT NULL,
    patient_id      text        NOT NULL,
    procedure       text        NOT NULL,
    correlation_id  text        NOT NULL
);
CREATE INDEX access_log_patient_idx ON access_log (patient_id, id);
CREATE INDEX access_log_user_idx ON access_log (user_id, id);
CREATE INDEX access_log_accessed_at_idx ON access_log (accessed_at, id);

CREATE FUNCTION access_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the access log is append-only: % refused on table access_log', TG_OP
        USING ERRCODE = 'ES004';
END;
$$;
CREATE TRIGGER access_log_no_update_delete BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_refuse_change();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_refuse_change();
