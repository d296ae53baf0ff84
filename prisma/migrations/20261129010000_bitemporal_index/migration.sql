-- Time travel "as it happened": one stream's events in clinical order (occurred_at, then
-- version), read page by page from a cursor. Without it every page of a long stream would read
-- and sort the whole stream.
CREATE INDEX events_stream_occurred_idx ON events (stream_id, occurred_at, version);
