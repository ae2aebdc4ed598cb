-- The export is complete: its manifest is there and can be read, names this CSV, and the CSV
-- is there with the manifest's checksum and as many rows as the manifest announces. Each
-- failing row names one problem. Reads the delivery's ledger row, so that a batch with no rows
-- (a manifest without its CSV, an empty file) is judged too. ({batch} is aliased here: GX
-- leaves aliasing to a query that joins.)
SELECT l.name, p.problem
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_read FROM {batch} b) r
CROSS JOIN LATERAL (VALUES
    (CASE WHEN l.manifest_name IS NULL THEN 'no manifest' END),
    ('the manifest cannot be read: ' || (l.facts ->> 'manifest_error')),
    (CASE WHEN NOT (l.facts ->> 'csv_present')::boolean
          THEN 'the manifest came without its CSV ' || l.name END),
    (CASE WHEN l.facts -> 'manifest' ->> 'file' <> l.name
          THEN 'the manifest is for ' || (l.facts -> 'manifest' ->> 'file') || ', not ' || l.name END),
    (CASE WHEN (l.facts ->> 'csv_present')::boolean
               AND l.facts -> 'manifest' ->> 'sha256' <> l.sha256
          THEN 'the CSV''s SHA-256 is ' || l.sha256 || ', the manifest says '
               || (l.facts -> 'manifest' ->> 'sha256') END),
    (CASE WHEN (l.facts -> 'manifest' ->> 'rows')::bigint <> r.rows_read
          THEN 'the manifest announces ' || (l.facts -> 'manifest' ->> 'rows') || ' rows, '
               || r.rows_read || ' were read' END),
    (CASE WHEN (l.facts -> 'file' ->> 'truncated')::boolean
          THEN 'the CSV is cut off: ' || (l.facts -> 'file' ->> 'truncation') END)
) AS p(problem)
WHERE l.batch_no = {batch_no} AND p.problem IS NOT NULL
