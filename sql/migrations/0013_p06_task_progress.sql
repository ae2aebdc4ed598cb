-- The progress the provinces report ("51 of 100 tasks completed"), computed from the monthly
-- snapshots in core.p06_tasks: per province and report month.

CREATE VIEW marts.p06_task_progress AS
SELECT t.province_code,
       p.name AS province_name,
       t.report_month,
       count(*) AS tasks_assigned,
       count(*) FILTER (WHERE t.status = 'Đã hoàn thành') AS tasks_completed,
       count(*) FILTER (WHERE t.status = 'Thực hiện thường xuyên') AS tasks_recurring,
       count(*) FILTER (WHERE t.status = 'Đang thực hiện') AS tasks_in_progress,
       count(*) FILTER (WHERE t.status = 'Quá hạn') AS tasks_overdue,
       count(*) FILTER (WHERE 'T-L2' = ANY (t.flags)) AS tasks_past_due_not_marked,
       round(count(*) FILTER (WHERE t.status = 'Đã hoàn thành')::numeric / count(*), 4)
           AS completion_rate,
       (SELECT count(*) FROM quarantine.records q
        WHERE q.batch_no = max(t.batch_no) AND q.status = 'held') AS tasks_in_quarantine,
       max(t.batch_no) AS batch_no,
       max(t.file_name) AS file_name
FROM core.p06_tasks t
LEFT JOIN ref.provinces p ON p.province_code = t.province_code
GROUP BY t.province_code, p.name, t.report_month;

COMMENT ON VIEW marts.p06_task_progress IS
    'Project 06 task progress per province and report month, from the monthly workbooks'' snapshots (core.p06_tasks).';
COMMENT ON COLUMN marts.p06_task_progress.province_code IS 'The reporting province (current 2-digit code).';
COMMENT ON COLUMN marts.p06_task_progress.province_name IS 'Its name.';
COMMENT ON COLUMN marts.p06_task_progress.report_month IS 'First day of the report month (the state at that month''s end).';
COMMENT ON COLUMN marts.p06_task_progress.tasks_assigned IS 'Tasks in the month''s snapshot (published rows; see tasks_in_quarantine for rows held back).';
COMMENT ON COLUMN marts.p06_task_progress.tasks_completed IS 'Tasks with status Đã hoàn thành (completed).';
COMMENT ON COLUMN marts.p06_task_progress.tasks_recurring IS 'Tasks with status Thực hiện thường xuyên (recurring).';
COMMENT ON COLUMN marts.p06_task_progress.tasks_in_progress IS 'Tasks with status Đang thực hiện (in progress).';
COMMENT ON COLUMN marts.p06_task_progress.tasks_overdue IS 'Tasks with status Quá hạn (overdue), as the province marks them.';
COMMENT ON COLUMN marts.p06_task_progress.tasks_past_due_not_marked IS 'Tasks past due at the month''s end, not completed, yet not marked overdue (flagged by rule T-L2; counted in their own status).';
COMMENT ON COLUMN marts.p06_task_progress.completion_rate IS 'tasks_completed / tasks_assigned.';
COMMENT ON COLUMN marts.p06_task_progress.tasks_in_quarantine IS 'Rows of the month''s workbook held in quarantine (not in the counts above) until an operator decides.';
COMMENT ON COLUMN marts.p06_task_progress.batch_no IS 'The batch that published the month''s snapshot.';
COMMENT ON COLUMN marts.p06_task_progress.file_name IS 'The workbook it came from.';
