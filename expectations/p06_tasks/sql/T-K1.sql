-- One row per task code in a workbook: copies left after identical copies collapsed differ,
-- and no version of a task can be preferred within one snapshot. Rows that break the
-- contract take no part.
-- One pass over the batch: each row with how many rows share its key, counted in a sort
-- by bytes (COLLATE "C": the same groups under any collation, without locale rules).
SELECT row_no
FROM (SELECT row_no, count(*) OVER (PARTITION BY task_code COLLATE "C") AS copies
      FROM {batch}
      WHERE task_code IS NOT NULL AND item_defect IS NULL) keyed
WHERE copies > 1
