-- Observability: per-minute metric history for the admin charts, and the outbox's indexes for
-- retention and the dead-letter list.

-- One row per process, minute and metric. Each process upserts its own running totals for the
-- current minute; charts sum counters over processes (or take the max of cluster-wide gauges),
-- so the history covers the whole cluster and survives restarts (a restarted process is a new
-- process id). value: a counter's increase in the minute, a duration's sum of seconds, or a
-- gauge's last sample; samples: how many observations (durations) or samples (gauges).
CREATE TABLE metric_rollups (
    minute      timestamptz      NOT NULL,
    metric      text             NOT NULL,
    process_id  text             NOT NULL,
    value       double precision NOT NULL,
    samples     bigint           NOT NULL DEFAULT 0,
    CONSTRAINT metric_rollups_pkey PRIMARY KEY (minute, metric, process_id)
);

-- Retention deletes processed rows oldest first, in small batches.
CREATE INDEX outbox_processed_idx ON outbox (processed_at) WHERE processed_at IS NOT NULL;

-- The admin's dead-letter list: newest first, without reading the whole outbox.
CREATE INDEX outbox_dead_letter_idx ON outbox (dead_lettered_at DESC, id DESC)
    WHERE dead_lettered_at IS NOT NULL AND processed_at IS NULL;
