-- One row per task code in a workbook: copies left after identical copies collapsed differ,
-- and no version of a task can be preferred within one snapshot. Rows that break the
-- contract take no part.
SELECT row_no
FROM {batch}
WHERE item_defect IS NULL
  AND task_code IN (SELECT task_code
                    FROM {batch}
                    WHERE task_code IS NOT NULL AND item_defect IS NULL
                    GROUP BY task_code
                    HAVING count(*) > 1)
