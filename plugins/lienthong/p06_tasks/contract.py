"""The task workbook row contract (SOURCES.md §4) and its staging form.

A row arrives as the workbook reader (``workbook.read_task_workbook``) read it: the values as
typed and as parsed (group and status in canonical form whatever their case or diacritics,
dates from date cells or ``dd/mm/yyyy`` text). ``Preparer.prepare`` turns it into one staging
row, with each T-C1 canonical rewrite recorded as a fix (the value as typed kept), the values
that could not be read kept as typed beside their parsed column (NULL), and text over its limit
named in ``item_defect``. Reading a documented date form is not a fix: a date cell and
``dd/mm/yyyy`` text are both the contract. Rules are the suites in ``expectations/p06_tasks``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from lienthong.p06_tasks.workbook import HEADERS, TaskRow
from lienthong.pipeline.contract import Contract, Field, received_text, storable_json
from lienthong.pipeline.dataset import Fix

#: The parsed text fields and their limits (as rule P-K5's: 1,000 characters).
CONTRACT = (
    Field("task_code", max_length=100),
    Field("content"),
    Field("lead_agency"),
    Field("stt", max_length=100),
)
# Compiled once: the common case is checked without the thorough walk.
_CONTRACT = Contract(CONTRACT)

#: Staging columns filled by ``prepare``, in COPY order.
STAGING_COLUMNS = (
    "row_no",
    "sheet_row",
    "report_month",
    "stt",
    "task_code",
    "task_group",
    "task_group_typed",
    "content",
    "year_assigned",
    "year_typed",
    "due_date",
    "due_typed",
    "status",
    "status_typed",
    "completed_on",
    "completed_typed",
    "lead_agency",
    "unreadable",
    "missing_fields",
    "extra",
    "item_defect",
    "payload",
    "payload_text",
    "content_hash",
)

#: The reader's field names → staging columns, for fixes.
_COLUMN_OF = {"group": "task_group", "status": "status"}

#: Date fields whose unreadable values rule T-K1 quarantines.
DATE_FIELDS = ("due_date", "completed_on")


@dataclass(frozen=True)
class TaskItem:
    """One task row of a workbook, with what the whole workbook says about it.

    Attributes:
        row: the row as the reader read it.
        report_month: first day of the report month the workbook's name carries.
        missing_headers: required headers the workbook lacks.
    """

    row: TaskRow
    report_month: date
    missing_headers: tuple[str, ...] = ()


def _typed_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text.replace("\x00", "\ufffd") or None


class Preparer:
    """Prepares the task rows of one workbook."""

    def prepare(self, row_no: int, item: TaskItem) -> tuple[tuple, list[Fix]]:
        """One task row → (staging row in ``STAGING_COLUMNS`` order, fixes applied)."""
        row = item.row

        def typed(field: str) -> str | None:
            return _typed_text(row.typed.get(HEADERS[field]))

        fixes = [
            Fix("T-C1", _COLUMN_OF[fix.field], fix.typed, fix.canonical)
            for fix in row.fixes
            if fix.field in _COLUMN_OF
        ]
        parsed = {
            "stt": row.stt,
            "task_code": row.task_code,
            "content": row.content,
            "lead_agency": row.lead_agency,
        }
        defects = _CONTRACT.check(parsed)[0]
        payload_item = {**row.typed, **row.extra}
        payload = storable_json(payload_item)
        # What the row says, read: a date typed as a cell on one row and as dd/mm/yyyy text on
        # its copy is the same date (a value that cannot be read counts as typed). STT is a
        # running number: copies of a task on two rows differ in it and are the same.
        record = {
            "task_code": row.task_code,
            "group": row.group or typed("group"),
            "content": row.content,
            "year": row.year_assigned if row.year_assigned is not None else typed("year_assigned"),
            "due": row.due_date or typed("due_date"),
            "status": row.status or typed("status"),
            "completed": row.completed_on or typed("completed_on"),
            "lead_agency": row.lead_agency,
            "extra": row.extra,
        }
        content_hash = hashlib.md5(
            json.dumps(record, sort_keys=True, ensure_ascii=False, default=str).encode()
        ).hexdigest()
        extra = storable_json(row.extra) if row.extra else None
        staged = (
            row_no,
            row.row,
            item.report_month,
            row.stt,
            row.task_code,
            row.group,
            typed("group"),
            row.content,
            row.year_assigned,
            typed("year_assigned"),
            row.due_date,
            typed("due_date"),
            row.status,
            typed("status"),
            row.completed_on,
            typed("completed_on"),
            row.lead_agency,
            "; ".join(
                f"{field} {row.unreadable[field]!r}"
                for field in DATE_FIELDS
                if field in row.unreadable
            )
            or None,
            list(item.missing_headers),
            extra,
            "; ".join(defects) or None,
            payload,
            None if payload is not None else received_text(payload_item),
            content_hash,
        )
        return staged, fixes
