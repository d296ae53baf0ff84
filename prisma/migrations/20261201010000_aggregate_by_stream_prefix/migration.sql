-- One index fewer on `events` (issue 14): the audit browser's aggregate-type filter is served by
-- the stream index instead of an index of its own (bench/README.md, "What each index costs an
-- append").
--
-- Every stream id already names its aggregate type ("patient-<id>", "encounter-<id>",
-- "order-<id>", "user-<id>", "operations-rebuild-<id>"; the bench's and the tests' streams too).
-- That convention is now a constraint: an event's stream id starts with its aggregate type and a
-- hyphen. appendToStream refuses a batch that breaks it before the call (ValidationError); the
-- constraint holds it for every other writer (bulk loads included). Adding it checks every stored
-- event: a log with an event that breaks it fails this migration and must be looked at by hand.
ALTER TABLE events ADD CONSTRAINT events_stream_names_aggregate_check CHECK (starts_with(stream_id, aggregate_type || '-'));

-- So the events of one aggregate type are one range of stream ids: stream_id ~>=~ 'order-' AND
-- stream_id ~<~ 'order.' ('.' follows '-'), compared byte by byte whatever the database's
-- collation. The time-travel index (a stream in clinical order, temporal.ts) takes the pattern
-- operator class, whose equality is the same as text's: it serves both (searchEvents states the
-- range, then aggregate_type = ... on the rows it finds).
DROP INDEX events_stream_occurred_idx;
CREATE INDEX events_stream_occurred_idx ON events (stream_id text_pattern_ops, occurred_at, version);

-- Maintained by every append, read only by that filter.
DROP INDEX events_aggregate_type_idx;
