-- The population dataset (SOURCES.md §1): staging as received, core as published.

-- One row per citizen item received, as text (what arrived, after automatic
-- fixes), plus typed columns parsed where the text is valid.
CREATE TABLE staging.population (
    batch_no            bigint NOT NULL REFERENCES audit.batches,
    row_no              integer NOT NULL,
    personal_id         text,
    pid_birth_province  text,     -- PPP of a 12-digit personal_id
    full_name           text,
    full_name_defect    text,     -- rule P-K2: why the name is not clean text
    date_of_birth       text,
    dob                 date,     -- date_of_birth when it is a real date
    sex                 text,
    ethnicity_code      text,
    nationality         text,
    perm_province_code  text,
    perm_commune_code   text,
    perm_detail         text,
    cur_province_code   text,
    cur_commune_code    text,
    cur_detail          text,
    household_id        text,
    marital_status      text,
    date_of_death       text,
    dod                 date,
    updated_at          text,
    updated_ts          timestamptz,
    missing_fields      text[] NOT NULL DEFAULT '{}',  -- documented fields absent from the item
    extra               jsonb,    -- fields the contract does not document
    payload             jsonb NOT NULL,  -- the item exactly as received
    content_hash        text NOT NULL,   -- of the fixed record, to spot identical copies
    collapsed           text CHECK (collapsed IN ('identical', 'superseded')),
    PRIMARY KEY (batch_no, row_no)
);
CREATE INDEX ON staging.population (batch_no, personal_id);

CREATE TABLE core.population (
    personal_id         char(12) PRIMARY KEY,
    full_name           text NOT NULL,
    date_of_birth       date NOT NULL,
    sex                 char(1) NOT NULL,
    ethnicity_code      char(2),
    nationality         char(2),
    perm_province_code  char(2) NOT NULL,
    perm_commune_code   char(5) NOT NULL,
    perm_detail         text,
    cur_province_code   text,     -- as received (after fixes): no rule vets the current address
    cur_commune_code    text,
    cur_detail          text,
    household_id        text,
    marital_status      text,
    date_of_death       date,
    extra               jsonb,
    updated_at          timestamptz NOT NULL,
    batch_no            bigint NOT NULL REFERENCES audit.batches
);
CREATE INDEX ON core.population (perm_province_code);

-- Civil-status events (SOURCES.md §2), read by rule P-L4; loaded by the
-- civil_events dataset.
CREATE TABLE core.civil_events (
    event_id       varchar(32) PRIMARY KEY,
    event_type     varchar(10) NOT NULL,
    personal_id    char(12),
    full_name      text,
    event_date     date,
    commune_code   char(5),
    registered_at  timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    is_deleted     boolean NOT NULL DEFAULT false
);
CREATE INDEX ON core.civil_events (personal_id) WHERE event_type = 'death' AND NOT is_deleted;
