-- Events written before tamper evidence (20261128080000) have no hash, so a change to one of them
-- was found by nothing: an install upgraded from such a release kept its whole earlier history
-- outside the chain. This gives them their hashes once, on the upgrade, as the append would have:
-- each stream's events chained in version order from 64 zeros, and the stream row's last hash,
-- so later appends chain on. The sealer then seals them like any other event.
--
-- Only while no seal exists: a seal signs its events' hashes (64 zeros for an event without one),
-- so hashing events a seal already covers would break that seal. An install that was sealed
-- before this release keeps them as they are, and audit:verify says how many are not covered.
-- Streams whose later events were already hashed are left too: their first hashed event was
-- chained on zeros, not on its predecessors.
DO $$
DECLARE
    r        record;
    v_stream text := NULL;
    v_prev   bytea;
BEGIN
    IF EXISTS (SELECT 1 FROM audit_seals) OR NOT EXISTS (SELECT 1 FROM events WHERE hash IS NULL) THEN
        RETURN;
    END IF;
    ALTER TABLE events DISABLE TRIGGER events_no_update_delete;
    FOR r IN
        SELECT e.global_position, e.event_id, e.stream_id, e.version, e.event_type, e.event_version, e.data, e.metadata,
               e.occurred_at, e.recorded_at, e.user_id, e.correlation_id, e.causation_id
          FROM events e
         WHERE e.stream_id IN (SELECT stream_id FROM events GROUP BY stream_id HAVING bool_and(hash IS NULL))
         ORDER BY e.stream_id, e.version
    LOOP
        IF v_stream IS DISTINCT FROM r.stream_id THEN
            IF v_stream IS NOT NULL THEN
                UPDATE streams SET last_hash = v_prev WHERE stream_id = v_stream;
            END IF;
            v_stream := r.stream_id;
            v_prev := NULL;
        END IF;
        v_prev := event_hash(v_prev, r.event_id, r.stream_id, r.version, r.event_type, r.event_version, r.data, r.metadata,
                             r.occurred_at, r.recorded_at, r.user_id, r.correlation_id, r.causation_id);
        UPDATE events SET hash = v_prev WHERE global_position = r.global_position;
    END LOOP;
    IF v_stream IS NOT NULL THEN
        UPDATE streams SET last_hash = v_prev WHERE stream_id = v_stream;
    END IF;
    ALTER TABLE events ENABLE TRIGGER events_no_update_delete;
END $$;
