-- Batches belong to a source (one entry of the sources file: a dataset, and a province for a
-- provincial source), may fail, and count in bigint. One batch of a source is open at a time.

ALTER TABLE audit.batches
    ADD COLUMN source      text,
    ADD COLUMN province    char(2),
    -- Where the extraction's window ends: the extraction's own clock (or the source's), never
    -- passed by the watermark. For a closed window every version before it has been read.
    ADD COLUMN window_end  timestamptz,
    ADD COLUMN window_closed boolean NOT NULL DEFAULT false,
    ADD COLUMN error       text,
    ALTER COLUMN announced_total TYPE bigint,
    ALTER COLUMN received TYPE bigint,
    ALTER COLUMN fixed TYPE bigint,
    ALTER COLUMN published TYPE bigint,
    ALTER COLUMN quarantined TYPE bigint,
    ALTER COLUMN collapsed TYPE bigint,
    ALTER COLUMN applied TYPE bigint;

UPDATE audit.batches SET source = dataset WHERE source IS NULL;
ALTER TABLE audit.batches ALTER COLUMN source SET NOT NULL;

ALTER TABLE audit.batches DROP CONSTRAINT batches_status_check;
ALTER TABLE audit.batches ADD CONSTRAINT batches_status_check
    CHECK (status IN ('extracting', 'staged', 'validated', 'held', 'published', 'rejected', 'failed'));
ALTER TABLE audit.batches DROP CONSTRAINT batches_mode_check;
ALTER TABLE audit.batches ADD CONSTRAINT batches_mode_check
    CHECK (mode IN ('full', 'incremental', 'file', 'release'));

-- One run of a source at a time, whoever starts it (Airflow or not): a second batch cannot
-- open while one is being extracted, validated or published. An operator's release of
-- quarantined rows reads no source and takes no part.
CREATE UNIQUE INDEX batches_one_open_per_source ON audit.batches (source)
    WHERE status IN ('extracting', 'staged', 'validated') AND mode <> 'release';
CREATE INDEX ON audit.batches (source, batch_no);

-- Every item received is staged, whatever it holds (rule P-K5): what breaks the contract is
-- named in item_defect, and an item that cannot be stored as JSON is kept as text.
ALTER TABLE staging.population
    ADD COLUMN item_defect  text,
    ADD COLUMN payload_text text,
    ALTER COLUMN payload DROP NOT NULL,
    ADD CONSTRAINT population_payload_kept CHECK (payload IS NOT NULL OR payload_text IS NOT NULL);

ALTER TABLE quarantine.records
    ADD COLUMN payload_text text,
    ALTER COLUMN payload DROP NOT NULL,
    ADD CONSTRAINT records_payload_kept CHECK (payload IS NOT NULL OR payload_text IS NOT NULL);

