-- Copies of a personal_id left after collapsing (identical copies and older versions) share
-- the newest updated_at but differ: a tie that a person must settle. Items that break the
-- contract (rule P-K5) take no part.
SELECT row_no
FROM {batch}
WHERE item_defect IS NULL
  AND personal_id IN (SELECT personal_id
                      FROM {batch}
                      WHERE personal_id IS NOT NULL AND item_defect IS NULL
                      GROUP BY personal_id
                      HAVING count(*) > 1)
