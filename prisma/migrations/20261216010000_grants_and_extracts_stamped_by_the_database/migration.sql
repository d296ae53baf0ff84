-- Break-the-glass grants, their reviews and audit extracts carry the database's time, as the
-- access log does (20261209030000_access_log_stamped_by_the_database). Their times only had a
-- DEFAULT, which a caller overrides: the app's role could insert a grant dated 2020 (before
-- every range the review list is filtered by) and lasting until 2099 (standing access with one
-- reason), a review dated before the access it reviews, an extract dated outside the range an
-- officer lists. Now a row written by anyone but the table's owner is stamped with the
-- database's clock, whatever it carried; the owner is left alone, as a restore (pg_restore,
-- COPY) runs as the owner or a superuser and must keep the times the tables already hold.
-- Updates cannot move them either: the append-only triggers refuse UPDATE on all four tables
-- for everyone, and emr_app holds no UPDATE there.
CREATE FUNCTION stamped_by_the_database() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp timestamptz := date_trunc('milliseconds', clock_timestamp());
BEGIN
    IF NOT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        CASE TG_TABLE_NAME
            WHEN 'emergency_access' THEN NEW.granted_at := stamp;
            WHEN 'emergency_access_review' THEN NEW.reviewed_at := stamp;
            WHEN 'audit_exports' THEN NEW.exported_at := stamp;
            WHEN 'audit_export_signatures' THEN NEW.signed_at := stamp;
        END CASE;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER emergency_access_stamp BEFORE INSERT ON emergency_access
    FOR EACH ROW EXECUTE FUNCTION stamped_by_the_database();
CREATE TRIGGER emergency_access_review_stamp BEFORE INSERT ON emergency_access_review
    FOR EACH ROW EXECUTE FUNCTION stamped_by_the_database();
CREATE TRIGGER audit_exports_stamp BEFORE INSERT ON audit_exports
    FOR EACH ROW EXECUTE FUNCTION stamped_by_the_database();
CREATE TRIGGER audit_export_signatures_stamp BEFORE INSERT ON audit_export_signatures
    FOR EACH ROW EXECUTE FUNCTION stamped_by_the_database();

-- A grant lasts at most EMERGENCY_ACCESS_HOURS (server/api/emergencyAccess.ts: 4) from its grant
-- time, for every writer, the owner included: a longer one is standing access behind a single
-- reason. Checked after the stamp (trigger names fire in alphabetical order: "..._stamp" before
-- "..._within_hours"), so the bound is from the database's time, not the one the row carried.
-- A trigger rather than a CHECK so that an install holding a longer grant still migrates; the
-- rows already there are the review list's to judge. The app sets expires_at before the row is
-- stamped, so its 4 hours end a little before the bound.
CREATE FUNCTION emergency_access_within_hours() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.expires_at > NEW.granted_at + interval '4 hours' THEN
        RAISE EXCEPTION 'emergency_access: a grant lasts at most 4 hours from its grant time (granted %, expiring %)', NEW.granted_at, NEW.expires_at
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER emergency_access_within_hours BEFORE INSERT ON emergency_access
    FOR EACH ROW EXECUTE FUNCTION emergency_access_within_hours();
