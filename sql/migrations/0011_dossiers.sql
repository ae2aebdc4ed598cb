-- The dossiers dataset (SOURCES.md §3): provinces' daily exports of online public-service
-- dossiers. Staging holds each CSV row as read (after the automatic fixes), core one row per
-- province and dossier.

CREATE TABLE staging.dossiers (
    batch_no               bigint NOT NULL REFERENCES audit.batches,
    row_no                 integer NOT NULL,
    line_no                integer,
    file_day               date,
    dossier_id             text,
    procedure_code         text,
    procedure_name         text,
    applicant_personal_id  text,
    pid_birth_province     text,
    applicant_name         text,
    commune_code           text,
    channel                text,
    received_at            text,
    received_ts            timestamptz,
    due_at                 text,
    due_ts                 timestamptz,
    completed_at           text,
    completed_ts           timestamptz,
    status                 text,
    missing_fields         text[] NOT NULL DEFAULT '{}',
    extra                  jsonb,
    item_defect            text,
    payload                jsonb,
    payload_text           text,
    content_hash           text NOT NULL,
    collapsed              text CHECK (collapsed IN ('identical', 'superseded')),
    PRIMARY KEY (batch_no, row_no),
    CONSTRAINT dossiers_payload_kept CHECK (payload IS NOT NULL OR payload_text IS NOT NULL)
);
CREATE INDEX ON staging.dossiers (batch_no, dossier_id);

COMMENT ON TABLE staging.dossiers IS 'Each row of a dossier export CSV as read (text NFC, automatic fixes applied), one batch per file.';
COMMENT ON COLUMN staging.dossiers.batch_no IS 'The batch (one file).';
COMMENT ON COLUMN staging.dossiers.row_no IS 'The row''s position among the file''s rows (0 first).';
COMMENT ON COLUMN staging.dossiers.line_no IS 'The line of the file the row starts on (the header is line 1).';
COMMENT ON COLUMN staging.dossiers.file_day IS 'The export day the file''s name carries.';
COMMENT ON COLUMN staging.dossiers.dossier_id IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.procedure_code IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.procedure_name IS 'In canonical form (NFC, trimmed, spaces collapsed).';
COMMENT ON COLUMN staging.dossiers.applicant_personal_id IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.pid_birth_province IS 'The PPP of a 12-digit personal ID (rule D-C1).';
COMMENT ON COLUMN staging.dossiers.applicant_name IS 'In canonical form (NFC, trimmed, spaces collapsed, one tone placement).';
COMMENT ON COLUMN staging.dossiers.commune_code IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.channel IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.received_at IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.received_ts IS 'received_at when it is an RFC 3339 timestamp with a zone.';
COMMENT ON COLUMN staging.dossiers.due_at IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.due_ts IS 'due_at when it is an RFC 3339 timestamp with a zone.';
COMMENT ON COLUMN staging.dossiers.completed_at IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.completed_ts IS 'completed_at when it is an RFC 3339 timestamp with a zone.';
COMMENT ON COLUMN staging.dossiers.status IS 'As read, trimmed.';
COMMENT ON COLUMN staging.dossiers.missing_fields IS 'Documented columns the file''s header lacks.';
COMMENT ON COLUMN staging.dossiers.extra IS 'Columns the contract does not document, by their header name (kept, published in core.dossiers.extra).';
COMMENT ON COLUMN staging.dossiers.item_defect IS 'Why the row cannot be read as the contract''s (wrong number of fields, bytes not in the file''s encoding, the file cut off in it, text over its limit, a timestamp that is not RFC 3339): rule D-K1 quarantines it.';
COMMENT ON COLUMN staging.dossiers.payload IS 'The row as read: every column of the header by name.';
COMMENT ON COLUMN staging.dossiers.payload_text IS 'The row as text, when it cannot be stored as JSON.';
COMMENT ON COLUMN staging.dossiers.content_hash IS 'Of the fixed row (line excluded): identical copies share it (rule D-K2).';
COMMENT ON COLUMN staging.dossiers.collapsed IS 'identical: an exact copy of an earlier row of the file (rule D-K2 fix).';

CREATE TABLE core.dossiers (
    province_code          char(2) NOT NULL,
    dossier_id             text NOT NULL,
    procedure_code         text NOT NULL,
    procedure_name         text,
    applicant_personal_id  char(12) NOT NULL,
    applicant_name         text,
    commune_code           char(5) NOT NULL,
    channel                text NOT NULL CHECK (channel IN ('online', 'offline')),
    received_at            timestamptz NOT NULL,
    due_at                 timestamptz,
    completed_at           timestamptz,
    status                 text NOT NULL CHECK (status IN ('received', 'processing', 'completed', 'rejected')),
    extra                  jsonb,
    flags                  text[] NOT NULL DEFAULT '{}',
    file_name              text NOT NULL,
    file_day               date NOT NULL,
    file_no                bigint NOT NULL REFERENCES audit.landing_files,
    line_no                integer,
    batch_no               bigint NOT NULL REFERENCES audit.batches,
    published_at           timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, dossier_id)
);
CREATE INDEX ON core.dossiers (province_code, file_name);
CREATE INDEX ON core.dossiers (applicant_personal_id);
CREATE INDEX ON core.dossiers (province_code, received_at);

COMMENT ON TABLE core.dossiers IS 'Online public-service dossiers of the provinces'' administrative-procedure systems (SOURCES.md §3): one row per province and dossier, as the newest file that holds it says.';
COMMENT ON COLUMN core.dossiers.province_code IS 'The province whose system exported it (current 2-digit code).';
COMMENT ON COLUMN core.dossiers.dossier_id IS 'The dossier''s id, unique within the province.';
COMMENT ON COLUMN core.dossiers.procedure_code IS 'National administrative-procedure code, e.g. 1.001612.';
COMMENT ON COLUMN core.dossiers.procedure_name IS 'The procedure''s name, e.g. Đăng ký thường trú (NFC).';
COMMENT ON COLUMN core.dossiers.applicant_personal_id IS 'The applicant''s 12-digit personal ID (rule D-C1); see flags for applicants not found in core.population (D-C4).';
COMMENT ON COLUMN core.dossiers.applicant_name IS 'The applicant''s name (NFC, canonical spacing).';
COMMENT ON COLUMN core.dossiers.commune_code IS 'The commune (current 5-digit code) of the province where it was filed (rule D-C3).';
COMMENT ON COLUMN core.dossiers.channel IS 'online or offline.';
COMMENT ON COLUMN core.dossiers.received_at IS 'When the dossier was received.';
COMMENT ON COLUMN core.dossiers.due_at IS 'When it is due (not before received_at).';
COMMENT ON COLUMN core.dossiers.completed_at IS 'When it was completed or rejected; NULL while received or processing.';
COMMENT ON COLUMN core.dossiers.status IS 'received, processing, completed or rejected.';
COMMENT ON COLUMN core.dossiers.extra IS 'Columns the province sends that the contract does not document, by header name.';
COMMENT ON COLUMN core.dossiers.flags IS 'Rules that flagged the row (published, but marked): D-C4, the applicant is not in core.population.';
COMMENT ON COLUMN core.dossiers.file_name IS 'The export file the row comes from.';
COMMENT ON COLUMN core.dossiers.file_day IS 'The export day of that file: a newer file''s row replaces an older one''s.';
COMMENT ON COLUMN core.dossiers.file_no IS 'The delivery of that file (audit.landing_files): a corrected redelivery replaces the rows of the delivery it corrects.';
COMMENT ON COLUMN core.dossiers.line_no IS 'The row''s line in that file.';
COMMENT ON COLUMN core.dossiers.batch_no IS 'The batch that published the row.';
COMMENT ON COLUMN core.dossiers.published_at IS 'When the row was published.';
