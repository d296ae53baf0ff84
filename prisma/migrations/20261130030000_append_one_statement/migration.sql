-- The append's fast paths as one statement each (bench/README.md, "Append path, round three").
--
-- Before, an append at its expected version ran three statements inside append_to_stream: a
-- probe for the batch's first event id, the stream row's UPDATE (which takes the clock and
-- chains the hashes), then the INSERT of the events and their outbox rows. Now the probe is a
-- condition of the UPDATE (evaluated once, before the stream row is read) and the UPDATE is the
-- first CTE of the INSERT, so the fast path is one statement: one executor start-up, one plan
-- check, one set of locks. A new stream's INSERT ... ON CONFLICT is likewise the first CTE of its
-- events' INSERT, without the probe: a repeat of a stream's first batch meets the stream row
-- (ON CONFLICT, nothing written) and the slow path answers it; ids stored in another stream fail
-- the events' unique key (23505 on events_event_id_key), which append.ts reports as a duplicate.
-- When a fast path writes nothing, the slow path runs unchanged: lock, repeat look-up, version
-- comparison, clock after the lock.
--
-- The clock is taken where it was: for an existing stream inside the UPDATE (its version matched
-- under this statement's snapshot, so the previous version committed before the clock was read),
-- for a new stream before its row is inserted (no earlier version exists).

-- append_chain returns one row. Planned with the default (1,000 rows), the new-stream statement
-- below (chain × stream row × batch elements) was estimated at 10^8 rows, over jit_above_cost:
-- every call compiled its plan (~0.5 s).
ALTER FUNCTION append_chain(bytea, text, integer, jsonb) ROWS 1;

CREATE OR REPLACE FUNCTION append_to_stream(
    p_stream_id   text,
    p_stream_type text,
    p_expected    integer,
    p_events      jsonb
) RETURNS TABLE (event_id uuid, version integer, global_position bigint, recorded_at timestamptz, repeated boolean, conflict boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_current     integer;
    v_count       integer := jsonb_array_length(p_events);
    v_last_xid    xid8;
    v_last_hash   bytea;
    v_placeholder boolean := false;
    v_ids         uuid[];
    v_found       integer;
    v_other       integer;
    v_now         timestamptz;
    v_hashes      bytea[];
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'append_to_stream: no events' USING ERRCODE = '22023';
    END IF;

    -- The fast paths: one statement each, writing the stream row, the events and their outbox
    -- rows. No row back means the slow path below decides (lock, repeat, conflict).
    IF p_expected > 0 THEN
        RETURN QUERY
        WITH st AS (
            UPDATE streams s SET version = s.version + v_count, updated_at = c.at, last_xid = pg_current_xact_id(),
                                 last_hash = c.hashes[v_count]
              FROM streams o CROSS JOIN LATERAL append_chain(o.last_hash, p_stream_id, p_expected, p_events) c
             WHERE o.stream_id = p_stream_id AND o.version = p_expected
               AND s.stream_id = p_stream_id AND s.version = p_expected
               AND (s.last_xid IS NULL OR s.last_xid <= pg_current_xact_id())
               AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = (p_events->0->>'event_id')::uuid)
            RETURNING c.at, c.hashes
        ), inserted AS (
            INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                      data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id, hash)
            SELECT (e->>'event_id')::uuid, p_stream_id, p_stream_type, e->>'event_type',
                   p_expected + i::integer, coalesce((e->>'event_version')::integer, 1),
                   e->'data', coalesce(e->'metadata', '{}'::jsonb), (e->>'occurred_at')::timestamptz, st.at,
                   e->>'user_id', e->>'correlation_id', e->>'causation_id', st.hashes[i]
              FROM st, jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, i)
             ORDER BY i
            RETURNING ev.event_id, ev.version, ev.global_position, ev.recorded_at, ev.stream_id,
                      ev.event_type, ev.correlation_id, ev.occurred_at
        ), queued AS (
            INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
            SELECT ins.event_id, ins.global_position, ins.stream_id, ins.event_type, ins.correlation_id, ins.occurred_at
              FROM inserted ins
        )
        SELECT ins.event_id, ins.version, ins.global_position, ins.recorded_at, false, false
          FROM inserted ins ORDER BY ins.version;
        IF FOUND THEN
            RETURN;
        END IF;
    ELSIF p_expected = 0 OR p_expected = -2 THEN
        RETURN QUERY
        WITH c AS MATERIALIZED (
            SELECT * FROM append_chain(NULL, p_stream_id, 0, p_events)
        ), st AS (
            INSERT INTO streams AS s (stream_id, stream_type, version, last_xid, last_hash, updated_at)
            SELECT p_stream_id, p_stream_type, v_count, pg_current_xact_id(), c.hashes[v_count], c.at FROM c
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING s.updated_at AS at
        ), inserted AS (
            INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                      data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id, hash)
            SELECT (e->>'event_id')::uuid, p_stream_id, p_stream_type, e->>'event_type',
                   i::integer, coalesce((e->>'event_version')::integer, 1),
                   e->'data', coalesce(e->'metadata', '{}'::jsonb), (e->>'occurred_at')::timestamptz, st.at,
                   e->>'user_id', e->>'correlation_id', e->>'causation_id', c.hashes[i]
              FROM st, c, jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, i)
             ORDER BY i
            RETURNING ev.event_id, ev.version, ev.global_position, ev.recorded_at, ev.stream_id,
                      ev.event_type, ev.correlation_id, ev.occurred_at
        ), queued AS (
            INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
            SELECT ins.event_id, ins.global_position, ins.stream_id, ins.event_type, ins.correlation_id, ins.occurred_at
              FROM inserted ins
        )
        SELECT ins.event_id, ins.version, ins.global_position, ins.recorded_at, false, false
          FROM inserted ins ORDER BY ins.version;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    IF v_current IS NULL THEN
        SELECT s.version, s.last_xid, s.last_hash INTO v_current, v_last_xid, v_last_hash
          FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO streams AS s (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, 0)
            ON CONFLICT (stream_id) DO NOTHING;
            v_placeholder := FOUND;
            SELECT s.version, s.last_xid, s.last_hash INTO v_current, v_last_xid, v_last_hash
              FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
        END IF;

        SELECT array_agg((e->>'event_id')::uuid) INTO v_ids FROM jsonb_array_elements(p_events) e;
        EXECUTE 'SELECT count(*) FILTER (WHERE stream_id = $2), count(*) FILTER (WHERE stream_id <> $2)
                   FROM events WHERE event_id = ANY ($1)'
           INTO v_found, v_other USING v_ids, p_stream_id;
        IF v_found = v_count AND v_other = 0 THEN
            RETURN QUERY EXECUTE
                'SELECT event_id, version, global_position, recorded_at, true, false
                   FROM events WHERE event_id = ANY ($1) ORDER BY version'
                USING v_ids;
            RETURN;
        ELSIF v_found > 0 OR v_other > 0 THEN
            RAISE EXCEPTION 'append_to_stream: % of % event ids in this batch were appended before', v_found + v_other, v_count
                USING ERRCODE = 'ES002';
        END IF;

        IF (p_expected >= 0 AND v_current <> p_expected)
           OR (p_expected = -2 AND v_current <> 0)
           OR (p_expected = -3 AND v_current = 0) THEN
            IF v_placeholder THEN
                DELETE FROM streams s WHERE s.stream_id = p_stream_id;
            END IF;
            RETURN QUERY SELECT NULL::uuid, v_current, NULL::bigint, NULL::timestamptz, false, true;
            RETURN;
        END IF;

        IF v_last_xid IS NOT NULL AND v_last_xid > pg_current_xact_id() THEN
            RAISE EXCEPTION 'append_to_stream: this transaction (%) is older than the last writer of stream % (%); retry it',
                pg_current_xact_id(), p_stream_id, v_last_xid
                USING ERRCODE = '40001';
        END IF;

        -- The clock after the stream lock, so later versions never carry earlier times.
        SELECT c.at, c.hashes INTO v_now, v_hashes FROM append_chain(v_last_hash, p_stream_id, v_current, p_events) c;
        UPDATE streams s SET version = v_current + v_count, updated_at = v_now, last_xid = pg_current_xact_id(),
                             last_hash = v_hashes[v_count]
         WHERE s.stream_id = p_stream_id;
    END IF;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                  data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id, hash)
        SELECT (e->>'event_id')::uuid, p_stream_id, p_stream_type, e->>'event_type',
               v_current + i::integer, coalesce((e->>'event_version')::integer, 1),
               e->'data', coalesce(e->'metadata', '{}'::jsonb), (e->>'occurred_at')::timestamptz, v_now,
               e->>'user_id', e->>'correlation_id', e->>'causation_id', v_hashes[i]
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS t(e, i)
         ORDER BY i
        RETURNING ev.event_id, ev.version, ev.global_position, ev.recorded_at, ev.stream_id,
                  ev.event_type, ev.correlation_id, ev.occurred_at
    ), queued AS (
        INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
        SELECT ins.event_id, ins.global_position, ins.stream_id, ins.event_type, ins.correlation_id, ins.occurred_at
          FROM inserted ins
    )
    SELECT ins.event_id, ins.version, ins.global_position, ins.recorded_at, false, false
      FROM inserted ins ORDER BY ins.version;
END;
$$;
