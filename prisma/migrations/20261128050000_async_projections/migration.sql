-- Async projections' tables: order turnaround, activity by user and day, and the census. Each is
-- owned by one projection (server/projections/<name>.ts) and written only through it, from the
-- global log in commit order; a rebuild recreates them as shadows LIKE these, so every index
-- and default here is part of the table's definition (no foreign keys, no sequences).

-- Order turnaround: one row per order, placed -> completed/cancelled. Percentiles are computed at
-- query time from these per-order durations (percentile_cont), never from stored averages.
CREATE TABLE rm_order_turnaround (
    order_id       uuid        PRIMARY KEY,
    patient_id     uuid        NOT NULL,
    kind           text        NOT NULL,
    priority       text        NOT NULL,
    description    text        NOT NULL,
    -- When the order was placed (OrderCreated's occurred-at) and when it was due to start
    -- (scheduled orders are not overdue before their time).
    placed_at      timestamptz NOT NULL,
    scheduled_for  timestamptz,
    -- The latest status; completed and cancelled are final.
    status         text        NOT NULL,
    closed_at      timestamptz
);
-- Open orders, oldest first: the overdue list.
CREATE INDEX rm_order_turnaround_open_idx ON rm_order_turnaround (placed_at) WHERE closed_at IS NULL;
-- Closed orders by day: the percentiles.
CREATE INDEX rm_order_turnaround_closed_idx ON rm_order_turnaround (closed_at) WHERE closed_at IS NOT NULL;

-- Activity: events per user, type and hour (UTC hour start), so a day and an hour of day can be
-- read in any time zone whose offset is whole hours.
CREATE TABLE rm_activity_hourly (
    hour_start  timestamptz NOT NULL,
    user_id     text        NOT NULL,
    event_type  text        NOT NULL,
    events      integer     NOT NULL,
    PRIMARY KEY (hour_start, user_id, event_type)
);
CREATE INDEX rm_activity_hourly_user_idx ON rm_activity_hourly (user_id, hour_start);

-- Which patients each user's events touched, per hour: distinct patients per user and day.
CREATE TABLE rm_activity_patients (
    hour_start  timestamptz NOT NULL,
    user_id     text        NOT NULL,
    patient_id  uuid        NOT NULL,
    PRIMARY KEY (hour_start, user_id, patient_id)
);

-- Encounter and order streams to their patient: EncounterCompleted and OrderStatusChanged carry
-- only their own id. The projection's own memory, so it never reads another read model.
CREATE TABLE rm_activity_streams (
    stream_id   text PRIMARY KEY,
    patient_id  uuid NOT NULL
);

-- Census: one row per encounter, open until it completes.
CREATE TABLE rm_census_encounters (
    encounter_id          uuid        PRIMARY KEY,
    patient_id            uuid        NOT NULL,
    encounter_type        text        NOT NULL,
    provider_id           text        NOT NULL,
    started_at            timestamptz NOT NULL,
    ended_at              timestamptz,
    discharge_disposition text
);
CREATE INDEX rm_census_encounters_open_idx ON rm_census_encounters (encounter_type) WHERE ended_at IS NULL;
CREATE INDEX rm_census_encounters_started_idx ON rm_census_encounters (started_at);
CREATE INDEX rm_census_encounters_ended_idx ON rm_census_encounters (ended_at) WHERE ended_at IS NOT NULL;

-- The newest event each projection has applied (recorded-at and position), for the pages' "as of".
-- Not owned by any one projection's rebuild: each writes only its own row, and only forwards.
CREATE TABLE projection_marks (
    projection        text        PRIMARY KEY,
    last_recorded_at  timestamptz NOT NULL,
    last_position     bigint      NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
