"""Reading a province's monthly Project 06 task workbook (SOURCES.md §4).

``read_task_workbook`` opens the XLSX with openpyxl in read-only mode (rows are parsed as
they are read; ``data_only`` so formula cells give their last computed value) and returns
every task row with the values as typed and as parsed, plus facts about the sheet:

* **Sheet**: the one named ``Nhiem vu`` in any case or diacritics (``Nhiệm vụ``, ``NHIỆM
  VỤ``), else the only sheet, else the first sheet where a header row is found.
* **Header row**: the row, among the first 50, that holds the most documented headers,
  compared without case, diacritics or spacing (``Ma nhiem vu``, ``MÃ NHIỆM VỤ``, ``Mã
  nhiệm\\nvụ``); at least three. Headers may be in any order. When the header row lacks some
  documented headers and the row under it has them (a two-row header under merged cells),
  the two rows are read as one. Above it is the title block (merged cells: the province, the
  month), reported as text, with the month when it says ``tháng MM/YYYY`` or ``tháng MM năm
  YYYY``. Required headers not found are reported by their documented name (rule T-S1).
* **Rows** below the header (rule T-K1): blank rows, the totals row (a cell reading
  ``Tổng cộng``, ``Tong so``, ... and no task code, or that label as the task code) and note
  rows (no task code, text only in the STT, content or lead-agency columns: a section heading
  such as ``I. Thể chế``, a signature block, a footnote) are dropped and counted, each listed
  with its row number. Every other row is a task row, kept even without a task code.
* **Values**: dates from date or date-time cells, Excel serial numbers, or ``dd/mm/yyyy``
  text (``d/m/yyyy``, ``-`` or ``.`` between, an optional time; ISO ``yyyy-mm-dd`` too);
  ``Năm giao`` as an int when it is one; group and status matched to their canonical forms
  (``canonical_group``, ``canonical_status``) whatever the case, diacritics or spacing, and a
  change reported as a fix (rule T-C1). A value that cannot be read is kept as typed in
  ``TaskRow.unreadable`` with its parsed value None, for a rule to quarantine.

Why openpyxl: it is already pinned, maintained, reads merged title blocks (their value sits
in the top-left cell) and number formats (so date cells come back as dates) in streaming
read-only mode. python-calamine would parse faster, but monthly workbooks hold hundreds of
rows, not millions, and it would add a compiled dependency for no gain here.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

import openpyxl
from openpyxl.utils.datetime import CALENDAR_WINDOWS_1900, from_excel

__all__ = [
    "FIELDS",
    "GROUPS",
    "HEADERS",
    "REQUIRED_HEADERS",
    "STATUSES",
    "CanonicalFix",
    "DroppedRow",
    "TaskRow",
    "TaskWorkbook",
    "TaskWorkbookError",
    "WorkbookFacts",
    "canonical_group",
    "canonical_status",
    "fold",
    "read_task_workbook",
]

HEADERS: dict[str, str] = {
    "stt": "STT",
    "task_code": "Mã nhiệm vụ",
    "group": "Nhóm nhiệm vụ",
    "content": "Nội dung",
    "year_assigned": "Năm giao",
    "due_date": "Hạn hoàn thành",
    "status": "Trạng thái",
    "completed_on": "Ngày hoàn thành",
    "lead_agency": "Đơn vị chủ trì",
}
"""Each field of a task row and its documented header (SOURCES.md §4)."""

FIELDS = tuple(HEADERS)

REQUIRED_HEADERS = tuple(header for field, header in HEADERS.items() if field != "stt")
"""Headers rule T-S1 requires: all but ``STT``, a running number that carries no data."""

GROUPS = ("Thể chế", "Hạ tầng CNTT", "Dịch vụ công trực tuyến", "Dữ liệu", "Nguồn lực")
"""The five task groups, canonical form."""

STATUSES = ("Đã hoàn thành", "Thực hiện thường xuyên", "Đang thực hiện", "Quá hạn")
"""The four statuses, canonical form."""

_HEADER_SCAN_ROWS = 50
_MIN_HEADER_MATCHES = 3
_SHEET_NAME = "nhiem vu"
_STT_ALIASES = ("so tt", "tt", "so thu tu", "thu tu")
_TOTAL_LABELS = frozenset(("tong", "tong cong", "tong so", "cong", "tong so nhiem vu"))
_TOTAL_PREFIXES = ("tong cong ", "tong so ", "tong cong:", "tong so:", "tong:", "cong:")
_TITLE_MONTH = re.compile(r"thang\s*(\d{1,2})\s*(?:/|-|\.|nam)\s*(\d{4})")
_DMY = re.compile(
    r"^(\d{1,2})\s*[/.\-]\s*(\d{1,2})\s*[/.\-]\s*(\d{4})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_YMD = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
# Dates a task workbook can hold: anything else read from a serial number is not a date.
_YEARS = range(1990, 2101)


class TaskWorkbookError(ValueError):
    """A file that cannot be opened as a workbook at all; the message names it."""


def fold(text: str) -> str:
    """``text`` compared without case, diacritics or spacing: ``"Đã  Hoàn thành "`` →
    ``"da hoan thanh"``."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(plain.lower().split())


_GROUP_BY_FOLD = {fold(group): group for group in GROUPS}
_STATUS_BY_FOLD = {fold(status): status for status in STATUSES}
_FIELD_BY_FOLD = {fold(header): field for field, header in HEADERS.items()} | dict.fromkeys(
    _STT_ALIASES, "stt"
)


def canonical_group(text: str | None) -> str | None:
    """The canonical task group ``text`` names whatever its case, diacritics or spacing
    (``"ha tang cntt"`` → ``"Hạ tầng CNTT"``); None when it names none (rule T-C1)."""
    return None if text is None else _GROUP_BY_FOLD.get(fold(text))


def canonical_status(text: str | None) -> str | None:
    """The canonical status ``text`` names whatever its case, diacritics or spacing
    (``"DA HOAN THANH"`` → ``"Đã hoàn thành"``); None when it names none (rule T-C1)."""
    return None if text is None else _STATUS_BY_FOLD.get(fold(text))


@dataclass(frozen=True)
class CanonicalFix:
    """A value rewritten to its canonical form (rule T-C1 fix)."""

    field: str
    typed: str
    canonical: str


@dataclass(frozen=True)
class TaskRow:
    """One task row of the sheet.

    Attributes:
        row: the sheet's row number (1-based, as Excel shows it).
        typed: every documented header found → the cell's value as typed, JSON-ready
            (text, int, float, bool, dates as ISO text, or None); for the payload.
        extra: header → value (as ``typed``) of columns that are not documented.
        task_code ... lead_agency: the parsed values; text is NFC and trimmed, None when
            empty or unreadable. ``group`` and ``status`` are canonical.
        fixes: values rewritten to their canonical form (T-C1 fix).
        unreadable: field → the value as typed (text) for values that could not be read:
            a date that is not one, a year that is not an integer, a group or status that
            names none of the documented ones (T-C1 quarantine, T-K1, T-C2).
    """

    row: int
    typed: dict[str, Any]
    extra: dict[str, Any]
    stt: str | None
    task_code: str | None
    group: str | None
    content: str | None
    year_assigned: int | None
    due_date: date | None
    status: str | None
    completed_on: date | None
    lead_agency: str | None
    fixes: tuple[CanonicalFix, ...] = ()
    unreadable: dict[str, str] = dataclass_field(default_factory=dict)


@dataclass(frozen=True)
class DroppedRow:
    """A row below the header that is not a task: ``reason`` blank, totals or note."""

    row: int
    reason: str
    text: str


@dataclass(frozen=True)
class WorkbookFacts:
    """What reading the workbook established.

    Attributes:
        name: the file's name, as the caller gave it.
        sheet: the sheet read (None when the workbook has no worksheet).
        sheet_names: every sheet of the workbook.
        header_rows: the row (or two rows) holding the headers; empty when not found.
        header: column number (1-based) → header as typed, for every non-empty header cell.
        columns: field → column number of each documented header found.
        missing_headers: required documented headers not found (T-S1 holds on these).
        extra_headers: headers that are not documented, as typed.
        title: the text of the title block above the header, cell by cell.
        title_month: the first day of the month the title names, if it names one.
        row_count: task rows returned.
        blank_rows, totals_rows, note_rows: rows dropped, by reason (T-K1).
        dropped: each dropped row with its number, reason and text.
        duplicate_task_codes: task codes on more than one row (T-K1).
    """

    name: str
    sheet: str | None
    sheet_names: tuple[str, ...]
    header_rows: tuple[int, ...]
    header: dict[int, str]
    columns: dict[str, int]
    missing_headers: tuple[str, ...]
    extra_headers: tuple[str, ...]
    title: tuple[str, ...]
    title_month: date | None
    row_count: int
    blank_rows: int
    totals_rows: int
    note_rows: int
    dropped: tuple[DroppedRow, ...]
    duplicate_task_codes: tuple[str, ...]


@dataclass(frozen=True)
class TaskWorkbook:
    """The task rows of a workbook and the facts of reading it."""

    facts: WorkbookFacts
    rows: tuple[TaskRow, ...]


# ---------------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A cell as trimmed NFC text (numbers without a needless ``.0``); None when empty."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        text = _iso(value)
    elif isinstance(value, date | time):
        text = value.isoformat()
    else:
        text = str(value)
    text = " ".join(unicodedata.normalize("NFC", text).split())
    return text or None


def _iso(value: datetime) -> str:
    return value.date().isoformat() if value.time() == time() else value.isoformat()


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _parse_date(value: Any, epoch: datetime) -> tuple[date | None, bool]:
    """(the date, whether the value was unreadable)."""
    if _is_blank(value):
        return None, False
    if isinstance(value, datetime):
        return value.date(), False
    if isinstance(value, date):
        return value, False
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A date cell that lost its date format shows Excel's serial number.
        try:
            parsed = from_excel(value, epoch=epoch)
        except (ValueError, OverflowError, TypeError):
            return None, True
        if isinstance(parsed, datetime) and parsed.year in _YEARS:
            return parsed.date(), False
        return None, True
    if isinstance(value, str):
        text = value.strip()
        match = _DMY.match(text)
        if match:
            day, month, year = (int(part) for part in match.groups())
        else:
            match = _YMD.match(text)
            if not match:
                return None, True
            year, month, day = (int(part) for part in match.groups())
        try:
            return date(year, month, day), False
        except ValueError:
            return None, True
    return None, True


def _parse_year(value: Any) -> tuple[int | None, bool]:
    if _is_blank(value):
        return None, False
    if isinstance(value, bool):
        return None, True
    if isinstance(value, int):
        return value, False
    if isinstance(value, float):
        return (int(value), False) if value.is_integer() else (None, True)
    if isinstance(value, str) and re.fullmatch(r"\d{1,4}", value.strip()):
        return int(value.strip()), False
    return None, True


# ---------------------------------------------------------------------------------------------
# Header
# ---------------------------------------------------------------------------------------------


def _header_fields(row: Sequence[Any]) -> dict[str, int]:
    """field → column number (1-based) of the documented headers in ``row`` (first wins)."""
    found: dict[str, int] = {}
    for column, value in enumerate(row, start=1):
        if not isinstance(value, str):
            continue
        field = _FIELD_BY_FOLD.get(fold(value))
        if field is not None and field not in found:
            found[field] = column
    return found


@dataclass
class _Header:
    rows: tuple[int, ...]
    columns: dict[str, int]
    header: dict[int, str]
    title: tuple[str, ...]


def _find_header(rows: Sequence[tuple[int, Sequence[Any]]]) -> _Header | None:
    best: tuple[int, int] | None = None  # (matches, index in rows)
    for index, (_, values) in enumerate(rows):
        matches = len(_header_fields(values))
        if matches >= _MIN_HEADER_MATCHES and (best is None or matches > best[0]):
            best = (matches, index)
    if best is None:
        return None
    index = best[1]
    number, values = rows[index]
    columns = _header_fields(values)
    header = {column: text for column, value in enumerate(values, 1) if (text := _text(value))}
    header_rows = (number,)
    # A two-row header: the documented headers missing from the first row, under it.
    if len(columns) < len(HEADERS) and index + 1 < len(rows):
        below_number, below = rows[index + 1]
        extra = {
            field: column
            for field, column in _header_fields(below).items()
            if field not in columns and column not in columns.values()
        }
        if extra:
            columns.update(extra)
            for column, value in enumerate(below, start=1):
                text = _text(value)
                if text and (column not in header or column in extra.values()):
                    header[column] = text
            header_rows = (number, below_number)
    title = tuple(text for _, values in rows[:index] for value in values if (text := _text(value)))
    return _Header(header_rows, columns, header, title)


def _title_month(title: Sequence[str]) -> date | None:
    for text in title:
        match = _TITLE_MONTH.search(fold(text))
        if match:
            month, year = int(match.group(1)), int(match.group(2))
            if 1 <= month <= 12:
                return date(year, month, 1)
    return None


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _unreadable(name: str, error: Exception) -> TaskWorkbookError:
    return TaskWorkbookError(
        f"task workbook {name}: not a readable XLSX file ({type(error).__name__}: {error})"
    )


def _open(source: str | Path | BinaryIO | bytes, name: str) -> openpyxl.Workbook:
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    try:
        return openpyxl.load_workbook(source, read_only=True, data_only=True, keep_links=False)
    except Exception as error:
        # Not a zip, not a workbook (BadZipFile, InvalidFileException, KeyError...), and
        # openpyxl reports a malformed part as whatever its parsers raise: TypeError for a
        # style it cannot build (an empty <fill/>, as some exporters write), SyntaxError for
        # broken XML. The file is unreadable all the same (rule T-S1 holds it); escaping, it
        # would fail every run that takes it, and the province's later months behind it.
        raise _unreadable(name, error) from None


def read_task_workbook(source: str | Path | BinaryIO | bytes, *, name: str) -> TaskWorkbook:
    """Read the task rows and facts of one workbook.

    Args:
        source: a path, a binary file object, or the file's bytes.
        name: the file's name, for facts and errors.

    Raises:
        TaskWorkbookError: the file is not an XLSX workbook at all, or a part of it cannot
            be parsed. A workbook without the header row is not an error: its facts say which
            headers are missing.
    """
    workbook = _open(source, name)
    try:
        return _read(workbook, name)
    except Exception as error:
        # Rows are parsed as they are read: a cell the parser cannot read (a number cell
        # holding text, broken XML further down) raises here, and the file is unreadable.
        raise _unreadable(name, error) from None
    finally:
        workbook.close()


def _sheet_rows(sheet: Any) -> Any:
    # Some writers record a wrong sheet dimension ("A1"); read every row the file holds.
    sheet.reset_dimensions()
    return enumerate(sheet.iter_rows(values_only=True), start=1)


def _choose_sheet(workbook: Any) -> tuple[Any, list[tuple[int, Sequence[Any]]], _Header | None]:
    sheets = list(workbook.worksheets)
    named = [sheet for sheet in sheets if fold(sheet.title) == _SHEET_NAME]
    candidates = named[:1] or (sheets if len(sheets) > 1 else sheets[:1])
    first: tuple[Any, list[tuple[int, Sequence[Any]]], _Header | None] | None = None
    for sheet in candidates:
        top: list[tuple[int, Sequence[Any]]] = []
        for number, values in _sheet_rows(sheet):
            top.append((number, values))
            if number >= _HEADER_SCAN_ROWS:
                break
        header = _find_header(top)
        if first is None:
            first = (sheet, top, header)
        if header is not None:
            return sheet, top, header
    assert first is not None
    return first


def _read(workbook: Any, name: str) -> TaskWorkbook:
    sheet_names = tuple(workbook.sheetnames)
    if not workbook.worksheets:
        return TaskWorkbook(_facts(name, None, sheet_names, None, [], []), ())
    sheet, _, header = _choose_sheet(workbook)
    if header is None:
        return TaskWorkbook(_facts(name, sheet.title, sheet_names, None, [], []), ())
    epoch = workbook.epoch
    data_start = header.rows[-1] + 1
    column_of = header.columns
    documented_columns = set(column_of.values())
    extra_columns = {c: h for c, h in header.header.items() if c not in documented_columns}
    rows: list[TaskRow] = []
    dropped: list[DroppedRow] = []
    for number, values in _sheet_rows(sheet):
        if number < data_start:
            continue
        row = _task_row(number, values, column_of, extra_columns, epoch)
        if isinstance(row, DroppedRow):
            dropped.append(row)
        else:
            rows.append(row)
    return TaskWorkbook(_facts(name, sheet.title, sheet_names, header, rows, dropped), tuple(rows))


def task_row_from_typed(number: int, typed: Mapping[str, Any]) -> TaskRow | DroppedRow:
    """A task row read again from its values as typed (a row's payload, an operator's
    corrections applied, for a release): the same reading as a row of a sheet."""
    documented = {header: field for field, header in HEADERS.items()}
    values: list[Any] = []
    column_of: dict[str, int] = {}
    extra_columns: dict[int, str] = {}
    for header, value in typed.items():
        values.append(value)
        if header in documented:
            column_of[documented[header]] = len(values)
        else:
            extra_columns[len(values)] = header
    # Dates in a payload are ISO text (a serial number would be read in the usual calendar).
    return _task_row(number, values, column_of, extra_columns, CALENDAR_WINDOWS_1900)


def _is_total_label(folded: str) -> bool:
    """ "Tổng cộng", "Tong so: 45", "Cộng" (not "Công an tỉnh", not "Tổng kết ...")."""
    return folded.rstrip(" :.") in _TOTAL_LABELS or folded.startswith(_TOTAL_PREFIXES)


def _task_row(
    number: int,
    values: Sequence[Any],
    column_of: dict[str, int],
    extra_columns: dict[int, str],
    epoch: datetime,
) -> TaskRow | DroppedRow:
    def cell(field: str) -> Any:
        column = column_of.get(field)
        if column is None or column > len(values):
            return None
        return values[column - 1]

    texts = [text for value in values if (text := _text(value))]
    if not texts:
        return DroppedRow(number, "blank", "")
    task_code = _text(cell("task_code"))
    if task_code is not None and _is_total_label(fold(task_code)):
        # Headers come in any order, and a totals row's label is typed in its first cell
        # (often merged across): when the task code is the first column, it holds the label.
        return DroppedRow(number, "totals", " | ".join(texts))
    if task_code is None:
        if any(_is_total_label(fold(text)) for text in texts):
            return DroppedRow(number, "totals", " | ".join(texts))
        data_fields = ("group", "year_assigned", "due_date", "status", "completed_on")
        if all(_is_blank(cell(field)) for field in data_fields):
            return DroppedRow(number, "note", " | ".join(texts))

    typed = {HEADERS[field]: _json_ready(cell(field)) for field in column_of}
    extra = {
        header: _json_ready(values[column - 1]) if column <= len(values) else None
        for column, header in extra_columns.items()
    }
    unreadable: dict[str, str] = {}
    fixes: list[CanonicalFix] = []

    def canonical(field: str, match: Any) -> str | None:
        text = _text(cell(field))
        if text is None:
            return None
        value = match(text)
        if value is None:
            unreadable[field] = text
            return None
        raw = cell(field)
        if value != raw:
            fixes.append(CanonicalFix(field, str(raw), value))
        return value

    def dated(field: str) -> date | None:
        value, bad = _parse_date(cell(field), epoch)
        if bad:
            unreadable[field] = _text(cell(field)) or ""
        return value

    year, bad_year = _parse_year(cell("year_assigned"))
    if bad_year:
        unreadable["year_assigned"] = _text(cell("year_assigned")) or ""
    return TaskRow(
        row=number,
        typed=typed,
        extra=extra,
        stt=_text(cell("stt")),
        task_code=task_code,
        group=canonical("group", canonical_group),
        content=_text(cell("content")),
        year_assigned=year,
        due_date=dated("due_date"),
        status=canonical("status", canonical_status),
        completed_on=dated("completed_on"),
        lead_agency=_text(cell("lead_agency")),
        fixes=tuple(fixes),
        unreadable=unreadable,
    )


def _facts(
    name: str,
    sheet: str | None,
    sheet_names: tuple[str, ...],
    header: _Header | None,
    rows: Sequence[TaskRow],
    dropped: Sequence[DroppedRow],
) -> WorkbookFacts:
    columns = header.columns if header else {}
    documented = set(columns.values())
    reasons = Counter(row.reason for row in dropped)
    codes = Counter(row.task_code for row in rows if row.task_code is not None)
    return WorkbookFacts(
        name=name,
        sheet=sheet,
        sheet_names=sheet_names,
        header_rows=header.rows if header else (),
        header=header.header if header else {},
        columns=dict(columns),
        missing_headers=tuple(
            HEADERS[field] for field in FIELDS if field not in columns and field != "stt"
        ),
        extra_headers=tuple(
            text
            for column, text in (header.header.items() if header else ())
            if column not in documented
        ),
        title=header.title if header else (),
        title_month=_title_month(header.title) if header else None,
        row_count=len(rows),
        blank_rows=reasons["blank"],
        totals_rows=reasons["totals"],
        note_rows=reasons["note"],
        dropped=tuple(dropped),
        duplicate_task_codes=tuple(sorted(code for code, n in codes.items() if n > 1)),
    )
