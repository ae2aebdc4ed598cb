-- Each item as received (payload, or payload_text where it is not JSON that can be stored)
-- moves out of the datasets' staging tables into one table of its own, read by row only:
-- to quarantine a failing row and to show it to an operator. In the staging rows it was two
-- thirds of the heap (a million population rows: 717 MB, 267 MB without it), which every
-- scan of validation and publication read again and no rule looks at.
CREATE TABLE staging.payloads (
    batch_no      bigint NOT NULL,   -- no foreign key, as staging's own (migration 0021)
    row_no        integer NOT NULL,
    payload       json,
    payload_text  text,
    PRIMARY KEY (batch_no, row_no),
    CONSTRAINT payloads_payload_kept CHECK (payload IS NOT NULL OR payload_text IS NOT NULL)
);

INSERT INTO staging.payloads (batch_no, row_no, payload, payload_text)
SELECT batch_no, row_no, payload, payload_text FROM staging.population
UNION ALL
SELECT batch_no, row_no, payload, payload_text FROM staging.civil_events
UNION ALL
SELECT batch_no, row_no, payload, payload_text FROM staging.dossiers
UNION ALL
SELECT batch_no, row_no, payload, payload_text FROM staging.p06_tasks;

-- Their checks that a payload is kept go with them.
ALTER TABLE staging.population DROP COLUMN payload, DROP COLUMN payload_text;
ALTER TABLE staging.civil_events DROP COLUMN payload, DROP COLUMN payload_text;
ALTER TABLE staging.dossiers DROP COLUMN payload, DROP COLUMN payload_text;
ALTER TABLE staging.p06_tasks DROP COLUMN payload, DROP COLUMN payload_text;
