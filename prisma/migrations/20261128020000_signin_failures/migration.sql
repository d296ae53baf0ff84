-- Failed sign-ins per account (a hash of the lower-cased email, so no address is stored), in a
-- fixed window, shared by every instance of the app: a guess spread over many client addresses
-- is slowed per account too. Rows of windows that have passed are pruned by the app.
CREATE TABLE auth_signin_failures (
    account_key        text        PRIMARY KEY,
    failures           integer     NOT NULL,
    window_started_at  timestamptz NOT NULL
);
CREATE INDEX auth_signin_failures_window_idx ON auth_signin_failures (window_started_at);
