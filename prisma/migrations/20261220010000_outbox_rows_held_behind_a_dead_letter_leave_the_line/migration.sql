-- Rows held behind a dead letter of their stream (the bus keeps each stream's order) stayed in the
-- bus line: every claim walked each of them in id order, under the claim's lock, and found it
-- blocked. Dead letters wait for an admin, and their streams go on taking events meanwhile, so
-- the walk grew without end: 12-24 ms a claim with none held, 114-145 ms with 200,000 held.
--
-- Now each claim first marks held the rows that came in behind a dead letter since the last one,
-- and the bus line leaves held rows out: each is read once. A dead letter that leaves the line's way (retried, set
-- aside, marked processed or deleted, by the app or by hand) puts its stream's held rows back, in
-- a trigger, so no way out of a dead letter leaves them parked. The trigger takes the claim's
-- lock first: a claim that read the dead letter as still there has committed its marks before
-- the trigger clears them, and a claim after it reads the letter gone.
ALTER TABLE outbox ADD COLUMN held boolean NOT NULL DEFAULT false;

DROP INDEX outbox_bus_line_idx;
CREATE INDEX outbox_bus_line_idx ON outbox (id)
    WHERE handled_at IS NOT NULL AND processed_at IS NULL AND dead_lettered_at IS NULL AND NOT held;

-- The bus claim, as 20261214010000, but that it first marks held the rows behind each dead letter
-- that came into the line since the last claim: found from the dead letters (few, from
-- outbox_dead_letter_idx) down their streams' lines, from the last row held onwards, so rows held
-- before are not read again. The claim's walk then leaves held rows out.
CREATE OR REPLACE FUNCTION outbox_claim_for_bus(p_now timestamptz, p_limit integer, p_lease_ms integer)
RETURNS TABLE (id bigint, event_id text, stream_id text, global_position bigint, attempts integer,
               failed_before boolean, handled boolean, processed boolean, latency double precision,
               lease_until_us bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_now timestamptz;
    v_taken bigint[];
    v_letter record;
    v_last bigint;
    v_held bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(122550254464888);
    v_now := coalesce(p_now, now());
    -- Stream by stream, in statements of their own: one statement joining the letters to their
    -- streams' lines was planned, on a table not yet analyzed, as a walk of the whole bus line
    -- reading each stream's line back for every row (20,000 held rows: 400 million row reads).
    FOR v_letter IN
        SELECT l.stream_id, min(l.global_position) AS first FROM outbox l
         WHERE l.dead_lettered_at IS NOT NULL AND l.processed_at IS NULL
         GROUP BY l.stream_id
    LOOP
        -- The stream's last row held, read backwards down its line: past the rows since.
        SELECT x.global_position INTO v_last FROM outbox x
         WHERE x.stream_id = v_letter.stream_id AND x.processed_at IS NULL AND x.held
         ORDER BY x.global_position DESC
         LIMIT 1;
        SELECT array_agg(n.id) INTO v_held FROM (
            SELECT n.id FROM outbox n
             WHERE n.stream_id = v_letter.stream_id AND n.processed_at IS NULL
               AND n.global_position > greatest(v_letter.first, v_last)
               AND n.handled_at IS NOT NULL AND n.dead_lettered_at IS NULL AND NOT n.held
             FOR UPDATE SKIP LOCKED) n;
        IF v_held IS NOT NULL THEN
            UPDATE outbox h SET held = true WHERE h.id = ANY (v_held);
        END IF;
    END LOOP;
    SELECT array_agg(c.id) INTO v_taken FROM (
        SELECT o.id FROM outbox o
         WHERE o.handled_at IS NOT NULL AND o.processed_at IS NULL AND o.dead_lettered_at IS NULL AND NOT o.held
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

-- A dead letter out of the way: its stream's held rows back in the bus line.
CREATE FUNCTION outbox_release_held() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(122550254464888);
    UPDATE outbox SET held = false WHERE stream_id = OLD.stream_id AND processed_at IS NULL AND held;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_dead_letter_leaves AFTER UPDATE ON outbox FOR EACH ROW
    WHEN (OLD.dead_lettered_at IS NOT NULL AND OLD.processed_at IS NULL
          AND (NEW.dead_lettered_at IS NULL OR NEW.processed_at IS NOT NULL OR NEW.stream_id IS DISTINCT FROM OLD.stream_id))
    EXECUTE FUNCTION outbox_release_held();
CREATE TRIGGER outbox_dead_letter_deleted AFTER DELETE ON outbox FOR EACH ROW
    WHEN (OLD.dead_lettered_at IS NOT NULL AND OLD.processed_at IS NULL)
    EXECUTE FUNCTION outbox_release_held();

REVOKE ALL ON FUNCTION outbox_release_held() FROM PUBLIC;
