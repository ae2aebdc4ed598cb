-- A full extraction's newest updated_at (rows stamped in the future, rule P-L2, do not count)
-- is at most 48 hours older than the extraction.
SELECT max(updated_ts) AS newest
FROM {batch}
WHERE updated_ts <= extracted_at + interval '5 minutes'
HAVING max(updated_ts) IS NULL
    OR max(updated_ts) < max(extracted_at) - interval '48 hours'
