-- Event store core: the immutable log, stream versions, snapshots and the transactional outbox.

CREATE TABLE events (
    global_position  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid        NOT NULL,
    stream_id        text        NOT NULL,
    aggregate_type   text        NOT NULL,
    event_type       text        NOT NULL,
    version          integer     NOT NULL CHECK (version > 0),
    event_version    integer     NOT NULL DEFAULT 1 CHECK (event_version > 0),
    data             jsonb       NOT NULL,
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at      timestamptz NOT NULL,
    -- The clock at insert, taken after the stream row is locked, so later versions of a stream
    -- never carry earlier times. Millisecond precision, like the JavaScript Date that reads it
    -- back: "as of" a time read from an event includes that event.
    recorded_at      timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp()),
    user_id          text        NOT NULL,
    correlation_id   text        NOT NULL,
    causation_id     text,
    -- The writing transaction's id: readers of the global log only read below the oldest
    -- transaction still running, so a lower position that commits later is never skipped.
    transaction_id   xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, version)
);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);
CREATE INDEX events_recorded_at_idx ON events (recorded_at);
CREATE INDEX events_correlation_id_idx ON events (correlation_id);
CREATE INDEX events_causation_id_idx ON events (causation_id);
CREATE INDEX events_event_type_idx ON events (event_type, global_position);
CREATE INDEX events_user_id_idx ON events (user_id, global_position);
CREATE INDEX events_commit_order_idx ON events (transaction_id, global_position);

CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % refused on table events', TG_OP
        USING ERRCODE = 'ES003';
END;
$$;
CREATE TRIGGER events_no_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

CREATE TABLE streams (
    stream_id    text        PRIMARY KEY,
    stream_type  text        NOT NULL,
    version      integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX streams_type_updated_idx ON streams (stream_type, updated_at DESC);

CREATE TABLE snapshots (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    aggregate_type  text        NOT NULL,
    version         integer     NOT NULL,
    snapshot_type   text        NOT NULL,
    state_version   integer     NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT snapshots_stream_version_key UNIQUE (stream_id, version)
);

-- One row per appended event. The payload stays in events (joined at publish time), so an
-- append writes each JSON document once.
CREATE TABLE outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Unique already: events.event_id is, and outbox rows are written with their event only.
    event_id         uuid        NOT NULL,
    global_position  bigint      NOT NULL,
    stream_id        text        NOT NULL,
    event_type       text        NOT NULL,
    correlation_id   text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    next_retry_at    timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    processed_at     timestamptz,
    dead_lettered_at timestamptz
);
CREATE INDEX outbox_due_idx ON outbox (next_retry_at, id)
    WHERE processed_at IS NULL AND dead_lettered_at IS NULL;

-- append_to_stream writes a batch of events for one stream in one call: the stream's new
-- version, the events and their outbox rows, all or nothing.
--   p_expected: a version >= 0 (0 = the stream must not exist yet),
--               -1 = any, -2 = no_stream, -3 = stream_exists
--   p_events:   [{event_id, event_type, event_version, data, metadata, occurred_at,
--                 user_id, correlation_id, causation_id}, ...]
-- Returns one row per event: event_id, version, global_position, recorded_at, and whether the
-- batch was a repeat of an earlier append (then nothing was written).
-- A stale expected version is not an error but one row with conflict = true and the actual
-- version in `version`, nothing written: node-postgres' pool drops a connection on any error,
-- so raising would cost a new backend per conflict.
-- Errors: ES002 when some of the batch's event ids were stored before (partly, or in another
-- stream); 23505 on events_event_id_key when the fast path meets ids of another stream.
--
-- The common cases take one statement before the insert: an append at the expected version
-- is UPDATE ... WHERE version = expected (lock, check and bump at once), a new stream's is
-- INSERT ... ON CONFLICT DO NOTHING. Only when that fails does the slow path lock the row,
-- look for a repeat and compare versions: a repeat cannot pass the fast path, since its first
-- run moved the version on. The repeat look-up is EXECUTEd so it is planned for its ids each
-- time; a cached generic plan made while events was small would scan the whole log.
CREATE FUNCTION append_to_stream(
    p_stream_id   text,
    p_stream_type text,
    p_expected    integer,
    p_events      jsonb
) RETURNS TABLE (event_id uuid, version integer, global_position bigint, recorded_at timestamptz, repeated boolean, conflict boolean)
LANGUAGE plpgsql AS $$
DECLARE
    v_current integer;
    v_count   integer := jsonb_array_length(p_events);
    v_exists  boolean;
    v_ids     uuid[];
    v_found   integer;
    v_other   integer;
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'append_to_stream: no events' USING ERRCODE = '22023';
    END IF;

    IF p_expected > 0 THEN
        UPDATE streams s SET version = s.version + v_count, updated_at = now()
         WHERE s.stream_id = p_stream_id AND s.version = p_expected
        RETURNING s.version - v_count INTO v_current;
    ELSIF p_expected = 0 OR p_expected = -2 THEN
        INSERT INTO streams AS s (stream_id, stream_type, version)
        VALUES (p_stream_id, p_stream_type, v_count)
        ON CONFLICT (stream_id) DO NOTHING
        RETURNING 0 INTO v_current;
    END IF;

    IF v_current IS NULL THEN
        SELECT s.version INTO v_current FROM streams s WHERE s.stream_id = p_stream_id FOR UPDATE;
        v_exists := FOUND;
        IF NOT v_exists THEN
            v_current := 0;
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
            RETURN QUERY SELECT NULL::uuid, v_current, NULL::bigint, NULL::timestamptz, false, true;
            RETURN;
        END IF;

        IF v_exists THEN
            UPDATE streams s SET version = v_current + v_count, updated_at = now() WHERE s.stream_id = p_stream_id;
        ELSE
            -- Only "any" gets here for a missing stream (no_stream took the fast path; a number or
            -- stream_exists conflicted above), and another "any" may be creating it right now.
            INSERT INTO streams AS s (stream_id, stream_type, version)
            VALUES (p_stream_id, p_stream_type, v_count)
            ON CONFLICT (stream_id) DO UPDATE SET version = s.version + v_count, updated_at = now()
            RETURNING s.version - v_count INTO v_current;
        END IF;
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
