"""The p06_tasks dataset for the shared write-audit-publish mechanism: one batch per monthly
workbook, published as that month's snapshot in ``core.p06_tasks`` (one row per province,
report month and task; every month kept)."""

from __future__ import annotations

from typing import Any

from lienthong.landing.intake import settle_files
from lienthong.p06_tasks.contract import STAGING_COLUMNS, Preparer, TaskItem
from lienthong.p06_tasks.extraction import take_task_workbook
from lienthong.p06_tasks.workbook import DroppedRow, task_row_from_typed
from lienthong.pipeline.dataset import Dataset

# The workbook is the month's whole snapshot: its valid rows are the month's rows.
PUBLISH_SQL = """
INSERT INTO core.p06_tasks (province_code, report_month, task_code, stt, task_group, content,
                            year_assigned, due_date, status, completed_on, lead_agency, extra,
                            flags, file_name, file_no, sheet_row, batch_no, published_at)
SELECT a.province, s.report_month, s.task_code, s.stt, s.task_group, s.content,
       s.year_assigned, s.due_date, s.status, s.completed_on, s.lead_agency, s.extra,
       coalesce((SELECT array_agg(f.rule_id ORDER BY f.rule_id) FROM audit.findings f
                 WHERE f.batch_no = s.batch_no AND f.row_no = s.row_no AND f.action = 'flag'),
                '{}'),
       l.name, l.file_no, s.sheet_row, s.batch_no, now()
FROM staging.p06_tasks s
JOIN audit.batches a ON a.batch_no = s.batch_no
-- The delivery the row came in: its own batch's, or for an operator's release of a
-- quarantined row, the batch it was released from.
JOIN audit.landing_files l ON l.batch_no = coalesce(
    (SELECT r.batch_no FROM audit.released_rows r
     WHERE r.release_batch_no = s.batch_no AND r.release_row_no = s.row_no), s.batch_no)
WHERE s.batch_no = %(batch_no)s AND s.collapsed IS NULL
  AND NOT EXISTS (SELECT 1 FROM quarantine.records q
                  WHERE q.batch_no = s.batch_no AND q.row_no = s.row_no)
"""

# A month published again (a revised workbook, or a held one an operator approves) replaces
# that month's snapshot, and only that month's: other months are never touched. Rows of the
# earlier workbooks of the month still held in quarantine are settled as replaced.
REPLACES_SQL = (
    """
DELETE FROM core.p06_tasks c
USING audit.landing_files l
WHERE l.batch_no = %(batch_no)s
  AND c.province_code = l.province AND c.report_month = l.period
""",
    """
UPDATE quarantine.records q
SET status = 'rejected', decided_by = 'lienthong', decided_at = now(),
    decision_reason = 'replaced by delivery ' || l.file_no || ' of ' || l.name
                      || ' (batch ' || l.batch_no || '), the month''s newer snapshot'
FROM audit.landing_files l
JOIN audit.landing_files e ON e.source = l.source AND e.period = l.period
                          AND e.batch_no <> l.batch_no
WHERE l.batch_no = %(batch_no)s AND q.batch_no = e.batch_no AND q.status = 'held'
""",
)


def _released_task(payload: dict[str, Any], staged: dict[str, Any]) -> TaskItem:
    """A quarantined task row read again from its payload (for an operator's release)."""
    row = task_row_from_typed(staged["sheet_row"], payload)
    if isinstance(row, DroppedRow):
        raise ValueError(f"row {staged['sheet_row']} is now a {row.reason} row: nothing to release")
    return TaskItem(row=row, report_month=staged["report_month"])


P06_TASKS = Dataset(
    name="p06_tasks",
    staging_table="staging.p06_tasks",
    staging_columns=STAGING_COLUMNS,
    key_column="task_code",
    # The same for every row of a workbook: copies of a task on two rows are identical
    # (collapsed) or a conflict (quarantined by T-K1), never an older and a newer version.
    version_column="report_month",
    publish_sql=PUBLISH_SQL,
    preparer=lambda source: Preparer(),
    release_item=_released_task,
    extractor=take_task_workbook,
    incremental=False,
    replaces_sql=REPLACES_SQL,
    after_outcome=settle_files,
)
