-- No task of the province's previous snapshot (the latest month before this one in
-- core.p06_tasks) is missing from this workbook. Quarantined rows count as present: the task
-- is in the file.
SELECT c.task_code, c.report_month AS last_reported
FROM audit.landing_files l
JOIN core.p06_tasks c
  ON c.province_code = l.province
 AND c.report_month = (SELECT max(p.report_month) FROM core.p06_tasks p
                       WHERE p.province_code = l.province AND p.report_month < l.period)
LEFT JOIN (SELECT DISTINCT task_code FROM {batch} b) t ON t.task_code = c.task_code
WHERE l.batch_no = {batch_no}
  AND t.task_code IS NULL
