-- The landing-file ledger: every file a file source has seen in its landing area, and what
-- became of it (docs/ARCHITECTURE.md, "File sources"). One row per delivery: a file delivered
-- twice is two rows (the second a duplicate that loads nothing), a corrected redelivery is a
-- new row that names the one it corrects. Rows are never deleted.

CREATE TABLE audit.landing_files (
    file_no            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source             text NOT NULL,
    dataset            text NOT NULL,
    province           char(2),
    name               text NOT NULL,
    period             date,
    landing            text NOT NULL,
    location           text,
    manifest_name      text,
    manifest_location  text,
    size               bigint,
    sha256             text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    modified_at        timestamptz,
    first_seen         timestamptz NOT NULL,
    last_seen          timestamptz NOT NULL,
    outcome            text NOT NULL CHECK (outcome IN ('waiting', 'gone', 'ignored', 'taken',
                                                        'held', 'published', 'rejected',
                                                        'duplicate')),
    batch_key          text UNIQUE,
    batch_no           bigint UNIQUE REFERENCES audit.batches,
    duplicate_of       bigint REFERENCES audit.landing_files,
    corrects           bigint REFERENCES audit.landing_files,
    facts              jsonb NOT NULL DEFAULT '{}',
    reason             text,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (outcome <> 'duplicate' OR duplicate_of IS NOT NULL)
);
-- A file waiting for its manifest, or left alone because it is not the source's, is one row
-- however many runs see it.
CREATE UNIQUE INDEX landing_files_one_pending_per_name ON audit.landing_files (source, name)
    WHERE outcome IN ('waiting', 'ignored');
CREATE INDEX ON audit.landing_files (source, sha256);
CREATE INDEX ON audit.landing_files (source, name, file_no);
CREATE INDEX ON audit.landing_files (source, period);

COMMENT ON TABLE audit.landing_files IS
    'Every file a file source (dossiers, p06_tasks) has seen in its landing area, one row per delivery, and what became of it. Never deleted.';
COMMENT ON COLUMN audit.landing_files.file_no IS 'The delivery''s number; archived, held and rejected files lie in a folder of this name.';
COMMENT ON COLUMN audit.landing_files.source IS 'The sources-file entry whose landing area it arrived in (e.g. dossiers_40).';
COMMENT ON COLUMN audit.landing_files.dataset IS 'The dataset the source feeds (dossiers, p06_tasks).';
COMMENT ON COLUMN audit.landing_files.province IS 'The source''s province (current 2-digit code).';
COMMENT ON COLUMN audit.landing_files.name IS 'The data file''s name (the CSV or the XLSX) as delivered; for a manifest that came without its CSV, the CSV it announces.';
COMMENT ON COLUMN audit.landing_files.period IS 'The date the name carries: the export day of a dossier file, the first day of a task workbook''s report month.';
COMMENT ON COLUMN audit.landing_files.landing IS 'The landing folder it arrived in (a local folder or an object-storage URL).';
COMMENT ON COLUMN audit.landing_files.location IS 'Where the data file is now: in the landing folder, or moved to <landing>_archive, _held or _rejected/<file_no>/. NULL when there is no data file (a manifest without its CSV).';
COMMENT ON COLUMN audit.landing_files.manifest_name IS 'The dossier manifest that completes the CSV (NULL for workbooks, or while a CSV waits for it).';
COMMENT ON COLUMN audit.landing_files.manifest_location IS 'Where the manifest is now.';
COMMENT ON COLUMN audit.landing_files.size IS 'The data file''s size in bytes.';
COMMENT ON COLUMN audit.landing_files.sha256 IS 'SHA-256 of the data file''s bytes as read (hex): exactly once per content (rule D-K2). NULL until the file is taken.';
COMMENT ON COLUMN audit.landing_files.modified_at IS 'The data file''s modification time as the storage reports it.';
COMMENT ON COLUMN audit.landing_files.first_seen IS 'When a run first saw the file in the landing area: its arrival (rule D-L1).';
COMMENT ON COLUMN audit.landing_files.last_seen IS 'When a run last saw it there (a waiting file is seen by every run).';
COMMENT ON COLUMN audit.landing_files.outcome IS 'waiting (a CSV without its manifest: never loaded), gone (it left the landing area while waiting), ignored (a name that is not the source''s, left where it is), taken (its batch is being extracted or validated), held (its batch is on hold: the file waits in <landing>_held), published (archived), rejected (in <landing>_rejected with a reason file), duplicate (the same bytes as an earlier delivery: archived, nothing loaded).';
COMMENT ON COLUMN audit.landing_files.batch_key IS 'The Airflow run that took the file (a retried run finds the same file).';
COMMENT ON COLUMN audit.landing_files.batch_no IS 'The batch the file was read into (one file, one batch).';
COMMENT ON COLUMN audit.landing_files.duplicate_of IS 'For a duplicate: the earlier delivery of the same bytes.';
COMMENT ON COLUMN audit.landing_files.corrects IS 'For a redelivery of a name already delivered with other content: the delivery it corrects (its rows are replaced, rule D-K2).';
COMMENT ON COLUMN audit.landing_files.facts IS 'What reading the file established (encoding, delimiter, header, manifest, rows, sheet, dropped rows...): the batch rules D-S1, D-S2, D-K1, D-L1, T-S1, T-K1 read it.';
COMMENT ON COLUMN audit.landing_files.reason IS 'Why the file is where it is: waiting since, duplicate of, the hold or the operator''s decision.';
COMMENT ON COLUMN audit.landing_files.updated_at IS 'When this row last changed.';
