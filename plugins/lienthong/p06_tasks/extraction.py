"""A province's task-workbook landing folder read as one batch's extraction: the next monthly
workbook (``p06_tasks_<province>_<YYYYMM>.xlsx``, SOURCES.md §4), oldest month first.

A workbook is complete when it is there (no manifest). It is read whole with the workbook
reader (monthly workbooks hold hundreds of rows) and handed over in chunks; what reading it
established (sheet, header rows, missing headers, title month, rows dropped) goes to the
ledger's ``facts`` for the batch rules (T-S1, T-K1). A file that is not a readable workbook is
a batch with no rows, held by rule T-S1.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Iterator
from typing import Any

from lienthong.landing.area import LandingFile
from lienthong.landing.file_names import parse_task_workbook_name
from lienthong.landing.intake import Delivery, Stray, TakenFileExtraction, named_files, take_next
from lienthong.p06_tasks.contract import TaskItem
from lienthong.p06_tasks.workbook import TaskWorkbookError, read_task_workbook
from lienthong.pipeline.extraction import ExtractRequest

log = logging.getLogger(__name__)

#: Rows per chunk staged by one COPY.
CHUNK_ROWS = 2000


def group_task_workbooks(
    province: str | None, files: list[LandingFile]
) -> tuple[list[Delivery], list[Stray]]:
    """The monthly workbooks among a landing folder's files."""
    named, strays = named_files(province, files, parse_task_workbook_name)
    deliveries = [Delivery(name=file.name, period=name.month, data=file) for file, name in named]
    return deliveries, strays


class TaskWorkbookExtraction(TakenFileExtraction):
    """One monthly workbook read for one batch."""

    def chunks(self) -> Iterator[list[TaskItem]]:
        """The workbook's task rows in chunks; what reading it established is ``read_facts``
        once they are exhausted."""
        delivery = self.taken.delivery
        assert delivery.data is not None
        data = delivery.data.path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 != self.taken.record["sha256"]:
            raise RuntimeError(
                f"{delivery.name} changed between being taken and read (SHA-256 {sha256}, "
                f"{self.taken.record['sha256']} when taken); a retry reads it again"
            )
        facts: dict[str, Any] = {"byte_count": len(data)}
        try:
            workbook = read_task_workbook(data, name=delivery.name)
        except TaskWorkbookError as error:
            facts["read_error"] = str(error)
        else:
            facts["workbook"] = dataclasses.asdict(workbook.facts)
            missing = workbook.facts.missing_headers
            rows = workbook.rows
            for start in range(0, len(rows), CHUNK_ROWS):
                yield [
                    TaskItem(row, delivery.period, missing)
                    for row in rows[start : start + CHUNK_ROWS]
                ]
        self.read_facts = facts


def take_task_workbook(request: ExtractRequest) -> TaskWorkbookExtraction | None:
    """The p06_tasks dataset's extractor: the next workbook of the source's landing folder
    (oldest month first), or None when there is none."""
    taken = take_next(request, "p06_tasks", group_task_workbooks)
    if taken is None:
        return None
    return TaskWorkbookExtraction(request, taken)
