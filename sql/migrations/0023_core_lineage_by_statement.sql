-- A core row names the batch that published it (core.*.batch_no). A foreign key checked that
-- batch row by row: at a million rows, four to five seconds of a thirteen-second publish, all
-- of them for the one batch that publish holds locked. The same guarantee, checked once per
-- statement: every batch a statement wrote into a core table must be in audit.batches (one
-- anti-join over the statement's new rows; NULL passes, as it did the key), and a batch is
-- never deleted, so that no core row loses its lineage later.

CREATE FUNCTION audit.check_lineage() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unknown bigint;
BEGIN
    SELECT n.batch_no INTO unknown
    FROM (SELECT DISTINCT batch_no FROM new_rows WHERE batch_no IS NOT NULL) n
    WHERE NOT EXISTS (SELECT 1 FROM audit.batches b WHERE b.batch_no = n.batch_no)
    LIMIT 1;
    IF FOUND THEN
        RAISE foreign_key_violation USING
            MESSAGE = format('%I.%I: rows name batch %s, which is not in audit.batches',
                             TG_TABLE_SCHEMA, TG_TABLE_NAME, unknown),
            TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION audit.refuse_batch_deletion() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE restrict_violation USING
        MESSAGE = 'audit.batches: a batch is never deleted (core rows and the audit trail name it)';
END
$$;

CREATE TRIGGER batches_never_deleted BEFORE DELETE OR TRUNCATE ON audit.batches
    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_batch_deletion();

-- PostgreSQL allows transition tables on single-event triggers only: one for INSERT, one for
-- UPDATE (an upsert fires both).
DO $$
DECLARE
    core_table text;
BEGIN
    FOREACH core_table IN ARRAY ARRAY['population', 'civil_events', 'civil_events_history',
                                      'dossiers', 'p06_tasks'] LOOP
        EXECUTE format('ALTER TABLE core.%I DROP CONSTRAINT IF EXISTS %I',
                       core_table, core_table || '_batch_no_fkey');
        EXECUTE format('CREATE TRIGGER lineage_on_insert AFTER INSERT ON core.%I
                            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                            EXECUTE FUNCTION audit.check_lineage()', core_table);
        EXECUTE format('CREATE TRIGGER lineage_on_update AFTER UPDATE ON core.%I
                            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
                            EXECUTE FUNCTION audit.check_lineage()', core_table);
    END LOOP;
END
$$;
