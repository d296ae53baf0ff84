-- The bus claim took a row when no earlier row of its stream waited for anything "this claim does
-- not also take", judged from the rows' state, not from what it took: an earlier row that was due
-- but locked by another writer (a worker past its lease writing the row's failure, or its
-- confirm-timeout or hold) was skipped by FOR UPDATE SKIP LOCKED, and the later row was claimed
-- and published ahead of it; that earlier row then backed off, or was dead-lettered, behind it.
-- The same rule trusted a stream's rows to take ids in position order for ORDER BY id LIMIT n.
-- Now a row is kept only when every earlier row of its stream not yet out is in the claim itself;
-- the others of the candidates stay due (unleased) for a later claim.
-- (Taken in two statements, the candidates locked into an array first: one CTE read twice, the
-- check scanned it for every earlier row, three times the old claim's time on a backlog.)
CREATE OR REPLACE FUNCTION outbox_claim_for_bus(p_now timestamptz, p_limit integer, p_lease_ms integer)
RETURNS TABLE (id bigint, event_id text, stream_id text, global_position bigint, attempts integer,
               failed_before boolean, handled boolean, processed boolean, latency double precision)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_taken bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(122550254464888);
    v_now := coalesce(p_now, now());
    SELECT array_agg(c.id) INTO v_taken FROM (
        SELECT o.id FROM outbox o
         WHERE o.handled_at IS NOT NULL AND o.processed_at IS NULL AND o.dead_lettered_at IS NULL
           AND o.next_retry_at <= v_now
           AND NOT EXISTS (
               SELECT 1 FROM outbox e
                WHERE e.stream_id = o.stream_id AND e.global_position < o.global_position AND e.processed_at IS NULL
                  AND (e.handled_at IS NULL OR e.dead_lettered_at IS NOT NULL OR e.next_retry_at > v_now))
         ORDER BY o.id
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED) c;
    IF v_taken IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE outbox o SET next_retry_at = v_now + p_lease_ms * interval '1 millisecond'
     WHERE o.id = ANY (v_taken)
       AND NOT EXISTS (
           SELECT 1 FROM outbox e
            WHERE e.stream_id = o.stream_id AND e.global_position < o.global_position AND e.processed_at IS NULL
              AND e.id <> ALL (v_taken))
    RETURNING o.id, o.event_id::text, o.stream_id, o.global_position, o.attempts, o.last_error IS NOT NULL,
              true, false, extract(epoch FROM clock_timestamp() - o.created_at)::float8;
END;
$$;

-- Like every other function of the schema, executed by the app's role only (it was PUBLIC's by
-- default, as 20261211010000 left it). CREATE OR REPLACE kept that ACL, so it is set here.
REVOKE ALL ON FUNCTION outbox_claim_for_bus(timestamptz, integer, integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT EXECUTE ON FUNCTION outbox_claim_for_bus(timestamptz, integer, integer) TO emr_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON outbox_publishers TO emr_app;
        REVOKE TRUNCATE, REFERENCES, TRIGGER ON outbox_publishers FROM emr_app;
    END IF;
END;
$$;
