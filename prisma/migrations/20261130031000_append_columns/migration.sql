-- The append takes its batch as columns and answers with one row (bench/README.md, "Round four").
--
-- Before, append_to_stream took the batch as one JSON document: PostgreSQL parsed all of it into
-- jsonb, then pulled every field of every event out of it twice (once for the hash chain, once
-- for the INSERT), each a key look-up and a conversion from text; and it answered with one row
-- per event. Now each field is an array, one element per event in stream order, unnested into
-- the INSERT as the raw SQL ceiling of the bench does; the payloads (and the metadata, NULL when
-- every event's is empty) come as one jsonb array, which the client writes without escaping
-- each payload into an array literal. The answer is one row: the stream's version after the
-- append (the batch holds the versions before it, one each), the events' global positions in
-- stream order (not contiguous: concurrent writers draw from the same sequence), and the one
-- recorded time every event of an append shares.
--
-- The hash chain is unchanged, byte for byte (event_hash's definition; integrity.int.test.ts
-- compares appended hashes with it, audit:verify recomputes them). append_chain_columns computes
-- it in one loop, with the recorded time (the same for the whole batch), the stream's field and a
-- repeated occurred time rendered once instead of once per event, and returns through OUT
-- parameters instead of RETURN QUERY (no query run inside it per append).
--
-- Everything else is as in 20261130030000_append_one_statement: one statement per fast path, the
-- slow path (lock, repeat look-up, version comparison, clock after the lock) unchanged.

DROP FUNCTION append_to_stream(text, text, integer, jsonb);
DROP FUNCTION append_chain(bytea, text, integer, jsonb);

CREATE FUNCTION append_chain_columns(
    p_prev bytea, p_stream_id text, p_first_version integer,
    p_ids uuid[], p_types text[], p_event_versions integer[], p_data jsonb, p_metadata jsonb,
    p_occurred timestamptz[], p_users text[], p_correlations text[], p_causations text[],
    OUT at timestamptz, OUT hashes bytea[]
) LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_rec      text;
    v_stream   text := length(p_stream_id) || ':' || p_stream_id;
    v_hash     bytea := coalesce(p_prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    v_occ_at   timestamptz;
    v_occ      text;
    v_x        text;
    v_s        text;
BEGIN
    at := date_trunc('milliseconds', clock_timestamp());
    hashes := ARRAY[]::bytea[];
    v_rec := to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
    v_rec := length(v_rec) || ':' || v_rec;
    FOR v_i IN 1..cardinality(p_ids) LOOP
        IF v_occ IS NULL OR p_occurred[v_i] IS DISTINCT FROM v_occ_at THEN
            v_occ_at := p_occurred[v_i];
            v_occ := coalesce(to_char(v_occ_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '');
            v_occ := length(v_occ) || ':' || v_occ;
        END IF;
        v_s := encode(v_hash, 'hex');
        v_x := p_ids[v_i]::text;                                      v_s := v_s || length(v_x) || ':' || v_x;
        v_s := v_s || v_stream;
        v_x := (p_first_version + v_i)::text;                         v_s := v_s || length(v_x) || ':' || v_x;
        v_x := coalesce(p_types[v_i], '');                            v_s := v_s || length(v_x) || ':' || v_x;
        v_x := coalesce(p_event_versions[v_i], 1)::text;              v_s := v_s || length(v_x) || ':' || v_x;
        v_x := coalesce((p_data -> (v_i - 1))::text, '');             v_s := v_s || length(v_x) || ':' || v_x;
        v_x := coalesce(p_metadata -> (v_i - 1), '{}'::jsonb)::text;  v_s := v_s || length(v_x) || ':' || v_x;
        v_s := v_s || v_occ || v_rec;
        v_x := coalesce(p_users[v_i], '');                            v_s := v_s || length(v_x) || ':' || v_x;
        v_x := coalesce(p_correlations[v_i], '');                     v_s := v_s || length(v_x) || ':' || v_x;
        v_x := coalesce(p_causations[v_i], '');                       v_s := v_s || length(v_x) || ':' || v_x;
        v_hash := sha256(convert_to(v_s, 'UTF8'));
        hashes := hashes || v_hash;
    END LOOP;
END;
$$;

-- The batch: one array element per event, in stream order; p_data the payloads as one jsonb
-- array, p_metadata likewise or NULL (every event's metadata {}).
-- One row back: `version` the stream's version after the append (on a conflict: its actual version,
-- nothing written), `positions` each event's global position in stream order, `recorded_at` the
-- append's recorded time, `repeated` when every id had been appended before to this stream (the
-- stored append's row, nothing written).
CREATE FUNCTION append_to_stream(
    p_stream_id      text,
    p_stream_type    text,
    p_expected       integer,
    p_ids            uuid[],
    p_types          text[],
    p_event_versions integer[],
    p_data           jsonb,
    p_metadata       jsonb,
    p_occurred       timestamptz[],
    p_users          text[],
    p_correlations   text[],
    p_causations     text[]
) RETURNS TABLE (version integer, positions bigint[], recorded_at timestamptz, repeated boolean, conflict boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_current     integer;
    v_count       integer := coalesce(cardinality(p_ids), 0);
    v_last_xid    xid8;
    v_last_hash   bytea;
    v_placeholder boolean := false;
    v_found       integer;
    v_other       integer;
    v_now         timestamptz;
    v_hashes      bytea[];
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'append_to_stream: no events' USING ERRCODE = '22023';
    END IF;
    IF cardinality(p_types) <> v_count OR cardinality(p_event_versions) <> v_count OR jsonb_array_length(p_data) <> v_count
       OR jsonb_array_length(coalesce(p_metadata, p_data)) <> v_count OR cardinality(p_occurred) <> v_count OR cardinality(p_users) <> v_count
       OR cardinality(p_correlations) <> v_count OR cardinality(p_causations) <> v_count THEN
        RAISE EXCEPTION 'append_to_stream: the batch''s columns differ in length' USING ERRCODE = '22023';
    END IF;

    -- The fast paths: one statement each, writing the stream row, the events and their outbox
    -- rows. No row back means the slow path below decides (lock, repeat, conflict).
    IF p_expected > 0 THEN
        RETURN QUERY
        WITH st AS (
            UPDATE streams s SET version = s.version + v_count, updated_at = c.at, last_xid = pg_current_xact_id(),
                                 last_hash = c.hashes[v_count]
              FROM streams o CROSS JOIN LATERAL append_chain_columns(o.last_hash, p_stream_id, p_expected, p_ids, p_types,
                       p_event_versions, p_data, p_metadata, p_occurred, p_users, p_correlations, p_causations) c
             WHERE o.stream_id = p_stream_id AND o.version = p_expected
               AND s.stream_id = p_stream_id AND s.version = p_expected
               AND (s.last_xid IS NULL OR s.last_xid <= pg_current_xact_id())
               AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = p_ids[1])
            RETURNING c.at, c.hashes
        ), inserted AS (
            INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                      data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id, hash)
            SELECT e.id, p_stream_id, p_stream_type, e.type, p_expected + e.i::integer, coalesce(e.ev, 1),
                   p_data -> (e.i::integer - 1), coalesce(p_metadata -> (e.i::integer - 1), '{}'::jsonb), e.occ, st.at, e.usr, e.corr, e.caus, st.hashes[e.i]
              FROM st, unnest(p_ids, p_types, p_event_versions, p_occurred, p_users, p_correlations, p_causations)
                       WITH ORDINALITY AS e(id, type, ev, occ, usr, corr, caus, i)
             ORDER BY e.i
            RETURNING ev.event_id, ev.version, ev.global_position, ev.recorded_at, ev.stream_id,
                      ev.event_type, ev.correlation_id, ev.occurred_at
        ), queued AS (
            INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
            SELECT ins.event_id, ins.global_position, ins.stream_id, ins.event_type, ins.correlation_id, ins.occurred_at
              FROM inserted ins
        )
        SELECT p_expected + v_count, array_agg(ins.global_position ORDER BY ins.version), min(ins.recorded_at), false, false
          FROM inserted ins HAVING count(*) > 0;
        IF FOUND THEN
            RETURN;
        END IF;
    ELSIF p_expected = 0 OR p_expected = -2 THEN
        RETURN QUERY
        WITH c AS MATERIALIZED (
            SELECT * FROM append_chain_columns(NULL, p_stream_id, 0, p_ids, p_types, p_event_versions, p_data, p_metadata,
                                               p_occurred, p_users, p_correlations, p_causations)
        ), st AS (
            INSERT INTO streams AS s (stream_id, stream_type, version, last_xid, last_hash, updated_at)
            SELECT p_stream_id, p_stream_type, v_count, pg_current_xact_id(), c.hashes[v_count], c.at FROM c
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING s.updated_at AS at
        ), inserted AS (
            INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                      data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id, hash)
            SELECT e.id, p_stream_id, p_stream_type, e.type, e.i::integer, coalesce(e.ev, 1),
                   p_data -> (e.i::integer - 1), coalesce(p_metadata -> (e.i::integer - 1), '{}'::jsonb), e.occ, st.at, e.usr, e.corr, e.caus, c.hashes[e.i]
              FROM st, c, unnest(p_ids, p_types, p_event_versions, p_occurred, p_users, p_correlations, p_causations)
                       WITH ORDINALITY AS e(id, type, ev, occ, usr, corr, caus, i)
             ORDER BY e.i
            RETURNING ev.event_id, ev.version, ev.global_position, ev.recorded_at, ev.stream_id,
                      ev.event_type, ev.correlation_id, ev.occurred_at
        ), queued AS (
            INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
            SELECT ins.event_id, ins.global_position, ins.stream_id, ins.event_type, ins.correlation_id, ins.occurred_at
              FROM inserted ins
        )
        SELECT v_count, array_agg(ins.global_position ORDER BY ins.version), min(ins.recorded_at), false, false
          FROM inserted ins HAVING count(*) > 0;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    SELECT s.version, s.last_xid, s.last_hash INTO v_current, v_last_xid, v_last_hash
      FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO streams AS s (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, 0)
        ON CONFLICT (stream_id) DO NOTHING;
        v_placeholder := FOUND;
        SELECT s.version, s.last_xid, s.last_hash INTO v_current, v_last_xid, v_last_hash
          FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
    END IF;

    EXECUTE 'SELECT count(*) FILTER (WHERE stream_id = $2), count(*) FILTER (WHERE stream_id <> $2)
               FROM events WHERE event_id = ANY ($1)'
       INTO v_found, v_other USING p_ids, p_stream_id;
    IF v_found = v_count AND v_other = 0 THEN
        RETURN QUERY EXECUTE
            'SELECT max(version), array_agg(global_position ORDER BY version), min(recorded_at), true, false
               FROM events WHERE event_id = ANY ($1)'
            USING p_ids;
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
        RETURN QUERY SELECT v_current, NULL::bigint[], NULL::timestamptz, false, true;
        RETURN;
    END IF;

    IF v_last_xid IS NOT NULL AND v_last_xid > pg_current_xact_id() THEN
        RAISE EXCEPTION 'append_to_stream: this transaction (%) is older than the last writer of stream % (%); retry it',
            pg_current_xact_id(), p_stream_id, v_last_xid
            USING ERRCODE = '40001';
    END IF;

    -- The clock after the stream lock, so later versions never carry earlier times.
    SELECT c.at, c.hashes INTO v_now, v_hashes
      FROM append_chain_columns(v_last_hash, p_stream_id, v_current, p_ids, p_types, p_event_versions, p_data, p_metadata,
                                p_occurred, p_users, p_correlations, p_causations) c;
    UPDATE streams s SET version = v_current + v_count, updated_at = v_now, last_xid = pg_current_xact_id(),
                         last_hash = v_hashes[v_count]
     WHERE s.stream_id = p_stream_id;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                  data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id, hash)
        SELECT e.id, p_stream_id, p_stream_type, e.type, v_current + e.i::integer, coalesce(e.ev, 1),
               p_data -> (e.i::integer - 1), coalesce(p_metadata -> (e.i::integer - 1), '{}'::jsonb), e.occ, v_now, e.usr, e.corr, e.caus, v_hashes[e.i]
          FROM unnest(p_ids, p_types, p_event_versions, p_occurred, p_users, p_correlations, p_causations)
                   WITH ORDINALITY AS e(id, type, ev, occ, usr, corr, caus, i)
         ORDER BY e.i
        RETURNING ev.event_id, ev.version, ev.global_position, ev.recorded_at, ev.stream_id,
                  ev.event_type, ev.correlation_id, ev.occurred_at
    ), queued AS (
        INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
        SELECT ins.event_id, ins.global_position, ins.stream_id, ins.event_type, ins.correlation_id, ins.occurred_at
          FROM inserted ins
    )
    SELECT v_current + v_count, array_agg(ins.global_position ORDER BY ins.version), min(ins.recorded_at), false, false
      FROM inserted ins;
END;
$$;
