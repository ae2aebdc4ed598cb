-- The workbook can be read, and its header row is found with every required column (the
-- failing rows name what is missing).
SELECT l.name, coalesce(l.facts ->> 'read_error', 'header not found: ' || h.header) AS problem
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
LEFT JOIN LATERAL jsonb_array_elements_text(l.facts -> 'workbook' -> 'missing_headers')
    AS h(header) ON true
WHERE l.batch_no = {batch_no}
  AND (l.facts ->> 'read_error' IS NOT NULL OR h.header IS NOT NULL)
