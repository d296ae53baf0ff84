-- One write of the stream row per append (it was two: the version, then the hash chain's
-- last_hash), and a stream row that can be updated in place (HOT): no index covers a column an
-- append changes. bench/README.md ("Append path") has what each step bought.

-- Nothing reads streams by type and update time; with updated_at indexed, every append's update
-- of the stream row also wrote a new entry into both of the table's indexes.
DROP INDEX streams_type_updated_idx;
-- Room on each page for the row's next version, so HOT updates stay on the page.
ALTER TABLE streams SET (fillfactor = 80);

-- The clock and the hash chain of a batch: recorded_at (millisecond precision, like the
-- JavaScript Date that reads it back) and each event's hash chained on p_prev, as in
-- 20261128080000_tamper_evidence. Returned together so one statement can both take the clock and
-- write the stream row's last hash.
CREATE FUNCTION append_chain(p_prev bytea, p_stream_id text, p_first_version integer, p_events jsonb)
RETURNS TABLE (at timestamptz, hashes bytea[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_at     timestamptz := date_trunc('milliseconds', clock_timestamp());
    v_hashes bytea[] := ARRAY[]::bytea[];
    v_hash   bytea := p_prev;
    v_e      jsonb;
BEGIN
    FOR v_i IN 1..jsonb_array_length(p_events) LOOP
        v_e := p_events->(v_i - 1);
        v_hash := event_hash(v_hash, (v_e->>'event_id')::uuid, p_stream_id, p_first_version + v_i, v_e->>'event_type',
                             coalesce((v_e->>'event_version')::integer, 1), v_e->'data', coalesce(v_e->'metadata', '{}'::jsonb),
                             (v_e->>'occurred_at')::timestamptz, v_at, v_e->>'user_id', v_e->>'correlation_id', v_e->>'causation_id');
        v_hashes := v_hashes || v_hash;
    END LOOP;
    RETURN QUERY SELECT v_at, v_hashes;
END;
$$;

-- As in 20261128080000_tamper_evidence, with the stream row written once:
--  * existing stream, expected version (the fast path): one UPDATE whose FROM reads the row as
--    of the statement's snapshot, takes the clock and chains the hashes; the UPDATE itself
--    re-checks the version on the row it locks. A writer that committed in between changed the
--    version, so the UPDATE matches nothing and the locked path below runs. When it matches, the
--    previous version committed before this statement's snapshot, hence before the clock read:
--    later versions never carry earlier times.
--  * new stream: no earlier version exists, so the clock and chain are taken before the insert.
--  * otherwise (lock, repeat look-up, conflict, any-version): the clock and chain after the lock,
--    then one UPDATE.
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

    IF NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = (p_events->0->>'event_id')::uuid) THEN
        IF p_expected > 0 THEN
            UPDATE streams s SET version = s.version + v_count, updated_at = c.at, last_xid = pg_current_xact_id(),
                                 last_hash = c.hashes[v_count]
              FROM streams o CROSS JOIN LATERAL append_chain(o.last_hash, p_stream_id, p_expected, p_events) c
             WHERE o.stream_id = p_stream_id AND o.version = p_expected
               AND s.stream_id = p_stream_id AND s.version = p_expected
               AND (s.last_xid IS NULL OR s.last_xid <= pg_current_xact_id())
            RETURNING s.version - v_count, c.at, c.hashes INTO v_current, v_now, v_hashes;
        ELSIF p_expected = 0 OR p_expected = -2 THEN
            SELECT c.at, c.hashes INTO v_now, v_hashes FROM append_chain(NULL, p_stream_id, 0, p_events) c;
            INSERT INTO streams AS s (stream_id, stream_type, version, last_xid, last_hash, updated_at)
            VALUES (p_stream_id, p_stream_type, v_count, pg_current_xact_id(), v_hashes[v_count], v_now)
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING 0 INTO v_current;
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

-- event_hash, the same function of the same fields (20261128080000_tamper_evidence; README.md
-- "Verifying the log without our code"), evaluated without nested SQL functions: as a SQL
-- function calling audit_field and audit_time (not inlined: an argument used twice, and a
-- STABLE to_char inside an IMMUTABLE body), every event cost ~15 SQL function calls, ~170 µs on
-- this machine, more than the rest of an append (`npx tsx bench/diagnose.ts --indexes`).
-- The result is unchanged, byte for byte (server/eventStore/integrity.int.test.ts compares it with
-- the definition through audit_field/audit_time, which stay).
CREATE OR REPLACE FUNCTION event_hash(
    p_prev bytea, p_event_id uuid, p_stream_id text, p_version integer, p_event_type text, p_event_version integer,
    p_data jsonb, p_metadata jsonb, p_occurred_at timestamptz, p_recorded_at timestamptz,
    p_user_id text, p_correlation_id text, p_causation_id text
) RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    f text[] := ARRAY[
        p_event_id::text, p_stream_id, p_version::text, p_event_type, p_event_version::text, p_data::text, p_metadata::text,
        to_char(p_occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        to_char(p_recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        p_user_id, p_correlation_id, p_causation_id];
    v text := encode(coalesce(p_prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea), 'hex');
    x text;
BEGIN
    FOREACH x IN ARRAY f LOOP
        x := coalesce(x, '');
        v := v || length(x) || ':' || x;
    END LOOP;
    RETURN sha256(convert_to(v, 'UTF8'));
END;
$$;

-- Indexes of events, measured with `npx tsx bench/diagnose.ts --indexes` (bench/README.md):
-- * causation_id: the log is only ever searched by causation for events an EVENT caused
--   (readByCausation walks down from an event id); most events name their command
--   ("command:<id>", aggregate.ts commandCausationId), and indexing those cost every append
--   ~3 µs per event for look-ups nothing makes. Queries must say
--   `causation_id NOT LIKE 'command:%'` for PostgreSQL to use this index.
DROP INDEX events_causation_id_idx;
CREATE INDEX events_caused_by_event_idx ON events (causation_id) WHERE causation_id NOT LIKE 'command:%';
-- * correlation_id: looked up by equality only (one request's events, then sorted by position:
--   a handful of rows); a hash index stores a 4-byte hash instead of the text, and costs an
--   append about half of what the b-tree did.
DROP INDEX events_correlation_id_idx;
CREATE INDEX events_correlation_id_idx ON events USING hash (correlation_id);
