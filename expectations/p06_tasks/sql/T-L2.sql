-- Past due at the end of the report month, not completed, yet not marked overdue.
SELECT row_no
FROM {batch}
WHERE due_date IS NOT NULL
  AND due_date < ((report_month + interval '1 month')::date - 1)
  AND status IS NOT NULL
  AND status NOT IN ('Đã hoàn thành', 'Quá hạn')
