-- The app's role adds events only through append_to_stream. It held INSERT on events and every
-- privilege on streams, so a member of emr_app could write an event straight into the table with
-- any recorded time and a valid hash (event_hash() is public), move the stream row on, and the
-- next seal would sign the forgery: "as recorded at" a past moment then showed an event that did
-- not exist then. Now append_to_stream runs as its owner (SECURITY DEFINER), the only way in:
-- it takes the clock itself, after the stream lock, and chains the hash from the stream row.
-- search_path is pinned so a temporary table of the caller's cannot stand in for one of ours.
ALTER FUNCTION append_to_stream(text, text, integer, uuid[], text[], integer[], jsonb, jsonb, timestamptz[], text[], text[], text[])
    SECURITY DEFINER SET search_path = public, pg_temp;
REVOKE ALL ON FUNCTION append_to_stream(text, text, integer, uuid[], text[], integer[], jsonb, jsonb, timestamptz[], text[], text[], text[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION append_chain_columns(bytea, text, integer, uuid[], text[], integer[], jsonb, jsonb, timestamptz[], text[], text[], text[]) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT EXECUTE ON FUNCTION append_to_stream(text, text, integer, uuid[], text[], integer[], jsonb, jsonb, timestamptz[], text[], text[], text[]) TO emr_app;
        REVOKE INSERT ON events FROM emr_app;
        REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON streams FROM emr_app;
    END IF;
END;
$$;
