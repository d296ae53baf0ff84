-- Tamper evidence: every event carries a SHA-256 over its content and the previous event of its
-- stream, computed in the append under the stream lock it already holds; a sealer chains those
-- hashes in commit order into signed checkpoints (audit_seals). Changing, deleting or
-- reordering stored events, even as the owner with the triggers off, then no longer verifies.
-- The algorithm is written out in README.md ("Verifying the log without our code").

ALTER TABLE events ADD COLUMN hash bytea;
ALTER TABLE streams ADD COLUMN last_hash bytea;

-- A field as "<length in characters>:<value>", so no choice of values can shift a boundary.
CREATE FUNCTION audit_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT length(coalesce(v, '')) || ':' || coalesce(v, '')
$$;

CREATE FUNCTION audit_time(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

-- sha256(hex(previous hash of the stream, or 64 zeros) + each field as length:value, in order:
-- event_id, stream_id, version, event_type, event_version, data (jsonb text), metadata (jsonb
-- text), occurred_at, recorded_at (UTC, microseconds), user_id, correlation_id, causation_id).
CREATE FUNCTION event_hash(
    p_prev bytea, p_event_id uuid, p_stream_id text, p_version integer, p_event_type text, p_event_version integer,
    p_data jsonb, p_metadata jsonb, p_occurred_at timestamptz, p_recorded_at timestamptz,
    p_user_id text, p_correlation_id text, p_causation_id text
) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT sha256(convert_to(
        encode(coalesce(p_prev, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea), 'hex')
        || audit_field(p_event_id::text) || audit_field(p_stream_id) || audit_field(p_version::text)
        || audit_field(p_event_type) || audit_field(p_event_version::text)
        || audit_field(p_data::text) || audit_field(p_metadata::text)
        || audit_field(audit_time(p_occurred_at)) || audit_field(audit_time(p_recorded_at))
        || audit_field(p_user_id) || audit_field(p_correlation_id) || audit_field(p_causation_id),
        'UTF8'))
$$;

-- Signed checkpoints over the global log in commit order. chain_hash = sha256(previous seal's
-- chain_hash (hex, or 64 zeros) + the hex hash of each event in the range, in commit order);
-- the signature (Ed25519, key outside the database) is over the seal's canonical text.
CREATE TABLE audit_seals (
    seq              bigint      PRIMARY KEY,
    from_xid         xid8,
    from_position    bigint,
    to_xid           xid8        NOT NULL,
    to_position      bigint      NOT NULL,
    event_count      integer     NOT NULL,
    chain_hash       bytea       NOT NULL,
    key_id           text        NOT NULL,
    signature        bytea       NOT NULL,
    sealed_at        timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION audit_seals_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit seals are append-only: % refused on table audit_seals', TG_OP USING ERRCODE = 'ES003';
END;
$$;
CREATE TRIGGER audit_seals_no_update_delete BEFORE UPDATE OR DELETE ON audit_seals
    FOR EACH ROW EXECUTE FUNCTION audit_seals_refuse_change();
CREATE TRIGGER audit_seals_no_truncate BEFORE TRUNCATE ON audit_seals
    FOR EACH STATEMENT EXECUTE FUNCTION audit_seals_refuse_change();
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        REVOKE UPDATE, DELETE, TRUNCATE ON audit_seals FROM emr_app;
    END IF;
END;
$$;

DROP FUNCTION append_to_stream(text, text, integer, jsonb);

-- As before (see 20261128000000_store_hardening), and each event's hash chained on the
-- stream's last hash, which the locked stream row carries.
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
    v_last_hash   bytea;
    v_placeholder boolean := false;
    v_ids         uuid[];
    v_found       integer;
    v_other       integer;
    v_now         timestamptz;
    v_hashes      bytea[];
    v_hash        bytea;
    v_e           jsonb;
    v_i           integer;
BEGIN
    IF v_count = 0 THEN
        RAISE EXCEPTION 'append_to_stream: no events' USING ERRCODE = '22023';
    END IF;

    IF NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = (p_events->0->>'event_id')::uuid) THEN
        IF p_expected > 0 THEN
            UPDATE streams s SET version = s.version + v_count, updated_at = now(), last_xid = pg_current_xact_id()
             WHERE s.stream_id = p_stream_id AND s.version = p_expected
               AND (s.last_xid IS NULL OR s.last_xid <= pg_current_xact_id())
            RETURNING s.version - v_count, s.last_hash INTO v_current, v_last_hash;
        ELSIF p_expected = 0 OR p_expected = -2 THEN
            INSERT INTO streams AS s (stream_id, stream_type, version, last_xid)
            VALUES (p_stream_id, p_stream_type, v_count, pg_current_xact_id())
            ON CONFLICT (stream_id) DO NOTHING
            RETURNING 0, NULL::bytea INTO v_current, v_last_hash;
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

        UPDATE streams s SET version = v_current + v_count, updated_at = now(), last_xid = pg_current_xact_id()
         WHERE s.stream_id = p_stream_id;
    END IF;

    -- The clock after the stream lock, so later versions never carry earlier times; millisecond
    -- precision, like the JavaScript Date that reads it back.
    v_now := date_trunc('milliseconds', clock_timestamp());
    v_hashes := ARRAY[]::bytea[];
    v_hash := v_last_hash;
    FOR v_i IN 1..v_count LOOP
        v_e := p_events->(v_i - 1);
        v_hash := event_hash(v_hash, (v_e->>'event_id')::uuid, p_stream_id, v_current + v_i, v_e->>'event_type',
                             coalesce((v_e->>'event_version')::integer, 1), v_e->'data', coalesce(v_e->'metadata', '{}'::jsonb),
                             (v_e->>'occurred_at')::timestamptz, v_now, v_e->>'user_id', v_e->>'correlation_id', v_e->>'causation_id');
        v_hashes := v_hashes || v_hash;
    END LOOP;
    UPDATE streams s SET last_hash = v_hash WHERE s.stream_id = p_stream_id;

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
