-- The report month is the latest received for the province: no later month is published in
-- core.p06_tasks, or held for an operator, already. An older month re-sent does not replace
-- what a newer one says.
SELECT l.name, l.period AS report_month, max(newer.month) AS latest_received
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
JOIN (SELECT c.province_code AS province, c.report_month AS month FROM core.p06_tasks c
      UNION ALL
      SELECT o.province, o.period FROM audit.landing_files o
      WHERE o.dataset = 'p06_tasks' AND o.outcome IN ('held', 'published')) newer
  ON newer.province = l.province AND newer.month > l.period
WHERE l.batch_no = {batch_no}
GROUP BY l.name, l.period
