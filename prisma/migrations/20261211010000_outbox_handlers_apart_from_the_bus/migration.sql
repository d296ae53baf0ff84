-- The outbox in two stages: the in-process handlers (the critical-result flag) and the bus.
-- Before, one drain did both, and it asked the broker first: while RabbitMQ was down no handler
-- ran, so a critical lab result was not flagged on the patient's chart until the broker came
-- back. Now a row is handled (handled_at) whatever the bus, and then published.
--
-- Publishing keeps each stream's order: a row goes out only when every earlier row of its stream
-- has (the bus claim looks its stream up in outbox_stream_line_idx). A retried row, a dead letter
-- put back in line, two workers' batches: none of them lets a later event of a stream overtake.
ALTER TABLE outbox ADD COLUMN handled_at timestamptz;

-- Rows already published were handled with them.
UPDATE outbox SET handled_at = processed_at WHERE processed_at IS NOT NULL;

-- The handlers' claim: rows not yet handled (was: rows not yet processed), oldest first. A row
-- marked processed by hand (an operator skipping a backlog) is out of both lines. On (id): the
-- claim's ORDER BY id LIMIT n starts at the oldest row waiting and stops after the batch, checking
-- next_retry_at on the rows it passes (few back off at once). On (next_retry_at, id), as before,
-- the claim sorted every due row or, as the planner chose once a backlog was due, walked
-- outbox_pkey from the oldest row through every processed row the outbox keeps
-- (OUTBOX_RETENTION_DAYS): with 300,000 kept and 50,000 due, 60 ms a batch of 100 instead of 2.
DROP INDEX outbox_due_idx;
CREATE INDEX outbox_due_idx ON outbox (id) WHERE handled_at IS NULL AND processed_at IS NULL AND dead_lettered_at IS NULL;

-- The bus claim: handled rows waiting to go out, oldest first. Written when a row is handled, so
-- not on the append path.
CREATE INDEX outbox_bus_line_idx ON outbox (id) WHERE handled_at IS NOT NULL AND processed_at IS NULL AND dead_lettered_at IS NULL;

-- A stream's rows not yet out, dead letters included (they hold their stream), in the stream's
-- order (global positions follow versions within a stream): the bus claim's "nothing earlier of
-- this stream is waiting".
CREATE INDEX outbox_stream_line_idx ON outbox (stream_id, global_position) WHERE processed_at IS NULL;

-- The bus claim: handled rows that are due and first in their stream's line (no earlier row of
-- the stream waits for anything this claim does not also take), leased for p_lease_ms. One claim
-- at a time (a transaction advisory lock, "outbox" in ASCII): two at once could both find a
-- stream's head free, the other's lease not yet committed, and publish its events out of order.
-- A function so that the claim's snapshot is taken after the lock (each statement of a volatile
-- plpgsql function takes its own), in one round trip. The lock ends with the caller's statement
-- when it is not in a transaction, never held while publishing.
CREATE FUNCTION outbox_claim_for_bus(p_now timestamptz, p_limit integer, p_lease_ms integer)
RETURNS TABLE (id bigint, event_id text, stream_id text, global_position bigint, attempts integer,
               failed_before boolean, handled boolean, processed boolean, latency double precision)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock(122550254464888);
    v_now := coalesce(p_now, now());
    RETURN QUERY
    WITH due AS (
        SELECT o.id FROM outbox o
         WHERE o.handled_at IS NOT NULL AND o.processed_at IS NULL AND o.dead_lettered_at IS NULL
           AND o.next_retry_at <= v_now
           AND NOT EXISTS (
               SELECT 1 FROM outbox e
                WHERE e.stream_id = o.stream_id AND e.global_position < o.global_position AND e.processed_at IS NULL
                  AND (e.handled_at IS NULL OR e.dead_lettered_at IS NOT NULL OR e.next_retry_at > v_now))
         ORDER BY o.id
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    )
    UPDATE outbox o SET next_retry_at = v_now + p_lease_ms * interval '1 millisecond'
      FROM due WHERE o.id = due.id
    RETURNING o.id, o.event_id::text, o.stream_id, o.global_position, o.attempts, o.last_error IS NOT NULL,
              true, false, extract(epoch FROM clock_timestamp() - o.created_at)::float8;
END;
$$;

-- Workers that publish to the bus, by process, with when they last did (a heartbeat at most every
-- 30 s, rows older than a day pruned by it). A worker without AMQP_URL that sees another publish
-- within five minutes runs the handlers only and leaves the rows to it: before, started beside
-- workers with a bus, it marked its share of every stream processed without publishing, and
-- consumers never saw those events.
CREATE TABLE outbox_publishers (
    process_id text PRIMARY KEY,
    seen_at    timestamptz NOT NULL DEFAULT now()
);
