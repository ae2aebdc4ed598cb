-- Records the rows dropped as not tasks (action fix: it holds nothing): blank rows, the totals
-- row, notes; each with its row number in the sheet.
SELECT l.name, (d ->> 'row')::int AS sheet_row, d ->> 'reason' AS reason
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
CROSS JOIN LATERAL jsonb_array_elements(l.facts -> 'workbook' -> 'dropped') AS d
WHERE l.batch_no = {batch_no}
