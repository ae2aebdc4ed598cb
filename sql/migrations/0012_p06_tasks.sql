-- The p06_tasks dataset (SOURCES.md §4): provinces' monthly Project 06 task workbooks, each a
-- full snapshot. Staging holds each task row as read, core one row per province, report month
-- and task: every month's snapshot is kept.

CREATE TABLE staging.p06_tasks (
    batch_no          bigint NOT NULL REFERENCES audit.batches,
    row_no            integer NOT NULL,
    sheet_row         integer,
    report_month      date,
    stt               text,
    task_code         text,
    task_group        text,
    task_group_typed  text,
    content           text,
    year_assigned     integer,
    year_typed        text,
    due_date          date,
    due_typed         text,
    status            text,
    status_typed      text,
    completed_on      date,
    completed_typed   text,
    lead_agency       text,
    unreadable        text,
    missing_fields    text[] NOT NULL DEFAULT '{}',
    extra             jsonb,
    item_defect       text,
    payload           jsonb,
    payload_text      text,
    content_hash      text NOT NULL,
    collapsed         text CHECK (collapsed IN ('identical', 'superseded')),
    PRIMARY KEY (batch_no, row_no),
    CONSTRAINT p06_tasks_payload_kept CHECK (payload IS NOT NULL OR payload_text IS NOT NULL)
);
CREATE INDEX ON staging.p06_tasks (batch_no, task_code);

COMMENT ON TABLE staging.p06_tasks IS 'Each task row of a monthly task workbook as read (blank, totals and note rows dropped), one batch per workbook.';
COMMENT ON COLUMN staging.p06_tasks.batch_no IS 'The batch (one workbook).';
COMMENT ON COLUMN staging.p06_tasks.row_no IS 'The row''s position among the task rows (0 first).';
COMMENT ON COLUMN staging.p06_tasks.sheet_row IS 'The row''s number in the sheet, as Excel shows it.';
COMMENT ON COLUMN staging.p06_tasks.report_month IS 'First day of the report month the workbook''s name carries.';
COMMENT ON COLUMN staging.p06_tasks.stt IS 'The row number the province typed (STT).';
COMMENT ON COLUMN staging.p06_tasks.task_code IS 'Mã nhiệm vụ, trimmed NFC text.';
COMMENT ON COLUMN staging.p06_tasks.task_group IS 'Nhóm nhiệm vụ in canonical form (rule T-C1); NULL when what was typed names none of the five groups.';
COMMENT ON COLUMN staging.p06_tasks.task_group_typed IS 'Nhóm nhiệm vụ as typed.';
COMMENT ON COLUMN staging.p06_tasks.content IS 'Nội dung.';
COMMENT ON COLUMN staging.p06_tasks.year_assigned IS 'Năm giao when it is a whole number.';
COMMENT ON COLUMN staging.p06_tasks.year_typed IS 'Năm giao as typed.';
COMMENT ON COLUMN staging.p06_tasks.due_date IS 'Hạn hoàn thành, from a date cell or dd/mm/yyyy text.';
COMMENT ON COLUMN staging.p06_tasks.due_typed IS 'Hạn hoàn thành as typed.';
COMMENT ON COLUMN staging.p06_tasks.status IS 'Trạng thái in canonical form (rule T-C1); NULL when what was typed names none of the four statuses.';
COMMENT ON COLUMN staging.p06_tasks.status_typed IS 'Trạng thái as typed.';
COMMENT ON COLUMN staging.p06_tasks.completed_on IS 'Ngày hoàn thành, from a date cell or dd/mm/yyyy text.';
COMMENT ON COLUMN staging.p06_tasks.completed_typed IS 'Ngày hoàn thành as typed.';
COMMENT ON COLUMN staging.p06_tasks.lead_agency IS 'Đơn vị chủ trì.';
COMMENT ON COLUMN staging.p06_tasks.unreadable IS 'Date fields whose value is neither a date cell nor dd/mm/yyyy text, with what was typed (rule T-K1); NULL when every date reads.';
COMMENT ON COLUMN staging.p06_tasks.missing_fields IS 'Required headers the workbook lacks (rule T-S1).';
COMMENT ON COLUMN staging.p06_tasks.extra IS 'Columns the contract does not document, by their header (kept, published in core.p06_tasks.extra).';
COMMENT ON COLUMN staging.p06_tasks.item_defect IS 'Text over its limit or not storable (rule T-K1).';
COMMENT ON COLUMN staging.p06_tasks.payload IS 'The row as typed, by header.';
COMMENT ON COLUMN staging.p06_tasks.payload_text IS 'The row as text, when it cannot be stored as JSON.';
COMMENT ON COLUMN staging.p06_tasks.content_hash IS 'Of the row as read (sheet row excluded): identical copies share it (rule T-K1).';
COMMENT ON COLUMN staging.p06_tasks.collapsed IS 'identical: an exact copy of an earlier row of the workbook (rule T-K1 fix).';

CREATE TABLE core.p06_tasks (
    province_code  char(2) NOT NULL,
    report_month   date NOT NULL CHECK (extract(day FROM report_month) = 1),
    task_code      text NOT NULL,
    stt            text,
    task_group     text NOT NULL CHECK (task_group IN ('Thể chế', 'Hạ tầng CNTT', 'Dịch vụ công trực tuyến', 'Dữ liệu', 'Nguồn lực')),
    content        text,
    year_assigned  smallint NOT NULL CHECK (year_assigned BETWEEN 2022 AND 2030),
    due_date       date,
    status         text NOT NULL CHECK (status IN ('Đã hoàn thành', 'Thực hiện thường xuyên', 'Đang thực hiện', 'Quá hạn')),
    completed_on   date,
    lead_agency    text,
    extra          jsonb,
    flags          text[] NOT NULL DEFAULT '{}',
    file_name      text NOT NULL,
    file_no        bigint NOT NULL REFERENCES audit.landing_files,
    sheet_row      integer,
    batch_no       bigint NOT NULL REFERENCES audit.batches,
    published_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, report_month, task_code)
);
CREATE INDEX ON core.p06_tasks (province_code, task_code);

COMMENT ON TABLE core.p06_tasks IS 'Project 06 tasks assigned to the provinces (SOURCES.md §4), as each monthly workbook reports them: one row per province, report month and task; every month''s snapshot is kept.';
COMMENT ON COLUMN core.p06_tasks.province_code IS 'The reporting province (current 2-digit code).';
COMMENT ON COLUMN core.p06_tasks.report_month IS 'First day of the report month: the snapshot is the tasks'' state at that month''s end.';
COMMENT ON COLUMN core.p06_tasks.task_code IS 'Mã nhiệm vụ, unique within the province.';
COMMENT ON COLUMN core.p06_tasks.stt IS 'The row number the province gave it (STT).';
COMMENT ON COLUMN core.p06_tasks.task_group IS 'Nhóm nhiệm vụ, canonical: Thể chế, Hạ tầng CNTT, Dịch vụ công trực tuyến, Dữ liệu or Nguồn lực.';
COMMENT ON COLUMN core.p06_tasks.content IS 'Nội dung: what the task is.';
COMMENT ON COLUMN core.p06_tasks.year_assigned IS 'Năm giao, 2022 to 2030.';
COMMENT ON COLUMN core.p06_tasks.due_date IS 'Hạn hoàn thành; NULL for a task without a deadline (recurring tasks).';
COMMENT ON COLUMN core.p06_tasks.status IS 'Trạng thái, canonical: Đã hoàn thành, Thực hiện thường xuyên, Đang thực hiện or Quá hạn (completed, recurring, in progress, overdue).';
COMMENT ON COLUMN core.p06_tasks.completed_on IS 'Ngày hoàn thành: set exactly when completed, not after the report month.';
COMMENT ON COLUMN core.p06_tasks.lead_agency IS 'Đơn vị chủ trì: the agency in charge.';
COMMENT ON COLUMN core.p06_tasks.extra IS 'Columns the province sends that the contract does not document, by header.';
COMMENT ON COLUMN core.p06_tasks.flags IS 'Rules that flagged the row (published, but marked): T-L2, past due at the month''s end, not completed, yet not marked overdue.';
COMMENT ON COLUMN core.p06_tasks.file_name IS 'The workbook the row comes from.';
COMMENT ON COLUMN core.p06_tasks.file_no IS 'The delivery of that workbook (audit.landing_files).';
COMMENT ON COLUMN core.p06_tasks.sheet_row IS 'The row''s number in that workbook''s sheet.';
COMMENT ON COLUMN core.p06_tasks.batch_no IS 'The batch that published the row.';
COMMENT ON COLUMN core.p06_tasks.published_at IS 'When the row was published.';
