-- Records a corrected redelivery (action fix: it holds nothing): the same name as an earlier
-- delivery, other bytes; publishing it replaces that delivery's rows.
SELECT l.name, l.corrects AS corrects_delivery, e.batch_no AS corrects_batch
FROM audit.landing_files l
CROSS JOIN (SELECT count(*) AS rows_received FROM {batch} b) r  -- one row; names the batch for GX
JOIN audit.landing_files e ON e.file_no = l.corrects
WHERE l.batch_no = {batch_no}
