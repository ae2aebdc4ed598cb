-- The write-audit-publish mechanism, shared by every dataset: batches, their
-- rule results and findings, fixes, quarantine and watermarks.

-- One extraction of one dataset. `batch_key` is what makes a rerun the same
-- batch (the Airflow run), `batch_no` is the short id used everywhere else.
CREATE TABLE audit.batches (
    batch_no         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_key        text NOT NULL UNIQUE,
    dataset          text NOT NULL,
    mode             text NOT NULL CHECK (mode IN ('full', 'incremental')),
    updated_since    timestamptz,          -- the window asked of the source (inclusive)
    extracted_at     timestamptz NOT NULL, -- the extraction's clock, for liveness rules
    announced_total  integer,              -- what the source said it would send
    status           text NOT NULL CHECK (status IN ('extracting', 'staged', 'validated',
                                                     'held', 'published', 'rejected')),
    hold_reason      text,
    received         integer,
    fixed            integer,
    published        integer,
    quarantined      integer,
    collapsed        integer,
    applied          integer,   -- of the published rows, those that changed core (the rest
                                -- were there already, the same or newer)
    new_fields       text[] NOT NULL DEFAULT '{}',  -- fields the source added (recorded, not fatal)
    timings          jsonb NOT NULL DEFAULT '{}',   -- seconds per step
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'published' OR received = published + quarantined + collapsed)
);
CREATE INDEX ON audit.batches (dataset, status);

-- One row per expectation run on a batch.
CREATE TABLE audit.rule_results (
    batch_no          bigint NOT NULL REFERENCES audit.batches,
    suite             text NOT NULL,      -- e.g. population.rows
    expectation_no    integer NOT NULL,   -- position in the suite file
    rule_id           text NOT NULL,
    dimension         text NOT NULL CHECK (dimension IN ('correct', 'sufficient', 'clean', 'live')),
    level             text NOT NULL CHECK (level IN ('row', 'batch')),
    action            text NOT NULL CHECK (action IN ('fix', 'quarantine', 'hold', 'flag')),
    expectation       text NOT NULL,
    description       text NOT NULL,
    success           boolean NOT NULL,
    element_count     bigint,
    unexpected_count  bigint,
    observed_value    text,
    PRIMARY KEY (batch_no, suite, expectation_no)
);

-- Per batch and dimension: rows checked, rows failing a quarantine rule, pass rate.
CREATE TABLE audit.dimension_scores (
    batch_no      bigint NOT NULL REFERENCES audit.batches,
    dimension     text NOT NULL,
    rows_checked  bigint NOT NULL,
    rows_failed   bigint NOT NULL,
    pass_rate     numeric(7, 6) NOT NULL,
    threshold     numeric(7, 6) NOT NULL,
    PRIMARY KEY (batch_no, dimension)
);

-- Every row that failed a row-level rule (quarantine or flag), by rule.
CREATE TABLE audit.findings (
    batch_no    bigint NOT NULL REFERENCES audit.batches,
    row_no      integer NOT NULL,
    rule_id     text NOT NULL,
    dimension   text NOT NULL,
    action      text NOT NULL CHECK (action IN ('quarantine', 'flag')),
    reason      text NOT NULL,
    PRIMARY KEY (batch_no, row_no, rule_id)
);

-- Every automatic fix, with the original value.
CREATE TABLE audit.fixes (
    batch_no    bigint NOT NULL REFERENCES audit.batches,
    row_no      integer NOT NULL,
    rule_id     text NOT NULL,
    field       text NOT NULL,
    original    text,
    fixed       text,
    PRIMARY KEY (batch_no, row_no, field)
);

-- Rows held out of core, with the record as received, until an operator decides.
CREATE TABLE quarantine.records (
    batch_no     bigint NOT NULL REFERENCES audit.batches,
    row_no       integer NOT NULL,
    dataset      text NOT NULL,
    record_key   text,
    rule_ids     text[] NOT NULL,
    payload      jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'held' CHECK (status IN ('held', 'released', 'rejected')),
    decided_by   text,
    decided_at   timestamptz,
    decision_reason text,
    PRIMARY KEY (batch_no, row_no)
);
CREATE INDEX ON quarantine.records (dataset, status);

-- How far each incremental source has been read; advanced only with a published batch.
CREATE TABLE audit.watermarks (
    dataset     text NOT NULL,
    scope       text NOT NULL DEFAULT 'all',
    watermark   timestamptz NOT NULL,
    batch_no    bigint NOT NULL REFERENCES audit.batches,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dataset, scope)
);
