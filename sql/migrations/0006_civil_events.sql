-- The civil_events dataset (SOURCES.md §2): births and deaths from each province's
-- civil-status registry, staged as received, published per province and event_id with the
-- history of every version, and the liveness flags they raise on population (rule P-L4).

-- What an extraction learned about its source beside the rows (a registry's missing columns
-- and late-commit evidence, a file's encoding and manifest), for the batch-level rules.
ALTER TABLE audit.batches ADD COLUMN source_facts jsonb NOT NULL DEFAULT '{}';

CREATE TABLE staging.civil_events (
    batch_no            bigint NOT NULL REFERENCES audit.batches,
    row_no              integer NOT NULL,
    event_id            text,
    event_type          text,
    personal_id         text,
    pid_birth_province  text,     -- PPP of a 12-digit personal_id
    full_name           text,
    full_name_defect    text,     -- rule E-K1 (as P-K2): why the name is not clean text
    event_date          text,     -- as received (YYYY-MM-DD)
    event_day           date,     -- event_date when it is a real date
    commune_code        text,
    registered_at       text,
    registered_ts       timestamptz,
    updated_at          text,
    updated_ts          timestamptz,
    is_deleted          boolean,
    missing_fields      text[] NOT NULL DEFAULT '{}',
    extra               jsonb,
    item_defect         text,
    payload             jsonb,
    payload_text        text,
    content_hash        text NOT NULL,
    collapsed           text CHECK (collapsed IN ('identical', 'superseded')),
    PRIMARY KEY (batch_no, row_no),
    CHECK (payload IS NOT NULL OR payload_text IS NOT NULL)
);
CREATE INDEX ON staging.civil_events (batch_no, event_id);

-- Registries are per province: an event_id is unique within its province only.
ALTER TABLE core.civil_events
    ADD COLUMN province_code  char(2),
    ADD COLUMN extra     jsonb,
    ADD COLUMN batch_no  bigint REFERENCES audit.batches;
ALTER TABLE core.civil_events DROP CONSTRAINT civil_events_pkey;
ALTER TABLE core.civil_events ALTER COLUMN province_code SET NOT NULL;
ALTER TABLE core.civil_events ALTER COLUMN batch_no SET NOT NULL;
ALTER TABLE core.civil_events ADD PRIMARY KEY (province_code, event_id);

COMMENT ON TABLE core.civil_events IS
    'Births and deaths registered in the provinces'' civil-status registries: the newest version of each event. A soft-deleted event stays, with is_deleted; core.civil_events_live is what downstream sees.';
COMMENT ON COLUMN core.civil_events.province_code IS 'The registry''s province (current 2-digit code)';
COMMENT ON COLUMN core.civil_events.event_id IS 'The event''s id in its province''s registry';
COMMENT ON COLUMN core.civil_events.event_type IS 'birth or death';
COMMENT ON COLUMN core.civil_events.personal_id IS 'Personal ID (số định danh cá nhân) of the person born or deceased';
COMMENT ON COLUMN core.civil_events.full_name IS 'Name as registered, in canonical form (NFC, rule E-K1)';
COMMENT ON COLUMN core.civil_events.event_date IS 'Date of the birth or death';
COMMENT ON COLUMN core.civil_events.commune_code IS 'Commune where the event was registered (current 5-digit code)';
COMMENT ON COLUMN core.civil_events.registered_at IS 'When the event was registered';
COMMENT ON COLUMN core.civil_events.updated_at IS 'The registry''s last change of this event (the version published)';
COMMENT ON COLUMN core.civil_events.is_deleted IS 'Deleted in the registry (soft delete): kept here, out of core.civil_events_live';
COMMENT ON COLUMN core.civil_events.extra IS 'Columns the registry has beyond the contract, as received';
COMMENT ON COLUMN core.civil_events.batch_no IS 'The batch that published this version (audit.batches)';

-- Every version published, in order: when an event was corrected or deleted, and by which batch.
CREATE TABLE core.civil_events_history (
    province_code  char(2) NOT NULL,
    event_id       varchar(32) NOT NULL,
    updated_at     timestamptz NOT NULL,
    event_type     varchar(10) NOT NULL,
    personal_id    char(12),
    full_name      text,
    event_date     date,
    commune_code   char(5),
    registered_at  timestamptz NOT NULL,
    is_deleted     boolean NOT NULL,
    batch_no       bigint NOT NULL REFERENCES audit.batches,
    published_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, event_id, updated_at)
);
COMMENT ON TABLE core.civil_events_history IS
    'Every version of every civil event ever published, with the batch that published it: corrections and soft deletes, and when';

CREATE VIEW core.civil_events_live AS
SELECT province_code, event_id, event_type, personal_id, full_name, event_date, commune_code,
       registered_at, updated_at
FROM core.civil_events
WHERE NOT is_deleted;
COMMENT ON VIEW core.civil_events_live IS 'Civil events as downstream sees them: soft-deleted events left out';

DROP INDEX IF EXISTS core.civil_events_personal_id_idx;
CREATE INDEX civil_events_deaths ON core.civil_events (personal_id)
    WHERE event_type = 'death' AND NOT is_deleted;

-- Liveness flags on population records (rule P-L4: a registered death not reflected), kept
-- current by re-evaluation whenever core.population or core.civil_events change.
CREATE TABLE audit.liveness_flags (
    rule_id          text NOT NULL,
    personal_id      char(12) NOT NULL,
    province_code    char(2),          -- of the registry that holds the death
    event_id         varchar(32),
    first_flagged_at timestamptz NOT NULL DEFAULT now(),
    cleared_at       timestamptz,      -- when the population record came to reflect it
    PRIMARY KEY (rule_id, personal_id)
);
COMMENT ON TABLE audit.liveness_flags IS
    'Population records flagged by a liveness rule (P-L4: a death registered in a province''s civil-status registry, no date_of_death in population); cleared_at is set when the record catches up';

CREATE TABLE audit.flag_evaluations (
    evaluation_no  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id        text NOT NULL,
    evaluated_at   timestamptz NOT NULL DEFAULT now(),
    records_checked bigint NOT NULL,
    flagged        bigint NOT NULL,
    newly_flagged  bigint NOT NULL,
    cleared        bigint NOT NULL
);
COMMENT ON TABLE audit.flag_evaluations IS
    'Each re-evaluation of a flag rule: how many records it checked and flagged (the scorecard''s counts)';
