-- Records how the file was read when reading it took a repair (action fix: it holds nothing):
-- an encoding other than plain UTF-8 or other than the manifest claims, a byte order mark,
-- another delimiter, columns in another order.
SELECT l.name,
       l.facts -> 'file' ->> 'encoding' AS encoding,
       l.facts -> 'file' ->> 'encoding_claimed' AS claimed,
       l.facts -> 'file' ->> 'delimiter' AS delimiter,
       (l.facts ->> 'columns_in_documented_order')::boolean AS documented_order
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
WHERE l.batch_no = {batch_no}
  AND l.facts -> 'file' IS NOT NULL
  AND (coalesce(l.facts -> 'file' ->> 'encoding', 'ascii') NOT IN ('utf-8', 'ascii')
       OR NOT coalesce((l.facts -> 'file' ->> 'encoding_agrees')::boolean, true)
       OR coalesce(l.facts -> 'file' ->> 'delimiter', ',') <> ','
       OR NOT coalesce((l.facts ->> 'columns_in_documented_order')::boolean, true))
