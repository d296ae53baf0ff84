-- The access log's time is the database's, not the writer's. The app's role could insert a row
-- dated whenever it chose (a read placed in 2001, outside every range an officer looks at, or in
-- an hour to come); now a row written by anyone but the table's owner is stamped with the
-- database's clock, whatever it carried. The owner is left alone: a restore (pg_restore, COPY)
-- runs as the owner or a superuser and must keep the times the log already holds.
CREATE FUNCTION access_log_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        NEW.accessed_at := date_trunc('milliseconds', clock_timestamp());
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER access_log_stamp BEFORE INSERT ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_stamp();
