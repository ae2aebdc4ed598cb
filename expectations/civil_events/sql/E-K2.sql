-- Versions of one event left after collapsing (identical copies and older versions) share the
-- newest updated_at but differ: a tie a person must settle. Rows that break the contract
-- (rule E-K3) take no part.
SELECT row_no
FROM {batch}
WHERE item_defect IS NULL
  AND event_id IN (SELECT event_id
                   FROM {batch}
                   WHERE event_id IS NOT NULL AND item_defect IS NULL
                   GROUP BY event_id
                   HAVING count(*) > 1)
