"""A seeded generator of monthly Project 06 task workbooks (SOURCES.md §4) with labels.

A province has a fixed set of tasks (``task_universe``: codes, groups, content, year
assigned, due date, when each gets done); each month's workbook is a full snapshot of them
as of the month's end, laid out as provinces do: a title block of merged cells, the header
row (in another order, without diacritics or in capitals on request), date cells and
``dd/mm/yyyy`` text, a blank row and a totals row. Every task row is clean or carries
exactly one defect with the rule that must catch it (``DEFECTS``); blank and totals rows are
labelled as dropped (T-K1). ``generate_task_series`` makes consecutive months, and can leave
a task of the previous month out (T-S2) or re-send an older month last (T-L1); each
workbook lists the batch rules it must trip.
"""

from __future__ import annotations

import calendar
import functools
import io
import random
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl

from lienthong.landing.file_names import task_workbook_name
from lienthong.p06_tasks.workbook import GROUPS, HEADERS, STATUSES
from lienthong.reference import admin_units
from lienthong_demo.expectations import CLEAN, BatchExpectation, RowExpectation

__all__ = [
    "DEFECTS",
    "AssignedTask",
    "TaskLabel",
    "TaskWorkbookDelivery",
    "WorkbookOptions",
    "generate_task_series",
    "generate_task_workbook",
    "task_universe",
]

_Q = "quarantined"
DONE, RECURRING, IN_PROGRESS, OVERDUE = STATUSES

DEFECTS: dict[str, RowExpectation] = {
    "T-C1:fix": RowExpectation("published", "T-C1", "fix"),
    "T-C1:unknown": RowExpectation(_Q, "T-C1", "quarantine"),
    "T-C2:year": RowExpectation(_Q, "T-C2", "quarantine"),
    "T-C2:completed_without_status": RowExpectation(_Q, "T-C2", "quarantine"),
    "T-C2:missing_completion": RowExpectation(_Q, "T-C2", "quarantine"),
    "T-C2:after_month": RowExpectation(_Q, "T-C2", "quarantine"),
    "T-K1:identical": RowExpectation("collapsed", "T-K1", "fix"),
    "T-K1:conflict": RowExpectation(_Q, "T-K1", "quarantine"),
    "T-K1:unreadable_date": RowExpectation(_Q, "T-K1", "quarantine"),
    "T-L2": RowExpectation("published", "T-L2", "flag"),
}
"""Every task-row defect the generator can plant, and what must happen to the row.

``T-K1:identical`` adds an exact copy of a row (the copy collapses); ``T-K1:conflict`` adds
a row with the same task code and other content (both rows are quarantined: no version can be
preferred within one snapshot)."""

DROPPED = RowExpectation("dropped", "T-K1", "fix")

_CONTENT = {
    "Thể chế": (
        "Ban hành kế hoạch triển khai Đề án 06 năm {year}",
        "Rà soát văn bản quy phạm pháp luật về thủ tục hành chính",
        "Ban hành quy chế khai thác Cơ sở dữ liệu quốc gia về dân cư",
        "Sửa đổi quy trình nội bộ giải quyết thủ tục hành chính",
    ),
    "Hạ tầng CNTT": (
        "Nâng cấp Trung tâm dữ liệu tỉnh",
        "Kết nối mạng truyền số liệu chuyên dùng đến cấp xã",
        "Trang bị thiết bị đọc căn cước cho bộ phận một cửa",
        "Bảo đảm an toàn thông tin hệ thống thông tin giải quyết thủ tục hành chính",
    ),
    "Dịch vụ công trực tuyến": (
        "Cung cấp dịch vụ công trực tuyến toàn trình liên thông đăng ký khai sinh",
        "Tích hợp thanh toán trực tuyến trên Cổng dịch vụ công",
        "Triển khai liên thông đăng ký khai tử, xóa đăng ký thường trú",
        "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính",
    ),
    "Dữ liệu": (
        "Làm sạch dữ liệu hộ tịch điện tử",
        "Đồng bộ dữ liệu người hưởng trợ cấp với Cơ sở dữ liệu quốc gia về dân cư",
        "Xây dựng kho dữ liệu dùng chung của tỉnh",
        "Cập nhật dữ liệu đất đai gắn với số định danh cá nhân",
    ),
    "Nguồn lực": (
        "Bố trí kinh phí thực hiện Đề án 06 năm {year}",
        "Tập huấn kỹ năng số cho cán bộ bộ phận một cửa",
        "Kiện toàn tổ công tác triển khai Đề án 06 cấp xã",
    ),
}
_AGENCIES = (
    "Công an tỉnh", "Sở Tư pháp", "Sở Khoa học và Công nghệ", "Văn phòng UBND tỉnh",
    "Sở Nội vụ", "Sở Tài chính", "Sở Y tế", "Sở Giáo dục và Đào tạo", "Bảo hiểm xã hội tỉnh",
    "Sở Nông nghiệp và Môi trường", "UBND các xã, phường",
)  # fmt: skip
_TITLE_ROWS = 3  # two merged title rows and a blank one above the header


@dataclass(frozen=True)
class AssignedTask:
    """A task assigned to a province, and when (if ever) it gets done."""

    code: str
    group: str
    content: str
    agency: str
    assigned: date  # first day the task is reported
    due: date | None  # None for a recurring task
    done: date | None  # when it gets completed, if ever
    recurring: bool


@dataclass(frozen=True)
class WorkbookOptions:
    """How the province lays its workbook out.

    Attributes:
        sheet_name: ``Nhiem vu``, ``Nhiệm vụ``, or any other name (then it is the only
            sheet, unless ``cover_sheet``).
        cover_sheet: a second sheet (instructions) before the task sheet.
        header_style: ``documented``, ``no_diacritics`` or ``upper``.
        shuffle_headers: columns in a seeded random order.
        dates_as_text: share of date cells written as ``dd/mm/yyyy`` text.
        blank_rows: blank rows (one in the table, the rest under it).
        totals_row: a ``Tổng cộng`` row under the tasks.
        missing_header: a documented header left out with its column (T-S1 holds).
    """

    sheet_name: str = "Nhiem vu"
    cover_sheet: bool = False
    header_style: str = "documented"
    shuffle_headers: bool = False
    dates_as_text: float = 0.3
    blank_rows: int = 2
    totals_row: bool = True
    missing_header: str | None = None

    def __post_init__(self) -> None:
        if self.header_style not in ("documented", "no_diacritics", "upper"):
            raise ValueError(f"unknown header style {self.header_style!r}")
        if self.missing_header is not None and self.missing_header not in HEADERS.values():
            raise ValueError(f"{self.missing_header!r} is not a documented header")


@dataclass(frozen=True)
class TaskLabel:
    """One row written, what a reader must parse from it, and what must become of it.

    ``parsed`` holds the values a correct reader returns (task_code, group, status,
    year_assigned, due_date, completed_on; group and status canonical or None when not
    recognisable); empty for dropped rows. ``defect`` is a key of ``DEFECTS``, ``"blank"``,
    ``"totals"``, or None for a clean row.
    """

    row: int
    task_code: str | None
    defect: str | None
    expected: RowExpectation
    parsed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskWorkbookDelivery:
    """One monthly workbook: its bytes, labels and the batch rules it must trip."""

    province_code: str
    month: date
    name: str
    data: bytes
    labels: tuple[TaskLabel, ...]
    batch: tuple[BatchExpectation, ...] = ()
    task_codes: tuple[str, ...] = ()  # the codes of the snapshot, once each

    def write(self, landing: Path) -> Path:
        """Write the workbook under ``landing/p06_tasks/<province>/``; return its path."""
        folder = landing / "p06_tasks" / self.province_code
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / self.name
        path.write_bytes(self.data)
        return path


def _month_end(month: date) -> date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def task_universe(
    province_code: str, *, seed: int = 6, count: int = 40
) -> tuple[AssignedTask, ...]:
    """The tasks assigned to a province (the same seed gives the same tasks)."""
    rng = random.Random(f"tasks:{province_code}:{seed}")
    tasks = []
    for number in range(1, count + 1):
        group = rng.choice(GROUPS)
        year = rng.choices((2022, 2023, 2024, 2025, 2026), weights=(3, 3, 3, 3, 1))[0]
        assigned = date(year, rng.randint(1, 12), 1)
        content = rng.choice(_CONTENT[group]).format(year=year)
        recurring = rng.random() < 0.12
        due = None
        done = None
        if not recurring:
            # The 15th of a quarter's last month: never the last day of a report month, so
            # "past due at the month's end" has one reading.
            due = date(year + rng.randint(0, 2), rng.choice((3, 6, 9, 12)), 15)
            if due <= assigned:
                due = date(assigned.year + 1, 3, 15)
            if rng.random() < 0.75:
                done = assigned + timedelta(days=rng.randint(20, (due - assigned).days + 200))
        tasks.append(
            AssignedTask(
                code=f"DA06-{province_code}-{number:03d}",
                group=group,
                content=content,
                agency=rng.choice(_AGENCIES),
                assigned=assigned,
                due=due,
                done=done,
                recurring=recurring,
            )
        )
    return tuple(tasks)


def _snapshot_row(task: AssignedTask, month_end: date) -> dict[str, Any]:
    """The task's row as of the month's end, by field name (canonical values)."""
    if task.recurring:
        status, completed = RECURRING, None
    elif task.done is not None and task.done <= month_end:
        status, completed = DONE, task.done
    elif task.due is not None and task.due < month_end:
        status, completed = OVERDUE, None
    else:
        status, completed = IN_PROGRESS, None
    return {
        "task_code": task.code,
        "group": task.group,
        "content": task.content,
        "year_assigned": task.assigned.year,
        "due_date": task.due,
        "status": status,
        "completed_on": completed,
        "lead_agency": task.agency,
    }


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _odd_form(text: str, rng: random.Random) -> str:
    """A recognisable, non-canonical spelling of a group or status (T-C1 fix)."""
    forms = [_strip_marks(text), text.upper(), text.lower(), _strip_marks(text).upper(),
             " " + text.replace(" ", "  ", 1) + " "]  # fmt: skip
    return rng.choice([form for form in forms if form != text])


class _Planter:
    def __init__(self, rng: random.Random, month: date) -> None:
        self.rng = rng
        self.month = month
        self.month_end = _month_end(month)

    def plant(self, label: str, row: dict[str, Any], parsed: dict[str, Any]) -> None:
        """Change ``row`` (the typed values) and ``parsed`` (what a reader gets) in place."""
        rng = self.rng
        if label == "T-C1:fix":
            field_name = rng.choice(("group", "status"))
            row[field_name] = _odd_form(row[field_name], rng)
        elif label == "T-C1:unknown":
            if rng.random() < 0.5:
                row["group"] = rng.choice(("Khác", "Chuyển đổi số", "Hạ tầng"))
                parsed["group"] = None
            else:
                row["status"] = rng.choice(("Xong", "Chưa thực hiện", "Hoàn thành 80%"))
                parsed["status"] = None
                row["completed_on"] = parsed["completed_on"] = None
        elif label == "T-C2:year":
            row["year_assigned"] = parsed["year_assigned"] = rng.choice((2019, 2021, 2031, 2035))
        elif label == "T-C2:completed_without_status":
            not_done = OVERDUE if row["due_date"] and row["due_date"] < self.month_end else None
            status = not_done or rng.choice((IN_PROGRESS, RECURRING))
            row["status"] = parsed["status"] = status
            day = self.month_end - timedelta(days=rng.randint(0, 20))
            row["completed_on"] = parsed["completed_on"] = day
        elif label == "T-C2:missing_completion":
            row["status"] = parsed["status"] = DONE
            row["completed_on"] = parsed["completed_on"] = None
        elif label == "T-C2:after_month":
            row["status"] = parsed["status"] = DONE
            day = self.month_end + timedelta(days=rng.randint(1, 40))
            row["completed_on"] = parsed["completed_on"] = day
        elif label == "T-K1:unreadable_date":
            due = row["due_date"] or self.month_end
            row["due_date"] = rng.choice(
                (f"31/02/{due.year}", f"Quý {(due.month - 1) // 3 + 1}/{due.year}",
                 f"{due:%d/%m/%y}", f"tháng {due.month}/{due.year}")
            )  # fmt: skip
            parsed["due_date"] = None
        elif label == "T-L2":
            # Past due, not completed, still "in progress".
            due = _month_end(self.month - timedelta(days=rng.randint(40, 300)))
            row["due_date"] = parsed["due_date"] = due
            row["status"] = parsed["status"] = IN_PROGRESS
            row["completed_on"] = parsed["completed_on"] = None
        else:  # pragma: no cover - checked up front
            raise AssertionError(label)


def _header_text(header: str, style: str) -> str:
    if style == "no_diacritics":
        return _strip_marks(header)
    if style == "upper":
        return header.upper()
    return header


@functools.cache
def _province_name(province_code: str) -> str:
    names = {p.code: p.name for p in admin_units.current_provinces()}
    if province_code not in names:
        raise ValueError(f"{province_code!r} is not a current province code")
    return names[province_code]


def generate_task_workbook(
    province_code: str,
    month: date,
    *,
    seed: int = 6,
    count: int = 40,
    defect_rate: float = 0.1,
    defects: Iterable[str] | None = None,
    options: WorkbookOptions | None = None,
    omit: Sequence[str] = (),
) -> TaskWorkbookDelivery:
    """Make the workbook of ``province_code`` for the month holding ``month``.

    Args:
        province_code: a current 2-digit province code.
        month: any day of the report month.
        seed: the same seed (and arguments) gives the same tasks, defects and bytes.
        count: tasks in the province's universe (those assigned by the month are reported).
        defect_rate: the chance a task row carries one defect from ``defects`` (default:
            every key of ``DEFECTS``).
        options: the layout.
        omit: task codes left out of the snapshot (to make a T-S2 gap).
    """
    options = options or WorkbookOptions()
    labels_pool = tuple(DEFECTS) if defects is None else tuple(defects)
    unknown = sorted(set(labels_pool) - DEFECTS.keys())
    if unknown:
        raise ValueError(f"unknown defect labels: {unknown}; known: {sorted(DEFECTS)}")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError(f"defect_rate must be within [0, 1], not {defect_rate}")
    month = month.replace(day=1)
    month_end = _month_end(month)
    rng = random.Random(f"workbook:{province_code}:{month:%Y%m}:{seed}")
    planter = _Planter(rng, month)

    # (typed row, parsed values, defect label)
    entries: list[tuple[dict[str, Any], dict[str, Any], str | None]] = []
    tasks = [t for t in task_universe(province_code, seed=seed, count=count)
             if t.assigned <= month_end and t.code not in omit]  # fmt: skip
    for task in tasks:
        row = _snapshot_row(task, month_end)
        parsed = dict(row)
        label = rng.choice(labels_pool) if labels_pool and rng.random() < defect_rate else None
        if label in ("T-K1:identical", "T-K1:conflict"):
            entries.append((row, parsed, None if label == "T-K1:identical" else label))
            twin, twin_parsed = dict(row), dict(parsed)
            if label == "T-K1:conflict":
                twin["content"] = twin_parsed["content"] = row["content"] + " (bổ sung)"
            entries.append((twin, twin_parsed, label))
            continue
        if label is not None:
            planter.plant(label, row, parsed)
        entries.append((row, parsed, label))
    return _write(province_code, month, options, rng, entries, tuple(t.code for t in tasks))


def _write(
    province_code: str,
    month: date,
    options: WorkbookOptions,
    rng: random.Random,
    entries: list[tuple[dict[str, Any], dict[str, Any], str | None]],
    task_codes: tuple[str, ...],
) -> TaskWorkbookDelivery:
    fields = [f for f, h in HEADERS.items() if h != options.missing_header]
    if options.shuffle_headers:
        rng.shuffle(fields)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = options.sheet_name
    if options.cover_sheet:
        cover = workbook.create_sheet("Hướng dẫn", 0)
        cover["A1"] = "Hướng dẫn điền biểu mẫu báo cáo tiến độ Đề án 06"
    width = len(fields)
    titles = (
        f"ỦY BAN NHÂN DÂN {_province_name(province_code).upper()}",
        f"BÁO CÁO TIẾN ĐỘ THỰC HIỆN NHIỆM VỤ ĐỀ ÁN 06 THÁNG {month:%m/%Y}",
    )
    for number, title in enumerate(titles, start=1):
        sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=width)
        sheet.cell(number, 1, title)
    sheet.append([])
    sheet.append([_header_text(HEADERS[f], options.header_style) for f in fields])

    labels: list[TaskLabel] = []
    current = _TITLE_ROWS + 1  # the header row
    blank_inside = (
        rng.randrange(1, len(entries)) if options.blank_rows and len(entries) > 1 else None
    )
    stt = 0
    for index, (row, parsed, label) in enumerate(entries):
        if index == blank_inside:
            sheet.append([])  # a row the file does not hold at all
            current += 1
            labels.append(TaskLabel(current, None, "blank", DROPPED))
        stt += 1
        cells = []
        for f in fields:
            value = stt if f == "stt" else row.get(f)
            if isinstance(value, date) and rng.random() < options.dates_as_text:
                value = f"{value:%d/%m/%Y}"
            elif isinstance(value, date):
                value = datetime(value.year, value.month, value.day)
            cells.append(value)
        sheet.append(cells)
        current += 1
        for column, value in enumerate(cells, start=1):
            if isinstance(value, datetime):
                sheet.cell(current, column).number_format = "DD/MM/YYYY"
        expected = CLEAN if label is None else DEFECTS[label]
        labels.append(TaskLabel(current, row["task_code"], label, expected, dict(parsed)))
    remaining = options.blank_rows - (1 if blank_inside is not None else 0)
    if options.totals_row:
        totals: list[Any] = [None] * width
        # "Tổng cộng" in the first column that is not the task code (the row has no code).
        label_at = next(i for i, f in enumerate(fields) if f != "task_code")
        totals[label_at] = "Tổng cộng"
        if "content" in fields and fields.index("content") != label_at:
            totals[fields.index("content")] = f"{stt} nhiệm vụ"
        sheet.append(totals)
        current += 1
        labels.append(TaskLabel(current, None, "totals", DROPPED))
    for _ in range(max(remaining, 0)):
        # A blank row at the bottom counts only if the file holds it: one blank cell.
        sheet.append([" "])
        current += 1
        labels.append(TaskLabel(current, None, "blank", DROPPED))

    out = io.BytesIO()
    workbook.save(out)
    data = _stable_bytes(out.getvalue(), datetime.combine(_month_end(month), time(17)))
    batch: list[BatchExpectation] = []
    if options.missing_header and options.missing_header != HEADERS["stt"]:
        batch.append(BatchExpectation("T-S1", "hold", f"header {options.missing_header} missing"))
    return TaskWorkbookDelivery(
        province_code=province_code,
        month=month,
        name=task_workbook_name(province_code, month),
        data=data,
        labels=tuple(labels),
        batch=tuple(batch),
        task_codes=task_codes,
    )


def _stable_bytes(data: bytes, when: datetime) -> bytes:
    """The workbook with its save time and zip entry times set to ``when``: the same
    arguments give the same bytes (openpyxl stamps the time of saving)."""
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp, content
                )
            entry = zipfile.ZipInfo(info.filename, date_time=when.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, content)
    return out.getvalue()


def generate_task_series(
    province_code: str,
    first_month: date,
    months: int,
    *,
    seed: int = 6,
    count: int = 40,
    defect_rate: float = 0.1,
    defects: Iterable[str] | None = None,
    options: WorkbookOptions | None = None,
    drop_task_in: int | None = None,
    resend: int | None = None,
) -> list[TaskWorkbookDelivery]:
    """Consecutive monthly workbooks of one province, in the order they arrive.

    Args:
        drop_task_in: index of a month (≥ 1) whose workbook leaves out one task the month
            before reported (T-S2 holds that workbook).
        resend: index of an earlier month whose workbook is sent again after the last one
            (T-L1 holds the re-sent one).
    """
    if drop_task_in is not None and not 1 <= drop_task_in < months:
        raise ValueError("drop_task_in must name a month after the first")
    if resend is not None and not 0 <= resend < months - 1:
        raise ValueError("resend must name a month before the last")
    defect_pool = tuple(DEFECTS) if defects is None else tuple(defects)
    deliveries: list[TaskWorkbookDelivery] = []
    month = first_month.replace(day=1)
    for index in range(months):
        omit: tuple[str, ...] = ()
        if index == drop_task_in:
            omit = (deliveries[-1].task_codes[len(deliveries[-1].task_codes) // 2],)
        delivery = generate_task_workbook(
            province_code, month, seed=seed, count=count, defect_rate=defect_rate,
            defects=defect_pool, options=options, omit=omit,
        )  # fmt: skip
        if omit:
            delivery = replace(
                delivery,
                batch=(
                    *delivery.batch,
                    BatchExpectation("T-S2", "hold", f"task {omit[0]} of last month missing"),
                ),
            )
        deliveries.append(delivery)
        month = _month_end(month) + timedelta(days=1)
    if resend is not None:
        older = deliveries[resend]
        deliveries.append(
            replace(
                older,
                batch=(
                    *older.batch,
                    BatchExpectation(
                        "T-L1", "hold", f"{older.month:%m/%Y} re-sent after a newer month"
                    ),
                ),
            )
        )
    return deliveries
