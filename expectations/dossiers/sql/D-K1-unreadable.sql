-- The CSV is in one of the contract's encodings (UTF-8, UTF-8 with BOM, Windows-1258, TCVN3):
-- a file that cannot be read as any of them (UTF-16), or whose header line cannot be read
-- as CSV, is held, with why.
SELECT l.name, l.facts ->> 'read_error' AS problem
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
WHERE l.batch_no = {batch_no} AND l.facts ->> 'read_error' IS NOT NULL
