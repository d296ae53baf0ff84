-- Rebuilds fill their shadow table with its primary key only and build the other indexes once,
-- after the replay and before the swap (still outside the swap's lock). Maintaining every
-- secondary index row by row during the replay (the trigram GIN of rm_patients, the worklist
-- indexes of rm_orders) cost more than the replay itself; one sorted build at the end costs a
-- fraction of that. The swap builds any index still missing before it swaps, so a shadow can
-- never replace a live table with fewer indexes than it had.

-- The shadow with the live table's columns, defaults, generated columns and checks, and its
-- primary key (the replay's upserts need it): no other index yet.
CREATE FUNCTION projection_shadow_create_bare(p_table text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_live regclass := projection_table_checked(p_table);
    v_shadow text := p_table || '__rebuild';
    r record;
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS %I', v_shadow);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING ALL EXCLUDING INDEXES)', v_shadow, p_table);
    FOR r IN SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = v_live AND contype = 'p' LOOP
        EXECUTE format('ALTER TABLE %I ADD %s', v_shadow, r.def);
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'emr_app') THEN
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO emr_app', v_shadow);
    END IF;
    RETURN v_shadow;
END $$;

-- Builds on the shadow every index of the live table it lacks (compared by definition, as the
-- swap renames them): constraint-backed ones as the same constraint, the others as the same
-- index. Idempotent; answers how many it built.
CREATE FUNCTION projection_shadow_index(p_table text) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_live regclass := projection_table_checked(p_table);
    v_shadow regclass := to_regclass(format('public.%I', p_table || '__rebuild'));
    v_shape text := '^CREATE (UNIQUE )?INDEX \S+ ON \S+ ';
    v_have text[];
    v_built integer := 0;
    r record;
BEGIN
    IF v_shadow IS NULL THEN
        RAISE EXCEPTION 'no shadow table for %', p_table USING ERRCODE = '42P01';
    END IF;
    SELECT coalesce(array_agg(regexp_replace(pg_get_indexdef(i.indexrelid), v_shape, 'CREATE \1INDEX ON ')), '{}')
      INTO v_have FROM pg_index i WHERE i.indrelid = v_shadow;
    FOR r IN SELECT pg_get_indexdef(i.indexrelid) AS def, c.oid AS con
               FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = v_live
              WHERE i.indrelid = v_live
              ORDER BY i.indexrelid LOOP
        CONTINUE WHEN regexp_replace(r.def, v_shape, 'CREATE \1INDEX ON ') = ANY (v_have);
        IF r.con IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s ADD %s', v_shadow, pg_get_constraintdef(r.con));
        ELSE
            EXECUTE regexp_replace(r.def, v_shape, format('CREATE \1INDEX ON %s ', v_shadow));
        END IF;
        v_built := v_built + 1;
    END LOOP;
    RETURN v_built;
END $$;

-- As before (20261128040000_projections), after making sure the shadow has every index.
CREATE OR REPLACE FUNCTION projection_shadow_swap(p_table text) RETURNS void
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
    -- A shadow filled without its secondary indexes gets them now, if its rebuild did not build them.
    PERFORM projection_shadow_index(p_table);
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
        REVOKE ALL ON FUNCTION projection_shadow_create_bare(text), projection_shadow_index(text) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION projection_shadow_create_bare(text), projection_shadow_index(text) TO emr_app;
    END IF;
END $$;
