-- Copies of a personal_id left after collapsing (identical copies and older versions) share
-- the newest updated_at but differ: a tie that a person must settle. Items that break the
-- contract (rule P-K5) take no part.
-- One pass over the batch: each row with how many rows share its key, counted in a sort
-- by bytes (COLLATE "C": the same groups under any collation, without locale rules).
SELECT row_no
FROM (SELECT row_no, count(*) OVER (PARTITION BY personal_id COLLATE "C") AS copies
      FROM {batch}
      WHERE personal_id IS NOT NULL AND item_defect IS NULL) keyed
WHERE copies > 1
