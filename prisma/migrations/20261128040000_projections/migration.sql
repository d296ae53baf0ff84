-- Projections: where each one has read to (its checkpoint, stored in the same transaction as the
-- rows a batch wrote), who runs it (a lease), how it is doing; and rebuilds with their progress.

CREATE TABLE projection_checkpoints (
    name                text             PRIMARY KEY,
    -- The last event applied, in commit order ((transaction_id, global_position), as readAll reads).
    transaction_id      xid8             NOT NULL DEFAULT '0',
    global_position     bigint           NOT NULL DEFAULT 0,
    -- The code version that built the tables; differs from the code's: "needs rebuild".
    code_version        integer          NOT NULL,
    -- running | failed (the last batch failed and is being retried). Behind and rebuilding are
    -- derived from the lag and from projection_rebuilds.
    status              text             NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'failed')),
    last_error          text,
    last_error_event_id uuid,
    last_error_at       timestamptz,
    events_applied      bigint           NOT NULL DEFAULT 0,
    events_per_second   double precision NOT NULL DEFAULT 0,
    -- Updated by the runner each pass, so metrics can read them without counting the log.
    lag_events          bigint           NOT NULL DEFAULT 0,
    lag_seconds         double precision NOT NULL DEFAULT 0,
    -- One active runner per projection across processes: a holder renews it every pass; another
    -- process takes over when it has expired.
    lease_owner         text,
    lease_until         timestamptz,
    applied_at          timestamptz,
    updated_at          timestamptz      NOT NULL DEFAULT now()
);

CREATE TABLE projection_rebuilds (
    id                    uuid             PRIMARY KEY,
    name                  text             NOT NULL,
    status                text             NOT NULL CHECK (status IN ('running', 'finished', 'cancelled', 'failed')),
    -- starting | copying | swapping | done
    phase                 text             NOT NULL DEFAULT 'starting',
    reason                text             NOT NULL,
    started_by            text             NOT NULL,
    started_at            timestamptz      NOT NULL DEFAULT now(),
    finished_at           timestamptz,
    -- The process running it touches this every batch; a stale one was abandoned (process died).
    heartbeat_at          timestamptz      NOT NULL DEFAULT now(),
    events_total          bigint           NOT NULL DEFAULT 0,
    events_done           bigint           NOT NULL DEFAULT 0,
    events_per_second     double precision NOT NULL DEFAULT 0,
    swap_pause_ms         double precision,
    cancel_requested      boolean          NOT NULL DEFAULT false,
    error                 text
);
-- A second rebuild of one already rebuilding is refused here, whichever process asks.
CREATE UNIQUE INDEX projection_rebuilds_one_running ON projection_rebuilds (name) WHERE status = 'running';
CREATE INDEX projection_rebuilds_recent_idx ON projection_rebuilds (name, started_at DESC);

-- Shadow tables for blue/green rebuilds. The app's role cannot run DDL, so these functions run as
-- their owner (the migration role) and accept only read-model tables: public tables named rm_*.
-- A name rule rather than a list, so a read model added by a later migration is rebuildable
-- without registering it here; no table of the store itself (events, streams, outbox, ...) is
-- named rm_*, so none of them can be dropped or swapped through these functions.
-- Created per rebuild rather than kept permanently: a permanent copy would double every read
-- model's storage and would still need DDL to swap.
CREATE FUNCTION projection_table_checked(p_table text) RETURNS regclass
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    v regclass;
BEGIN
    IF p_table IS NULL OR p_table !~ '^rm_[a-z0-9_]{1,40}$' OR p_table ~ '__' THEN
        RAISE EXCEPTION 'not a read-model table: %', p_table USING ERRCODE = '22023';
    END IF;
    v := to_regclass(format('public.%I', p_table));
    IF v IS NULL THEN
        RAISE EXCEPTION 'no read-model table named %', p_table USING ERRCODE = '42P01';
    END IF;
    RETURN v;
END $$;

CREATE FUNCTION projection_shadow_create(p_table text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_shadow text := p_table || '__rebuild';
BEGIN
    PERFORM projection_table_checked(p_table);
    EXECUTE format('DROP TABLE IF EXISTS %I', v_shadow);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL)', v_shadow, p_table);
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO emr_app', v_shadow);
    END IF;
    RETURN v_shadow;
END $$;

CREATE FUNCTION projection_shadow_drop(p_table text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM projection_table_checked(p_table);
    EXECUTE format('DROP TABLE IF EXISTS %I', p_table || '__rebuild');
END $$;

-- Puts the shadow in the live table's place: drops the live table, renames the shadow, and gives
-- its indexes (and so its constraints) the live ones' names, so constraint names that code
-- matches on (rm_patients_mrn_key) survive any number of rebuilds. The caller locks the live
-- table first (writers wait; this takes ACCESS EXCLUSIVE only for these few catalog changes).
CREATE FUNCTION projection_shadow_swap(p_table text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_live regclass := projection_table_checked(p_table);
    v_shadow regclass := to_regclass(format('public.%I', p_table || '__rebuild'));
    v_names text[];
    v_defs text[];
    r record;
    v_i int;
    v_shape text := '^CREATE (UNIQUE )?INDEX \S+ ON \S+ ';
BEGIN
    IF v_shadow IS NULL THEN
        RAISE EXCEPTION 'no shadow table for %', p_table USING ERRCODE = '42P01';
    END IF;
    SELECT array_agg(c.relname::text ORDER BY c.relname), array_agg(regexp_replace(pg_get_indexdef(i.indexrelid), v_shape, 'CREATE \1INDEX ON ') ORDER BY c.relname)
      INTO v_names, v_defs
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE i.indrelid = v_live;
    -- Sequences a live column owns move to the shadow's column, so dropping the live table keeps them.
    FOR r IN SELECT s.relname AS seq, a.attname AS col
               FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
              WHERE d.refobjid = v_live AND d.deptype = 'a' LOOP
        EXECUTE format('ALTER SEQUENCE %I OWNED BY %s.%I', r.seq, v_shadow, r.col);
    END LOOP;
    EXECUTE format('DROP TABLE %s', v_live);
    EXECUTE format('ALTER TABLE %s RENAME TO %I', v_shadow, p_table);
    FOR r IN SELECT c.relname AS name, regexp_replace(pg_get_indexdef(i.indexrelid), v_shape, 'CREATE \1INDEX ON ') AS def
               FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = v_shadow LOOP
        v_i := array_position(v_defs, r.def);
        IF v_i IS NOT NULL AND v_names[v_i] <> r.name THEN
            EXECUTE format('ALTER INDEX %I RENAME TO %I', r.name, v_names[v_i]);
            v_defs[v_i] := NULL;
        END IF;
    END LOOP;
END $$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        REVOKE ALL ON FUNCTION projection_shadow_create(text), projection_shadow_drop(text), projection_shadow_swap(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION projection_shadow_create(text), projection_shadow_drop(text), projection_shadow_swap(text) TO emr_app;
    END IF;
END $$;
