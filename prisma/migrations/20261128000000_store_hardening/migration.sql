-- Store hardening: the app's own database role, a stream's last writer, repeats answered in every
-- expected-version mode, and a global-log reader that only waits for transactions that can write
-- this database's events.

-- The role the app connects as (through a LOGIN role that is a member of it, see README). It may
-- read and add events and access-log rows, and nothing else there: no UPDATE, DELETE, TRUNCATE,
-- no DDL, no triggers. Only the owner that runs these migrations can change the tables.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        CREATE ROLE emr_app NOLOGIN;
    END IF;
EXCEPTION
    -- Two databases on one server migrating at once: the other one made it.
    WHEN duplicate_object OR unique_violation THEN NULL;
END;
$$;

GRANT USAGE ON SCHEMA public TO emr_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO emr_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO emr_app;
-- Tables later migrations create get the same; an append-only one revokes what it must refuse.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO emr_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO emr_app;
REVOKE UPDATE, DELETE, TRUNCATE ON events, access_log FROM emr_app;
-- Migration bookkeeping is the owner's alone; the app only reads it (health, start-up checks).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON "_prisma_migrations" FROM emr_app;

-- The transaction that last appended to the stream. An append from an older transaction would
-- sort before it in the global log (ordered by transaction id) although it comes after it in the
-- stream, so it is refused as a serialization failure and retried with a new transaction.
ALTER TABLE streams ADD COLUMN last_xid xid8;

DROP FUNCTION append_to_stream(text, text, integer, jsonb);

-- append_to_stream writes a batch of events for one stream in one call: the stream's new
-- version, the events and their outbox rows, all or nothing.
--   p_expected: a version >= 0 (0 = the stream must not exist yet),
--               -1 = any, -2 = no_stream, -3 = stream_exists
--   p_events:   [{event_id, event_type, event_version, data, metadata, occurred_at,
--                 user_id, correlation_id, causation_id}, ...]
-- Returns one row per event: event_id, version, global_position, recorded_at, and whether the
-- batch was a repeat of an earlier append (then nothing was written).
-- A stale expected version is not an error but one row with conflict = true and the actual
-- version in `version`, nothing written (raising would cost node-postgres a connection).
-- Errors: ES002 when some of the batch's ids were stored before (partly, or in another stream);
-- 23505 on events_event_id_key when the fast path meets ids of another stream; 40001 when this
-- transaction is older than the stream's last writer (retry in a new transaction).
--
-- Fast paths: an append at the expected version is UPDATE ... WHERE version = expected (lock,
-- check and bump at once), a new stream's is INSERT ... ON CONFLICT DO NOTHING. Both are taken
-- only when the batch's first id is not stored yet (one unique-index probe), so a repeat always
-- reaches the slow path, whatever expected version it carries. The slow path locks the stream
-- row, creating an empty one when it is missing: that waits for a concurrent first writer, so a
-- concurrent repeat sees the first run's events instead of colliding with them. Then: repeat?
-- stale version? older than the last writer? The repeat look-up is EXECUTEd so it is planned
-- for its ids each time; a cached generic plan made while events was small would scan the log.
CREATE FUNCTION append_to_stream(
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
    v_placeholder boolean := false;
    v_ids         uuid[];
    v_found       integer;
    v_other       integer;
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'append_to_stream: no events' USING ERRCODE = '22023';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = (p_events->0->>'event_id')::uuid) THEN
        IF p_expected > 0 THEN
            UPDATE streams s SET version = s.version + v_count, updated_at = now(), last_xid = pg_current_xact_id()
             WHERE s.stream_id = p_stream_id AND s.version = p_expected
               AND (s.last_xid IS NULL OR s.last_xid <= pg_current_xact_id())
            RETURNING s.version - v_count INTO v_current;
        ELSIF p_expected = 0 OR p_expected = -2 THEN
            INSERT INTO streams AS s (stream_id, stream_type, version, last_xid)
            VALUES (p_stream_id, p_stream_type, v_count, pg_current_xact_id())
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING 0 INTO v_current;
        END IF;
    END IF;

    IF v_current IS NULL THEN
        SELECT s.version, s.last_xid INTO v_current, v_last_xid FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
        IF NOT FOUND THEN
            INSERT INTO streams AS s (stream_id, stream_type, version) VALUES (p_stream_id, p_stream_type, 0)
            ON CONFLICT (stream_id) DO NOTHING;
            v_placeholder := FOUND;
            SELECT s.version, s.last_xid INTO v_current, v_last_xid FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
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

        UPDATE streams s SET version = v_current + v_count, updated_at = now(), last_xid = pg_current_xact_id()
         WHERE s.stream_id = p_stream_id;
    END IF;

    RETURN QUERY
    WITH inserted AS (
        INSERT INTO events AS ev (event_id, stream_id, aggregate_type, event_type, version, event_version,
                                  data, metadata, occurred_at, user_id, correlation_id, causation_id)
        SELECT (e->>'event_id')::uuid, p_stream_id, p_stream_type, e->>'event_type',
               v_current + i::integer, coalesce((e->>'event_version')::integer, 1),
               e->'data', coalesce(e->'metadata', '{}'::jsonb), (e->>'occurred_at')::timestamptz,
               e->>'user_id', e->>'correlation_id', e->>'causation_id'
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

-- Where a reader of the global log must stop: below every transaction that may still commit
-- events here. pg_snapshot_xmin would count every transaction on the server, so a backup, a
-- report or a busy neighbouring database would hold every reader back; a backend is bound to one
-- database and cannot write this one's events, so transactions that pg_stat_activity shows in
-- another database are left out. What still holds readers back: transactions of this database
-- that have an id (any write, any session, until they end), prepared transactions, and any id
-- whose backend could not be seen. STABLE: it sees the calling statement's snapshot, so the cut
-- and the rows read agree.
CREATE FUNCTION log_read_horizon() RETURNS xid8 LANGUAGE sql STABLE AS $$
    WITH snap AS (SELECT pg_current_snapshot() AS s),
    elsewhere AS (
        SELECT a.backend_xid::text::bigint AS xid32
          FROM pg_stat_activity a
         WHERE a.backend_xid IS NOT NULL
           AND a.datid IS NOT NULL
           AND a.datid <> (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
    )
    SELECT coalesce(
        (SELECT min(x) FROM snap, pg_snapshot_xip(snap.s) AS x
          WHERE (x::text::numeric % 4294967296)::bigint NOT IN (SELECT xid32 FROM elsewhere)),
        (SELECT pg_snapshot_xmax(snap.s) FROM snap))
$$;
