-- The audit event log filters by aggregate type, newest first: like event_type and user_id, it
-- gets an index that ends with the position, so a page is one ordered index range, even for an
-- aggregate type that is rare in a large log (without it: the whole log read backwards).
CREATE INDEX events_aggregate_type_idx ON events (aggregate_type, global_position);
