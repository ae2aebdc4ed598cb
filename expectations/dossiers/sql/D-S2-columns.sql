-- Every documented column is in the file's header (columns may come in any order; extra
-- columns are kept). An empty file has no header: every column is missing.
SELECT l.name, m.missing_column
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
CROSS JOIN LATERAL jsonb_array_elements_text(l.facts -> 'file' -> 'missing_columns')
    AS m(missing_column)
WHERE l.batch_no = {batch_no}
