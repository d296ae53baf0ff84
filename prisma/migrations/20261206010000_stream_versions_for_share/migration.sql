-- A command decided on other records' facts (an order on the patient's allergies and the
-- encounter's status; an encounter's start on the patient being active) reads those records'
-- stream versions in its transaction through this function, which locks their stream rows FOR
-- SHARE. An append to such a stream in flight holds its row (append_to_stream updates it first),
-- so the reader waits for it to end and then reads the committed version: when it differs from
-- the version the decision was taken on, the command is decided again (server/api/erasure.ts,
-- refusingErased and onFreshFacts). Taken first, the lock holds the other append back until the
-- decision commits, so that append's transaction id and recorded time both come after it.
-- Without it, a medication order placed as a penicillin allergy was being recorded committed
-- after the allergy, unchecked, and an order was added to an encounter completed first.
--
-- SECURITY DEFINER: the app's role holds only SELECT on streams, and FOR SHARE needs UPDATE.
-- It locks the rows in stream id order, so two callers never wait on each other in a circle.
CREATE FUNCTION stream_versions_for_share(p_stream_ids text[])
RETURNS TABLE (stream_id text, version integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.stream_id, s.version FROM streams s WHERE s.stream_id = ANY (p_stream_ids) ORDER BY s.stream_id FOR SHARE
$$;
REVOKE ALL ON FUNCTION stream_versions_for_share(text[]) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT EXECUTE ON FUNCTION stream_versions_for_share(text[]) TO emr_app;
    END IF;
END;
$$;
