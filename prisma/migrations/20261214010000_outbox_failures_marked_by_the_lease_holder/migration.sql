-- A failure is recorded only by the worker whose lease it is. A worker that outlived its lease (a
-- handler or a publish slower than the lease) wrote its failure over the row another worker had
-- claimed since and was still working on: it counted an attempt, cut that worker's lease short to
-- a backoff (a third worker then took the row as well) or dead-lettered the row under it, after
-- which the other worker's success was refused and a handled row sat among the dead letters.
-- A claim's lease end (next_retry_at as it set it, in microseconds) is now its token: the bus
-- claim returns it, as the handlers' claim does, and a failure is written only where next_retry_at
-- is still that value. The function gains a column, so it is dropped and made again (a worker of
-- the release before reads its columns by name and ignores the new one).
DROP FUNCTION IF EXISTS outbox_claim_for_bus(timestamptz, integer, integer);

CREATE FUNCTION outbox_claim_for_bus(p_now timestamptz, p_limit integer, p_lease_ms integer)
RETURNS TABLE (id bigint, event_id text, stream_id text, global_position bigint, attempts integer,
               failed_before boolean, handled boolean, processed boolean, latency double precision,
               lease_until_us bigint)
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
              true, false, extract(epoch FROM clock_timestamp() - o.created_at)::float8,
              (extract(epoch FROM o.next_retry_at) * 1000000)::bigint;
END;
$$;

-- A new function is PUBLIC's to execute by default: the app's role only, as before.
REVOKE ALL ON FUNCTION outbox_claim_for_bus(timestamptz, integer, integer) FROM PUBLIC;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT EXECUTE ON FUNCTION outbox_claim_for_bus(timestamptz, integer, integer) TO emr_app;
    END IF;
END;
$$;
