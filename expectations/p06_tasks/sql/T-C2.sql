-- Năm giao is a year from 2022 to 2030; the completion date is there exactly when the status
-- is Đã hoàn thành (judged only when the status is one of the four: T-C1 catches the others),
-- and not after the report month.
SELECT row_no
FROM {batch}
WHERE year_assigned IS NULL
   OR year_assigned NOT BETWEEN 2022 AND 2030
   OR (status IS NOT NULL
       AND (coalesce(completed_on::text, completed_typed) IS NOT NULL)
           <> (status = 'Đã hoàn thành'))
   OR completed_on >= (report_month + interval '1 month')::date
