-- A command decided on other records' facts (an order on the patient's allergies and the
-- encounter's status; an encounter's start on the patient being active) now stamps the stream
-- rows of those records with its transaction id, instead of only locking them FOR SHARE
-- (20261206010000). An append to such a stream from an older transaction is then refused as a
-- retryable serialization failure, as an append older than the stream's last writer already was,
-- and runs again with a newer transaction id.
--
-- Why: the log's commit order is (transaction_id, global_position), and a transaction id is
-- drawn when a transaction first writes, not when it commits. The completion of an encounter
-- drew its id on its way into the stream row (the fast path's WHERE calls
-- pg_current_xact_id()), was held back by an order's FOR SHARE on that row, and committed after
-- the order while sorting before it: the log showed an order placed on an encounter already
-- completed, although the order had committed first on the open encounter. The share lock
-- ordered the commits but not the ids.
--
-- The fast path of the append also requires the stream row it updates to be the version it read
-- (s.xmin = o.xmin). When it waited for another transaction's update of that row (a decision's
-- stamp), it falls to the slow path, which reads the clock after taking the row: an append that
-- waited for a decision never carries an earlier recorded time than the decision's events. The
-- fast path read it before the wait.
CREATE FUNCTION stream_versions_decided_on(p_stream_ids text[])
RETURNS TABLE (stream_id text, version integer)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    -- Locked in stream id order first, so two deciders never wait on each other in a circle.
    UPDATE streams s SET last_xid = greatest(s.last_xid, pg_current_xact_id())
      FROM (SELECT l.stream_id FROM streams l WHERE l.stream_id = ANY (p_stream_ids) ORDER BY l.stream_id FOR NO KEY UPDATE) l
     WHERE s.stream_id = l.stream_id
    RETURNING s.stream_id, s.version
$$;
REVOKE ALL ON FUNCTION stream_versions_decided_on(text[]) FROM PUBLIC;
DROP FUNCTION stream_versions_for_share(text[]);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        GRANT EXECUTE ON FUNCTION stream_versions_decided_on(text[]) TO emr_app;
    END IF;
END;
$$;

CREATE OR REPLACE FUNCTION append_to_stream(
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
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
               -- The row version read above (not a TID qual, which a recheck after waiting skips):
               -- after waiting for another transaction's update of the row, the slow path.
               AND s.xmin = o.xmin
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
