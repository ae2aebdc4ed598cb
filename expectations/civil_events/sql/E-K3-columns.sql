-- Every documented column is in the registry's table (extra columns are recorded, not fatal);
-- the failing rows name the missing columns, beside the rows the batch read. Read from the
-- batch's record, so that it holds for an empty window too.
SELECT missing_column, (SELECT count(*) FROM {batch}) AS rows_read
FROM audit.batches,
     jsonb_array_elements_text(source_facts -> 'missing_columns') AS missing_column
WHERE batch_no = {batch_no}
