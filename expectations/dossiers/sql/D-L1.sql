-- The file's date is within 7 days of its arrival (when a run first saw it in the landing
-- area), by the calendar in Vietnam.
SELECT l.name, l.period AS file_day,
       (l.first_seen AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS arrived
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
WHERE l.batch_no = {batch_no}
  AND (l.first_seen AT TIME ZONE 'Asia/Ho_Chi_Minh')::date - l.period > 7
