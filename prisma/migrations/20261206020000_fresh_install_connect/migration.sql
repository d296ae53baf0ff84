-- 20261205010000_connect_only_where_granted kept CONNECT for the login members of emr_app as
-- they were at migration time, so that an upgrade locked no install's own login out. On a NEW
-- install that is wrong: on a server shared with other installs (they all share emr_app), their
-- logins were granted CONNECT on this database, and through emr_app could read its patients.
-- A database whose log is still empty is a new install (its own login is created and granted
-- after the migrations, README's DBA steps): those grants are taken back. An install with events
-- keeps them: its logins are among them, and README says to revoke any other install's.
DO $$
DECLARE
    r record;
BEGIN
    IF EXISTS (SELECT 1 FROM events) THEN
        RETURN;
    END IF;
    FOR r IN SELECT m.rolname
               FROM pg_auth_members am
               JOIN pg_roles g ON g.oid = am.roleid
               JOIN pg_roles m ON m.oid = am.member
              WHERE g.rolname = 'emr_app' AND m.rolcanlogin
                AND has_database_privilege(m.oid, current_database(), 'CONNECT')
                AND NOT m.rolsuper
                AND m.oid <> (SELECT datdba FROM pg_database WHERE datname = current_database())
    LOOP
        EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM %I', current_database(), r.rolname);
    END LOOP;
END;
$$;
