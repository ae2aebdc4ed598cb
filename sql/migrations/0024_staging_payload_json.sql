-- Staging keeps each item as it came in payload. As jsonb, PostgreSQL parsed every item into
-- its binary form during COPY: a quarter of the server's time staging 300k population rows
-- (1.2 s of 5 s), for a column no rule reads. As json it is still checked to be JSON, and kept
-- as its text. The preparers still write only what jsonb accepts (no U+0000, no lone
-- surrogate: `pipeline.contract.storable_json`), so quarantine.records, which keeps jsonb,
-- takes a payload by the assignment cast from json.
ALTER TABLE staging.population ALTER COLUMN payload TYPE json USING payload::json;
ALTER TABLE staging.civil_events ALTER COLUMN payload TYPE json USING payload::json;
ALTER TABLE staging.dossiers ALTER COLUMN payload TYPE json USING payload::json;
ALTER TABLE staging.p06_tasks ALTER COLUMN payload TYPE json USING payload::json;
