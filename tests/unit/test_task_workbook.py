"""Reading monthly Project 06 task workbooks (SOURCES.md §4) from real XLSX files."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from lienthong.p06_tasks.workbook import (
    GROUPS,
    HEADERS,
    REQUIRED_HEADERS,
    STATUSES,
    CanonicalFix,
    TaskWorkbookError,
    canonical_group,
    canonical_status,
    read_task_workbook,
)

DOCUMENTED = list(HEADERS.values())


def workbook_bytes(
    rows: list[list[Any]],
    *,
    header: list[str] | None = None,
    title: bool = True,
    sheet: str = "Nhiem vu",
    other_sheets: tuple[str, ...] = (),
    header_below: list[str] | None = None,
) -> bytes:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    ws.title = sheet
    for other in other_sheets:
        extra = workbook.create_sheet(other)
        extra["A1"] = "Hướng dẫn điền biểu"
    width = len(header or DOCUMENTED)
    if title:
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
        ws.cell(1, 1, "ỦY BAN NHÂN DÂN TỈNH LÀO CAI")
        ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
        ws.cell(2, 1, "BÁO CÁO TIẾN ĐỘ NHIỆM VỤ ĐỀ ÁN 06 - THÁNG 03/2026")
        ws.append([])
    ws.append(header or DOCUMENTED)
    if header_below:
        ws.append(header_below)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def task(code: str, **values: Any) -> list[Any]:
    base = {
        "STT": 1,
        "Mã nhiệm vụ": code,
        "Nhóm nhiệm vụ": "Dữ liệu",
        "Nội dung": "Làm sạch dữ liệu dân cư",
        "Năm giao": 2024,
        "Hạn hoàn thành": datetime(2026, 6, 30),
        "Trạng thái": "Đang thực hiện",
        "Ngày hoàn thành": None,
        "Đơn vị chủ trì": "Công an tỉnh",
    }
    base.update({HEADERS.get(k, k): v for k, v in values.items()})
    return [base[h] for h in DOCUMENTED]


def read(data: bytes) -> Any:
    return read_task_workbook(data, name="p06_tasks_15_202603.xlsx")


def test_a_clean_workbook(tmp_path: Path) -> None:
    path = tmp_path / "p06_tasks_15_202603.xlsx"
    path.write_bytes(
        workbook_bytes(
            [
                task("NV06-001"),
                task(
                    "NV06-002",
                    status="Đã hoàn thành",
                    completed_on=datetime(2025, 11, 20),
                    group="Thể chế",
                    year_assigned=2023,
                ),
            ]
        )
    )
    result = read_task_workbook(path, name=path.name)
    facts = result.facts
    assert facts.sheet == "Nhiem vu"
    assert facts.header_rows == (4,)
    assert facts.missing_headers == ()
    assert facts.extra_headers == ()
    assert facts.title == (
        "ỦY BAN NHÂN DÂN TỈNH LÀO CAI",
        "BÁO CÁO TIẾN ĐỘ NHIỆM VỤ ĐỀ ÁN 06 - THÁNG 03/2026",
    )
    assert facts.title_month == date(2026, 3, 1)
    assert facts.row_count == 2
    first, second = result.rows
    assert first.row == 5 and second.row == 6
    assert first.task_code == "NV06-001"
    assert first.group == "Dữ liệu" and first.status == "Đang thực hiện"
    assert first.year_assigned == 2024
    assert first.due_date == date(2026, 6, 30)
    assert first.completed_on is None
    assert first.fixes == () and first.unreadable == {}
    assert first.typed["Hạn hoàn thành"] == "2026-06-30"
    assert first.typed["Mã nhiệm vụ"] == "NV06-001"
    assert second.completed_on == date(2025, 11, 20)
    assert second.status == "Đã hoàn thành"


def test_header_in_another_order_without_diacritics_and_in_other_case() -> None:
    folded = ["stt", "MA NHIEM VU", "Noi dung", "nhom  nhiem vu", "Trang thai", "NĂM GIAO",
              "Ngay hoan\nthanh", "Han hoan thanh", "Don vi chu tri", "Ghi chú"]  # fmt: skip
    order = [0, 1, 3, 2, 6, 4, 7, 5, 8]  # documented index of each column above
    row = task("NV-9", status="da hoan thanh", completed_on="05/01/2026")
    data = workbook_bytes([[row[i] for i in order] + ["ghi chú"]], header=folded)
    result = read(data)
    assert result.facts.missing_headers == ()
    assert result.facts.extra_headers == ("Ghi chú",)
    only = result.rows[0]
    assert only.task_code == "NV-9"
    assert only.status == "Đã hoàn thành"
    assert only.completed_on == date(2026, 1, 5)
    assert only.extra == {"Ghi chú": "ghi chú"}
    assert only.typed["Trạng thái"] == "da hoan thanh"


def test_missing_required_headers_are_named() -> None:
    header = [h for h in DOCUMENTED if h not in ("Trạng thái", "Năm giao")]
    data = workbook_bytes([["x"] * len(header)], header=header)
    facts = read(data).facts
    assert facts.missing_headers == ("Năm giao", "Trạng thái")


def test_no_header_row_at_all() -> None:
    data = workbook_bytes([["a", "b"]], header=["Cột 1", "Cột 2"])
    result = read(data)
    assert result.facts.header_rows == ()
    assert result.facts.missing_headers == REQUIRED_HEADERS
    assert result.rows == ()


def test_two_row_header_under_merged_cells() -> None:
    top = [h if h not in ("Hạn hoàn thành", "Ngày hoàn thành") else "Thời gian" for h in DOCUMENTED]
    below = [h if h in ("Hạn hoàn thành", "Ngày hoàn thành") else None for h in DOCUMENTED]
    result = read(workbook_bytes([task("NV-1", due_date="30/06/2026")], header=top,
                                 header_below=below))  # fmt: skip
    assert result.facts.header_rows == (4, 5)
    assert result.facts.missing_headers == ()
    assert result.rows[0].due_date == date(2026, 6, 30)
    assert result.rows[0].row == 6


def test_sheet_choice() -> None:
    # Named with diacritics among other sheets.
    data = workbook_bytes([task("A")], sheet="NHIỆM VỤ", other_sheets=("Hướng dẫn",))
    assert read(data).facts.sheet == "NHIỆM VỤ"
    # The only sheet, whatever its name.
    assert read(workbook_bytes([task("A")], sheet="Sheet1")).rows[0].task_code == "A"
    # No named sheet and several: the one with the header.
    workbook = openpyxl.load_workbook(io.BytesIO(workbook_bytes([task("B")], sheet="Báo cáo")))
    workbook.move_sheet(workbook.create_sheet("Bìa"), offset=-1)
    out = io.BytesIO()
    workbook.save(out)
    result = read(out.getvalue())
    assert result.facts.sheet == "Báo cáo"
    assert result.facts.sheet_names == ("Bìa", "Báo cáo")
    assert result.rows[0].task_code == "B"


def test_blank_totals_and_note_rows_are_dropped_and_counted() -> None:
    rows = [
        ["I", None, None, "NHÓM THỂ CHẾ", None, None, None, None, None],
        task("NV-1"),
        [None] * 9,
        task("NV-2", lead_agency="Công an tỉnh"),
        ["", "  ", None, None, None, None, None, None, None],
        ["Tổng cộng", None, None, "2 nhiệm vụ", None, None, None, None, None],
        [None, None, None, None, None, None, None, None, "Người lập biểu"],
        [None, None, "Tong so: 2"],
    ]
    result = read(workbook_bytes(rows))
    facts = result.facts
    assert [row.task_code for row in result.rows] == ["NV-1", "NV-2"]
    assert (facts.blank_rows, facts.totals_rows, facts.note_rows) == (2, 2, 2)
    assert [(d.row, d.reason) for d in facts.dropped] == [
        (5, "note"), (7, "blank"), (9, "blank"), (10, "totals"), (11, "note"), (12, "totals"),
    ]  # fmt: skip
    assert facts.dropped[3].text == "Tổng cộng | 2 nhiệm vụ"


def test_a_totals_row_whose_label_falls_in_the_task_code_column_is_dropped() -> None:
    # Headers in any order (SOURCES.md §4): with the task code as the first column, the
    # totals row's label, typed in the row's first cell and merged across, is in that column.
    header = ["Mã nhiệm vụ", *(h for h in DOCUMENTED if h != "Mã nhiệm vụ")]

    def first_code(row: list[Any]) -> list[Any]:
        values = dict(zip(DOCUMENTED, row, strict=True))
        return [values[h] for h in header]

    totals = [None] * 9
    totals[0], totals[3] = "Tổng cộng:", "2 nhiệm vụ"
    rows = [first_code(task("NV-1")), first_code(task("NV-2")), totals, ["TỔNG SỐ: 2"]]
    result = read(workbook_bytes(rows, header=header))
    assert [row.task_code for row in result.rows] == ["NV-1", "NV-2"]
    assert result.facts.totals_rows == 2 and result.facts.duplicate_task_codes == ()
    assert [(d.row, d.reason, d.text) for d in result.facts.dropped] == [
        (7, "totals", "Tổng cộng: | 2 nhiệm vụ"),
        (8, "totals", "TỔNG SỐ: 2"),
    ]


def test_a_row_without_task_code_but_with_data_is_kept() -> None:
    result = read(workbook_bytes([task(None)]))  # type: ignore[arg-type]
    assert len(result.rows) == 1 and result.rows[0].task_code is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 4, 30), date(2026, 4, 30)),
        (datetime(2026, 4, 30, 17, 45), date(2026, 4, 30)),
        (date(2026, 4, 30), date(2026, 4, 30)),
        ("30/04/2026", date(2026, 4, 30)),
        ("3/4/2026", date(2026, 4, 3)),
        (" 30-04-2026 ", date(2026, 4, 30)),
        ("30.04.2026", date(2026, 4, 30)),
        ("30/04/2026 08:00", date(2026, 4, 30)),
        ("2026-04-30", date(2026, 4, 30)),
        (46142, date(2026, 4, 30)),  # a date cell that lost its format: Excel's serial
        (None, None),
        ("", None),
    ],
)
def test_date_variants(value: Any, expected: date | None) -> None:
    row = read(workbook_bytes([task("NV-1", due_date=value)])).rows[0]
    assert row.due_date == expected
    assert "due_date" not in row.unreadable


@pytest.mark.parametrize("value", ["31/02/2026", "30/13/2026", "tháng 6/2026", "Q2 2026", 2026,
                                   "04/30/2026x", True])  # fmt: skip
def test_unreadable_dates_are_kept_as_typed(value: Any) -> None:
    row = read(workbook_bytes([task("NV-1", completed_on=value)])).rows[0]
    assert row.completed_on is None
    assert row.unreadable["completed_on"] == (str(value) if not isinstance(value, bool) else "True")


@pytest.mark.parametrize(
    ("value", "expected", "unreadable"),
    [(2024, 2024, False), (2024.0, 2024, False), ("2025", 2025, False), (" 2025 ", 2025, False),
     ("năm 2025", None, True), (2024.5, None, True), (None, None, False), (2019, 2019, False)],
)  # fmt: skip
def test_year_assigned(value: Any, expected: int | None, unreadable: bool) -> None:
    row = read(workbook_bytes([task("NV-1", year_assigned=value)])).rows[0]
    assert row.year_assigned == expected
    assert ("year_assigned" in row.unreadable) is unreadable


def test_group_and_status_fixes_and_quarantines() -> None:
    rows = [
        task("NV-1", group="ha tang cntt", status="DANG THUC HIEN"),
        task("NV-2", group="Dịch vụ công trực tuyến", status="Quá hạn"),
        task("NV-3", group="Khác", status="Xong"),
        task("NV-4", group=unicodedata.normalize("NFD", "Nguồn lực"), status=" Quá  hạn "),
    ]
    one, two, three, four = read(workbook_bytes(rows)).rows
    assert (one.group, one.status) == ("Hạ tầng CNTT", "Đang thực hiện")
    assert one.fixes == (
        CanonicalFix("group", "ha tang cntt", "Hạ tầng CNTT"),
        CanonicalFix("status", "DANG THUC HIEN", "Đang thực hiện"),
    )
    assert two.fixes == () and two.unreadable == {}
    assert (three.group, three.status) == (None, None)
    assert three.unreadable == {"group": "Khác", "status": "Xong"}
    assert (four.group, four.status) == ("Nguồn lực", "Quá hạn")
    assert {fix.field for fix in four.fixes} == {"group", "status"}


def test_duplicate_task_codes_are_reported() -> None:
    facts = read(workbook_bytes([task("A"), task("B"), task("A")])).facts
    assert facts.duplicate_task_codes == ("A",)


def test_numeric_task_codes_read_as_text() -> None:
    row = read(workbook_bytes([task(101)])).rows[0]  # type: ignore[arg-type]
    assert row.task_code == "101"


@pytest.mark.parametrize(
    ("typed", "group"),
    [("the che", "Thể chế"), ("THỂ CHẾ", "Thể chế"), ("Ha Tang CNTT", "Hạ tầng CNTT"),
     ("dich vu cong truc tuyen", "Dịch vụ công trực tuyến"), ("DU LIEU", "Dữ liệu"),
     ("nguồn  lực", "Nguồn lực"), ("Dữ liệu dân cư", None), ("", None), (None, None)],
)  # fmt: skip
def test_canonical_group(typed: str | None, group: str | None) -> None:
    assert canonical_group(typed) == group


@pytest.mark.parametrize(
    ("typed", "status"),
    [("da hoan thanh", "Đã hoàn thành"), ("ĐÃ HOÀN THÀNH", "Đã hoàn thành"),
     ("thuc hien thuong xuyen", "Thực hiện thường xuyên"), ("Dang thuc hien", "Đang thực hiện"),
     ("qua han", "Quá hạn"), ("Hoàn thành", None), ("đang làm", None)],
)  # fmt: skip
def test_canonical_status(typed: str | None, status: str | None) -> None:
    assert canonical_status(typed) == status


def test_canonical_forms_are_themselves() -> None:
    assert all(canonical_group(group) == group for group in GROUPS)
    assert all(canonical_status(status) == status for status in STATUSES)


def test_not_a_workbook() -> None:
    with pytest.raises(TaskWorkbookError, match=r"p06_tasks_15_202603\.xlsx"):
        read(b"STT,Ma nhiem vu\n1,NV\n")


def _with_part(data: bytes, part: str, change: Any) -> bytes:
    """The workbook ``data`` with the text of one of its parts changed by ``change``."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == part:
                content = change(content.decode()).encode()
            target.writestr(item, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("part", "change"),
    [
        # An empty <fill/> (some exporters write one): openpyxl raises TypeError.
        ("xl/styles.xml", lambda text: re.sub(r"<fill>.*?</fill>", "<fill/>", text, count=1)),
        # Broken XML in the sheet: a SyntaxError (ParseError), raised while rows are read.
        ("xl/worksheets/sheet1.xml", lambda text: text.replace("</sheetData>", "</sheetDat>")),
        # A number cell holding text: a ValueError, raised while rows are read.
        ("xl/worksheets/sheet1.xml", lambda text: re.sub(r"<v>2024</v>", "<v>20x4</v>", text)),
    ],
    ids=["empty fill style", "broken sheet XML", "text in a number cell"],
)
def test_a_workbook_with_a_malformed_part_is_not_readable(part: str, change: Any) -> None:
    data = _with_part(workbook_bytes([task("NV-1"), task("NV-2")]), part, change)
    with pytest.raises(TaskWorkbookError, match=r"p06_tasks_15_202603\.xlsx: not a readable"):
        read(data)


def test_wrong_sheet_dimension_does_not_cut_rows() -> None:
    # Some writers record the dimension as A1; the reader must still see every row.
    data = workbook_bytes([task(f"NV-{i}") for i in range(5)])
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text = content.decode()
                start = text.index("<dimension ref=")
                end = text.index("/>", start) + 2
                content = (text[:start] + '<dimension ref="A1"/>' + text[end:]).encode()
            target.writestr(item, content)
    assert len(read(out.getvalue()).rows) == 5
