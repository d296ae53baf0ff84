-- Only the logins granted it connect to this database. Every install on one PostgreSQL server
-- shares the NOLOGIN role emr_app (the migrations grant to that name), and PUBLIC could connect
-- to every database: a login of one install, a member of emr_app, could connect to another
-- install's database and read its patients with the privileges emr_app holds there. CONNECT is
-- now the gate: PUBLIC loses it (and TEMPORARY, which nothing here needs), and the DBA grants it
-- to each install's own login (`GRANT CONNECT ON DATABASE emr TO emr_web`, README).
--
-- So that an upgrade locks nobody out, the login members of emr_app as they are now keep it
-- (on a server with one install, they are its logins). Not the test harness's own logins
-- (server/testing, e2e/server.ts): they connect only to the databases the harness makes, which
-- grant it them, and never to a real install's on the same server.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT m.rolname
               FROM pg_auth_members am
               JOIN pg_roles g ON g.oid = am.roleid
               JOIN pg_roles m ON m.oid = am.member
              WHERE g.rolname = 'emr_app' AND m.rolcanlogin AND m.rolname NOT IN ('emr_app_test', 'emr_app_e2e')
    LOOP
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), r.rolname);
    END LOOP;
    EXECUTE format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
END;
$$;
