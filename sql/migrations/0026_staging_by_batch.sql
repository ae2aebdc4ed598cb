-- Staging is read one batch at a time; as earlier batches' rows stayed beside it, every scan of
-- validation and publication found its batch among them (a bitmap scan of the key's index
-- instead of a plain scan) and each ANALYZE sampled them all: five full syncs of 300k
-- population rows into one warehouse validated in 2.9, 3.6, 4.4, 4.7, 4.3 s. Each staging
-- table is now partitioned by batch, one partition per batch: a batch's queries read its own
-- partition alone (pruned by their `batch_no = ...`), its statistics are its own, and an
-- expired batch goes with its partition (`lienthong.pipeline.staging`,
-- `lienthong.pipeline.retention`).

-- The name of the partition of `parent` (a staging table, schema-qualified) that holds batch
-- `batch`: `<table>_b<batch>`, in the parent's schema.
CREATE FUNCTION staging.batch_partition_name(parent text, batch bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('%I.%I', split_part(parent, '.', 1), split_part(parent, '.', 2) || '_b' || batch)
$$;

-- That partition, made when missing; its name. Made as a table of its own and then attached:
-- attaching takes a SHARE UPDATE EXCLUSIVE lock on the parent, which lets other sources'
-- batches be copied and read meanwhile (CREATE TABLE ... PARTITION OF would take ACCESS
-- EXCLUSIVE).
CREATE FUNCTION staging.batch_partition(parent text, batch bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    partition text := staging.batch_partition_name(parent, batch);
BEGIN
    IF to_regclass(partition) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
            ' INCLUDING STORAGE INCLUDING COMPRESSION)', partition, parent);
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES IN (%s)',
                       parent, partition, batch);
    END IF;
    RETURN partition;
END $$;

COMMENT ON FUNCTION staging.batch_partition_name(text, bigint) IS
    'The name of the partition of a staging table that holds one batch.';
COMMENT ON FUNCTION staging.batch_partition(text, bigint) IS
    'The partition of a staging table that holds one batch, made (and attached) when missing.';

DO $$
DECLARE
    name  text;
    batch bigint;
BEGIN
    FOREACH name IN ARRAY ARRAY['population', 'civil_events', 'dossiers', 'p06_tasks', 'payloads']
    LOOP
        EXECUTE format('ALTER TABLE staging.%I RENAME TO %I', name, name || '_unpartitioned');
        EXECUTE format(
            'CREATE TABLE staging.%I (LIKE staging.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS'
            ' INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)'
            ' PARTITION BY LIST (batch_no)', name, name || '_unpartitioned');
        FOR batch IN EXECUTE format(
            'SELECT DISTINCT batch_no FROM staging.%I ORDER BY 1', name || '_unpartitioned')
        LOOP
            EXECUTE format('INSERT INTO %s SELECT * FROM staging.%I WHERE batch_no = %s',
                           staging.batch_partition('staging.' || name, batch),
                           name || '_unpartitioned', batch);
        END LOOP;
        EXECUTE format('DROP TABLE staging.%I', name || '_unpartitioned');
        -- Named as before; each partition gets its own index of the same key.
        EXECUTE format('ALTER TABLE staging.%I ADD CONSTRAINT %I PRIMARY KEY (batch_no, row_no)',
                       name, name || '_pkey');
    END LOOP;
END $$;

-- When a batch's staged rows went (`lienthong.pipeline.retention`); its audit, findings,
-- quarantined rows and published rows stay.
ALTER TABLE audit.batches ADD COLUMN staging_expired_at timestamptz;
COMMENT ON COLUMN audit.batches.staging_expired_at IS
    'When the batch''s staged rows were dropped by the staging retention (null: still staged).';
