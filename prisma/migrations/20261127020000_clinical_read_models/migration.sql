-- Clinical read models, kept inline: written in the same transaction as the events they come
-- from, and rebuildable from the log (each row is a pure fold of its stream's events).

CREATE TABLE rm_patients (
    patient_id     uuid        PRIMARY KEY,
    -- Unique here, in the append's transaction: two registrations of one MRN cannot both commit.
    mrn            text        NOT NULL CONSTRAINT rm_patients_mrn_key UNIQUE,
    given_name     text        NOT NULL,
    family_name    text        NOT NULL,
    date_of_birth  date        NOT NULL,
    sex            text        NOT NULL,
    email          text,
    phone          text,
    address        jsonb,
    active         boolean     NOT NULL DEFAULT true,
    -- lower("family given"): the list's order and keyset.
    sort_key       text        NOT NULL,
    version        integer     NOT NULL,
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX rm_patients_sort_idx ON rm_patients (sort_key, patient_id);
CREATE INDEX rm_patients_family_idx ON rm_patients (lower(family_name) text_pattern_ops);
CREATE INDEX rm_patients_given_idx ON rm_patients (lower(given_name) text_pattern_ops);
CREATE INDEX rm_patients_mrn_prefix_idx ON rm_patients (mrn text_pattern_ops);

CREATE TABLE rm_encounters (
    encounter_id          uuid        PRIMARY KEY,
    patient_id            uuid        NOT NULL,
    provider_id           text        NOT NULL,
    encounter_type        text        NOT NULL,
    status                text        NOT NULL,
    reason                text,
    started_at            timestamptz NOT NULL,
    ended_at              timestamptz,
    outcome               text,
    discharge_disposition text,
    duration_minutes      integer,
    version               integer     NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX rm_encounters_patient_idx ON rm_encounters (patient_id, started_at DESC);
CREATE INDEX rm_encounters_open_idx ON rm_encounters (started_at) WHERE status = 'in_progress';

CREATE TABLE rm_orders (
    order_id          uuid        PRIMARY KEY,
    patient_id        uuid        NOT NULL,
    encounter_id      uuid,
    provider_id       text        NOT NULL,
    kind              text        NOT NULL,
    description       text        NOT NULL,
    details           jsonb       NOT NULL,
    priority          text        NOT NULL,
    -- stat 0, urgent 1, routine 2: the worklist's order.
    priority_rank     smallint    NOT NULL,
    status            text        NOT NULL,
    status_reason     text,
    result_data       jsonb,
    scheduled_for     timestamptz,
    created_at        timestamptz NOT NULL,
    status_changed_at timestamptz NOT NULL,
    version           integer     NOT NULL
);
CREATE INDEX rm_orders_patient_idx ON rm_orders (patient_id, created_at DESC);
CREATE INDEX rm_orders_worklist_idx ON rm_orders (status, priority_rank, created_at, order_id);
CREATE INDEX rm_orders_provider_idx ON rm_orders (provider_id, status, priority_rank, created_at);
