-- The handlers' claim takes due rows not yet handled in id order (ORDER BY id LIMIT n), which
-- outbox_due_idx on (next_retry_at, id) could not give: each claim sorted every due row, or, as
-- the planner chose once a backlog was due (it underestimates rows with both handled_at and
-- processed_at NULL), walked outbox_pkey from the oldest row and filtered out every processed row
-- the outbox keeps (OUTBOX_RETENTION_DAYS): with 300,000 kept and 50,000 due, 60 ms a batch of
-- 100 instead of 2. On (id), as outbox_bus_line_idx is for the bus claim: the scan starts at the
-- oldest row waiting and stops after the batch; next_retry_at is checked on the rows it passes
-- (few back off at once).
DROP INDEX outbox_due_idx;
CREATE INDEX outbox_due_idx ON outbox (id) WHERE handled_at IS NULL AND processed_at IS NULL AND dead_lettered_at IS NULL;
