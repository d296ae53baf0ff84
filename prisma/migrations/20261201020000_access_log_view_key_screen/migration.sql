-- The access log's de-duplication key names the screen. It kept one row per user, patient, view
-- id and clock hour, whatever screen came first, and the view id is the client's: a clinician who
-- spent a view id on the history screen first could then open the chart under it as often as
-- they liked, and the log (and the "charts opened" of the snooping report) only ever said "viewed
-- history". Now each screen of a view leaves its own row; a read through the chart screen's own
-- history is still no second row (server/api/accessLog.ts, accessRowsSql). Old rows without a
-- screen are keyed by their procedure, as readers name them. Every set of rows unique under the
-- old key is unique under this one, so the index builds on any existing log.
DROP INDEX access_log_view_key;
CREATE UNIQUE INDEX access_log_view_key ON access_log
    (user_id, patient_id, view_id, (COALESCE(screen, procedure)), (date_trunc('hour', accessed_at AT TIME ZONE 'UTC')))
    WHERE view_id IS NOT NULL;
