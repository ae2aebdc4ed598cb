"""Reading dossier export CSVs and their manifests (SOURCES.md §3) from real bytes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import pickle
import random
import tracemalloc
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path

import pytest

from lienthong.dossiers.export_file import (
    DOCUMENTED_COLUMNS,
    DossierExportReader,
    DossierRow,
    ExportFileError,
)
from lienthong.dossiers.extraction import dossier_items
from lienthong.dossiers.manifest import ManifestError, parse_manifest
from lienthong.pipeline.extraction import pickled_chunk
from lienthong.text.encodings import encode
from lienthong_demo.dossier_files import DeliveryOptions, generate_dossier_delivery

ENCODINGS = ("utf-8", "utf-8-sig", "windows-1258", "tcvn3")

# Content every one of the four encodings can hold (TCVN3 has no capitals with a tone mark),
# with the cases CSV makes hard: a delimiter, a quote and a line break inside fields.
ROWS: list[dict[str, str]] = [
    {
        "dossier_id": "H01.24-260301-000001",
        "procedure_code": "1.001612",
        "procedure_name": "Đăng ký thường trú",
        "applicant_personal_id": "001203012345",
        "applicant_name": "Nguyễn Thị Hà",
        "commune_code": "00004",
        "channel": "online",
        "received_at": "2026-03-01T08:15:00Z",
        "due_at": "2026-03-08T08:15:00Z",
        "completed_at": "",
        "status": "processing",
    },
    {
        "dossier_id": "H01.24-260301-000002",
        "procedure_code": "2.000986",
        "procedure_name": "Cấp phiếu lý lịch tư pháp; bản sao",
        "applicant_personal_id": "079190004321",
        "applicant_name": "Trần Văn Hùng",
        "commune_code": "00008",
        "channel": "offline",
        "received_at": "2026-03-01T09:00:00Z",
        "due_at": "2026-03-11T09:00:00Z",
        "completed_at": "2026-03-05T10:30:00Z",
        "status": "completed",
    },
    {
        "dossier_id": "H01.24-260301-000003",
        "procedure_code": "1.001193",
        "procedure_name": 'Đăng ký khai sinh, "lưu động"\nngoài giờ',
        "applicant_personal_id": "001301000777",
        "applicant_name": "Đặng Thu Thủy",
        "commune_code": "00012",
        "channel": "online",
        "received_at": "2026-03-01T10:00:00Z",
        "due_at": "2026-03-04T10:00:00Z",
        "completed_at": "",
        "status": "received",
    },
    {
        "dossier_id": "H01.24-260301-000004",
        "procedure_code": "1.000656",
        "procedure_name": "Chứng thực bản sao từ bản chính",
        "applicant_personal_id": "036185000123",
        "applicant_name": "Huỳnh Ngọc Yến",
        "commune_code": "00015",
        "channel": "offline",
        "received_at": "2026-03-01T11:00:00Z",
        "due_at": "2026-03-02T11:00:00Z",
        "completed_at": "2026-03-01T15:00:00Z",
        "status": "rejected",
    },
]


def make_csv(
    rows: list[dict[str, str]],
    *,
    encoding: str = "utf-8",
    delimiter: str = ",",
    columns: list[str] | None = None,
    header: list[str] | None = None,
    line_end: str = "\r\n",
    decompose_all: bool = False,
) -> bytes:
    columns = list(columns or DOCUMENTED_COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=line_end)
    writer.writerow(header or columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    return encode(out.getvalue(), encoding, decompose_all=decompose_all)


def read(data: bytes, claimed: str | None = None) -> tuple[list[DossierRow], DossierExportReader]:
    reader = DossierExportReader(io.BytesIO(data), name="dossiers_01_20260301.csv",
                                 claimed_encoding=claimed)  # fmt: skip
    rows = list(reader)
    return rows, reader


def expected_values(row: dict[str, str]) -> dict[str, str | None]:
    return {column: (row[column] or None) for column in DOCUMENTED_COLUMNS}


# ---------------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("order_seed", [None, 1, 2])
def test_same_rows_from_every_encoding_delimiter_and_column_order(
    encoding: str, delimiter: str, order_seed: int | None
) -> None:
    columns = list(DOCUMENTED_COLUMNS)
    if order_seed is not None:
        random.Random(order_seed).shuffle(columns)
    data = make_csv(ROWS, encoding=encoding, delimiter=delimiter, columns=columns)
    rows, reader = read(data, claimed="utf-8")

    assert [row.values for row in rows] == [expected_values(row) for row in ROWS]
    assert [row.line for row in rows] == [2, 3, 4, 6]  # row 3's name spans two lines
    assert all(row.defect is None and row.extra == {} for row in rows)
    for row in rows:
        for value in row.values.values():
            assert value is None or unicodedata.is_normalized("NFC", value)
    facts = reader.facts
    assert facts.complete
    assert facts.encoding == encoding
    assert facts.encoding_certain
    assert facts.encoding_agrees is (encoding in ("utf-8", "utf-8-sig"))
    assert facts.delimiter == delimiter
    assert facts.header == tuple(columns)
    assert facts.missing_columns == ()
    assert facts.extra_columns == ()
    assert facts.row_count == 4
    assert facts.malformed_rows == 0
    assert facts.sha256 == hashlib.sha256(data).hexdigest()
    assert facts.byte_count == len(data)
    assert not facts.truncated
    assert facts.ends_with_newline
    assert facts.judged_words > 0 and facts.plausible_words == facts.judged_words


def test_windows_1258_with_every_tone_as_a_combining_mark() -> None:
    data = make_csv(ROWS, encoding="windows-1258", decompose_all=True, delimiter=";")
    rows, reader = read(data)
    assert reader.facts.encoding == "windows-1258"
    assert [row.values for row in rows] == [expected_values(row) for row in ROWS]


def test_tcvn3_capitals_with_tone_marks_come_back_in_all_capital_words() -> None:
    # ABC all-capitals fonts put toned capitals on the small letters' bytes.
    # (decode_tcvn3 needs two other capitals in the word to read a toned letter as capital:
    # "HÀ" comes back "Hà".)
    row = dict(ROWS[0], applicant_name="NGUYỄN THỊ HUYỀN", procedure_name="ĐĂNG KÝ THƯỜNG TRÚ")
    rows, reader = read(make_csv([row], encoding="tcvn3"))
    assert reader.facts.encoding == "tcvn3"
    assert rows[0].values["applicant_name"] == "NGUYỄN THỊ HUYỀN"
    assert rows[0].values["procedure_name"] == "ĐĂNG KÝ THƯỜNG TRÚ"


def test_tcvn3_names_starting_with_a_toned_capital_come_back_capital() -> None:
    # TCVN3 has no toned capitals: "Ánh" was written with the byte of "ánh". Among Title-case
    # words it is a Title word; text with small words (a procedure's name) stays as it is.
    row = dict(
        ROWS[0], applicant_name="Nguyễn Thị Ánh Tuyết", procedure_name="Cấp đổi ảnh thẻ ở xã"
    )
    rows, reader = read(make_csv([row], encoding="tcvn3"))
    assert reader.facts.encoding == "tcvn3"
    assert rows[0].values["applicant_name"] == "Nguyễn Thị Ánh Tuyết"
    assert rows[0].values["procedure_name"] == "Cấp đổi ảnh thẻ ở xã"


@pytest.mark.parametrize("encoding", ["windows-1258", "tcvn3"])
def test_a_short_file_with_one_accented_letter(encoding: str) -> None:
    row = {column: "" for column in DOCUMENTED_COLUMNS}
    row.update(dossier_id="X1", applicant_name="Lê Hoa", status="received")
    rows, reader = read(make_csv([row], encoding=encoding))
    assert reader.facts.encoding == encoding
    assert rows[0].values["applicant_name"] == "Lê Hoa"


@pytest.mark.parametrize("encoding", ["windows-1258", "tcvn3", "utf-8"])
def test_accented_text_after_a_long_ascii_start_is_decided_when_it_comes(encoding: str) -> None:
    ascii_row = dict(ROWS[0], procedure_name="Dang ky thuong tru", applicant_name="Nguyen Van A")
    rows = [dict(ascii_row, dossier_id=f"A{i:06d}") for i in range(12_000)]  # > 1 MiB
    rows.append(dict(ROWS[1], dossier_id="LAST"))
    data = make_csv(rows, encoding=encoding)
    assert len(data) > 1 << 20
    reader = DossierExportReader(io.BytesIO(data), name="late.csv", claimed_encoding="utf-8")
    assert reader.facts.encoding is None  # nothing to decide on in the first megabyte
    read_rows = list(reader)
    assert read_rows[-1].values["applicant_name"] == "Trần Văn Hùng"
    assert read_rows[-1].values["procedure_name"] == "Cấp phiếu lý lịch tư pháp; bản sao"
    assert reader.facts.encoding == encoding
    assert reader.facts.row_count == 12_001


def test_all_ascii_file() -> None:
    row = dict(ROWS[0], procedure_name="Dang ky", applicant_name="Nguyen Van A")
    rows, reader = read(make_csv([row]), claimed="windows-1258")
    facts = reader.facts
    assert facts.encoding == "ascii"
    assert facts.encoding_agrees
    assert rows[0].values["applicant_name"] == "Nguyen Van A"


def test_encoding_is_known_before_the_rows_are_read() -> None:
    data = make_csv(ROWS, encoding="tcvn3")
    reader = DossierExportReader(io.BytesIO(data), name="x.csv", claimed_encoding="utf-8")
    facts = reader.facts
    assert not facts.complete
    assert facts.encoding == "tcvn3"
    assert facts.encoding_agrees is False
    assert facts.missing_columns == ()


# ---------------------------------------------------------------------------------------------
# Header
# ---------------------------------------------------------------------------------------------


def test_header_names_match_whatever_case_and_spacing() -> None:
    header = [
        " Dossier_ID ", "PROCEDURE_CODE", "procedure name", "Applicant-Personal-ID",
        "applicant_name", "Commune_Code", "channel", "received_at", "due_at", "completed_at",
        "Status",
    ]  # fmt: skip
    rows, reader = read(make_csv(ROWS, header=header))
    assert reader.facts.missing_columns == ()
    assert reader.facts.header[0] == "Dossier_ID"
    assert [row.values for row in rows] == [expected_values(row) for row in ROWS]


def test_missing_extra_and_duplicate_columns() -> None:
    columns = [c for c in DOCUMENTED_COLUMNS if c not in ("due_at", "channel")]
    columns += ["ghi_chú", "status"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in ROWS[:2]:
        writer.writerow([*(row[c] for c in columns[:-2]), "ưu tiên", "duplicate"])
    rows, reader = read(out.getvalue().encode())
    facts = reader.facts
    assert facts.missing_columns == ("channel", "due_at")
    assert facts.extra_columns == ("ghi_chú", "status (column 11)")
    assert facts.duplicate_columns == ("status",)
    assert rows[0].values["status"] == "processing"  # the first status column
    assert rows[0].values["due_at"] is None
    assert rows[0].extra == {"ghi_chú": "ưu tiên", "status (column 11)": "duplicate"}


def test_delimiter_is_sniffed_from_the_header_even_with_commas_in_it() -> None:
    data = 'dossier_id;"procedure_name, tên";status\nA;"x, y";received\n'.encode()
    rows, reader = read(data)
    assert reader.facts.delimiter == ";"
    assert reader.facts.extra_columns == ("procedure_name, tên",)
    assert rows[0].values["dossier_id"] == "A" and rows[0].values["status"] == "received"


# ---------------------------------------------------------------------------------------------
# Rows that are not what the header promises
# ---------------------------------------------------------------------------------------------


def test_rows_with_the_wrong_number_of_fields_are_kept_and_marked() -> None:
    text = (
        "dossier_id,status,applicant_name\n"
        "A1,received,Nguyễn An\n"
        "A2,received\n"
        "A3,received,Lê Bình,surplus,more\n"
        ",,\n"
        "A5,completed,Phạm Chi\n"
    )
    rows, reader = read(text.encode())
    assert [row.line for row in rows] == [2, 3, 4, 5, 6]
    assert rows[0].defect is None
    assert rows[1].defect == "2 fields where the header has 3"
    assert rows[1].values["applicant_name"] is None
    assert rows[2].defect == "5 fields where the header has 3"
    assert rows[2].extra == {"column 4": "surplus", "column 5": "more"}
    assert rows[3].defect is None  # all empty, but a row: rule D-S2 decides
    assert all(value is None for value in rows[3].values.values())
    assert reader.facts.malformed_rows == 2
    assert reader.facts.row_count == 5


def test_blank_lines_are_counted_not_rows_and_whitespace_only_values_are_none() -> None:
    text = "\n\ndossier_id,status\n\nA1,  \n\r\nA2,received\n\n"
    rows, reader = read(text.encode())
    assert [(row.line, row.values["dossier_id"]) for row in rows] == [(5, "A1"), (7, "A2")]
    assert rows[0].values["status"] is None
    assert reader.facts.blank_lines == 5


def test_a_runaway_quote_is_kept_as_one_unreadable_row() -> None:
    body = 'dossier_id,status\nA1,"runaway\n' + "".join(f"B{i},received\n" for i in range(12_000))
    rows, reader = read(body.encode())
    assert rows[0].line == 2
    assert rows[0].defect is not None and rows[0].defect.startswith("unreadable record")
    raw = rows[0].extra["raw"]
    assert raw is not None and raw.startswith('A1,"runaway')
    # Reading goes on after it; every line is in some row.
    lines_in_raw = raw.count("\n")
    assert rows[1].line == 2 + lines_in_raw
    assert rows[-1].values["dossier_id"] == "B11999"
    assert reader.facts.row_count == len(rows)


def test_a_file_ending_inside_a_runaway_quote_is_truncated() -> None:
    # Longer than the csv module's field limit: the parser gives up on the record, and the
    # file's end inside its quote is still a truncation.
    body = 'dossier_id,status\nA1,received\nA2,"' + "y" * 140_000
    rows, reader = read(body.encode())
    assert [row.line for row in rows] == [2, 3]
    assert rows[1].defect is not None
    assert rows[1].defect.startswith("unreadable record")
    assert rows[1].defect.endswith("; file ends inside a quoted field (truncated)")
    assert reader.facts.truncated
    assert reader.facts.truncation == (
        "the file ends inside a quoted field opened on or after line 3"
    )


def test_mixed_encodings_are_read_and_marked() -> None:
    good = make_csv(ROWS[:1], encoding="windows-1258")
    utf8_line = "H2,1.0,Đăng ký,0012,Trần Bình,00004,online,,,,received\r\n".encode()
    rows, reader = read(good + utf8_line)
    assert reader.facts.encoding == "windows-1258"
    assert rows[1].values["applicant_name"] == "Trần Bình"
    assert rows[1].defect is not None and "UTF-8 text in a windows-1258 file" in rows[1].defect
    assert reader.facts.undecodable_fields == 2

    utf8 = make_csv(ROWS[:3], encoding="utf-8")
    legacy_line = encode("H3,1.0,Đăng ký thường trú,0012,Trần Bình,00004,online,,,,received\n",
                         "windows-1258")  # fmt: skip
    rows, reader = read(utf8 + legacy_line)
    assert reader.facts.encoding == "utf-8"
    assert rows[3].values["applicant_name"] == "Trần Bình"
    assert rows[3].defect is not None and "not valid UTF-8, read as windows-1258" in rows[3].defect


def test_decomposed_utf8_is_composed_and_reported() -> None:
    name = unicodedata.normalize("NFD", "Nguyễn Thị Hà")
    rows, _ = read(f"dossier_id,applicant_name\nA1,{name}\n".encode())
    assert rows[0].values["applicant_name"] == "Nguyễn Thị Hà"
    assert rows[0].renormalised == ("applicant_name",)


# ---------------------------------------------------------------------------------------------
# Empty and truncated files
# ---------------------------------------------------------------------------------------------


def test_empty_file() -> None:
    rows, reader = read(b"")
    facts = reader.facts
    assert rows == []
    assert facts.complete and facts.empty
    assert facts.encoding is None and facts.delimiter is None
    assert facts.header == ()
    assert facts.missing_columns == DOCUMENTED_COLUMNS
    assert facts.row_count == 0
    assert facts.sha256 == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_header_only_file(encoding: str) -> None:
    rows, reader = read(make_csv([], encoding=encoding))
    facts = reader.facts
    assert rows == []
    assert facts.complete and not facts.empty
    assert facts.missing_columns == ()
    assert facts.row_count == 0
    assert not facts.truncated


def test_file_truncated_inside_a_quoted_field() -> None:
    data = make_csv(ROWS)
    cut = data[: data.index("lưu động".encode())]
    rows, reader = read(cut)
    assert [row.values["dossier_id"] for row in rows] == [r["dossier_id"] for r in ROWS[:3]]
    assert rows[-1].line == 4
    assert rows[-1].defect == "file ends inside a quoted field (truncated)"
    assert rows[-1].values["procedure_name"] == 'Đăng ký khai sinh, "'  # "" is one quote
    facts = reader.facts
    assert facts.truncated
    assert facts.truncation is not None and "line 4" in facts.truncation
    assert facts.sha256 == hashlib.sha256(cut).hexdigest()


def test_file_truncated_mid_row() -> None:
    data = make_csv(ROWS[:2])
    cut = data[:-40]
    rows, reader = read(cut)
    assert len(rows) == 2
    assert rows[-1].defect == "file ends mid-row (truncated)"
    assert reader.facts.truncated
    assert not reader.facts.ends_with_newline


def test_complete_last_row_without_a_final_line_break_is_not_truncated() -> None:
    data = make_csv(ROWS).rstrip(b"\r\n")
    rows, reader = read(data)
    assert len(rows) == 4 and rows[-1].defect is None
    assert not reader.facts.truncated
    assert not reader.facts.ends_with_newline


def test_utf16_is_refused_with_the_file_name() -> None:
    data = "dossier_id\nA\n".encode("utf-16")
    with pytest.raises(ExportFileError, match=r"dossiers_01_20260301\.csv"):
        read(data)


def test_a_header_the_csv_parser_gives_up_on_is_refused_with_the_file_name() -> None:
    # A quote opened in the header and never closed, longer than the csv module's field limit.
    data = b'dossier_id,"' + b"x" * 200_000 + b"\r\nA\r\n"
    with pytest.raises(ExportFileError, match=r"dossiers_01_20260301\.csv: its header line"):
        read(data)


# ---------------------------------------------------------------------------------------------
# Streaming
# ---------------------------------------------------------------------------------------------


class _GeneratedCsv(io.RawIOBase):
    """A large CSV made on the fly, never held whole in memory."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self._lines = self._make(rows)
        self._buffer = b""

    @staticmethod
    def _make(rows: int):  # type: ignore[no-untyped-def]
        yield make_csv([])
        template = make_csv(ROWS[1:2]).split(b"\r\n", 1)[1]
        for index in range(rows):
            yield template.replace(b"000002", b"%06d" % index)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        while len(self._buffer) < len(buffer):
            chunk = next(self._lines, None)
            if chunk is None:
                break
            self._buffer += chunk
        size = min(len(buffer), len(self._buffer))
        buffer[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size


def _peak_memory_reading(rows: int) -> tuple[int, int]:
    """(rows read, peak bytes allocated while reading a generated file of ``rows``)."""
    tracemalloc.start()
    try:
        reader = DossierExportReader(_GeneratedCsv(rows), name="big.csv")
        count = sum(len(chunk) for chunk in reader.chunks(500))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert reader.facts.row_count == count
    return count, peak


def test_memory_stays_flat_while_streaming_a_large_file() -> None:
    small_rows, small_peak = _peak_memory_reading(4_000)  # under 1 MB of CSV
    large_rows, large_peak = _peak_memory_reading(32_000)  # about 6 MB of CSV
    assert (small_rows, large_rows) == (4_000, 32_000)
    # Eight times the rows, not eight times the memory: only the chunk and buffers are held.
    assert large_peak < small_peak + 512 * 1024, (small_peak, large_peak)
    assert large_peak < 4 * 1024 * 1024


def test_chunks_and_single_use() -> None:
    reader = DossierExportReader(io.BytesIO(make_csv(ROWS)), name="x.csv")
    assert [len(chunk) for chunk in reader.chunks(3)] == [3, 1]
    with pytest.raises(RuntimeError, match=r"x\.csv"):
        list(reader)


def test_packed_rows_cross_to_a_worker_as_the_rows_and_facts_read_here() -> None:
    # Extra and duplicate columns, a short and a long row, decomposed letters made NFC (with
    # what was received), a cut-off last row: every part of a row must survive the crossing.
    columns = [*DOCUMENTED_COLUMNS, "ghi_chú", "status"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for number, row in enumerate(ROWS):
        fields = [*(row[c] for c in DOCUMENTED_COLUMNS), "ưu tiên", "duplicate"]
        writer.writerow(fields[: 5 + number * 4])  # 5, 9, 13 and 13 fields
    text = unicodedata.normalize("NFD", out.getvalue()) + "H01,1.001"
    data = text.encode()
    as_read, read_here = read(data)

    reader = DossierExportReader(io.BytesIO(data), name="dossiers_01_20260301.csv")
    day = datetime(2026, 3, 1).date()
    items = [
        item
        for packed in reader.packed_chunks(2)
        # As a chunk crosses to a worker: pickled, its items built on the other side.
        for item in pickle.loads(
            pickle.dumps(pickled_chunk(packed, partial(dossier_items, day, ("due_at",))))
        ).items()
    ]
    assert [item.row for item in items] == as_read
    assert {(item.file_day, item.missing_columns) for item in items} == {(day, ("due_at",))}
    assert reader.facts == read_here.facts
    assert read_here.facts.malformed_rows == 3 and read_here.facts.truncated
    assert as_read[0].renormalised and as_read[0].received
    assert as_read[-2].extra == {"ghi_chú": "ưu tiên", "status (column 13)": "duplicate"}
    with pytest.raises(RuntimeError, match=r"dossiers_01_20260301\.csv"):
        list(reader.packed_chunks(2))


def test_reading_a_real_file(tmp_path: Path) -> None:
    path = tmp_path / "dossiers_01_20260301.csv"
    path.write_bytes(make_csv(ROWS, encoding="tcvn3", delimiter=";"))
    with path.open("rb") as stream:
        reader = DossierExportReader(stream, name=path.name, claimed_encoding="utf-8")
        rows = list(reader)
    assert [row.values for row in rows] == [expected_values(row) for row in ROWS]


# ---------------------------------------------------------------------------------------------
# Manifests
# ---------------------------------------------------------------------------------------------

MANIFEST = {
    "file": "dossiers_01_20260301.csv",
    "rows": 4,
    "sha256": "AB" * 32,
    "exported_at": "2026-03-01T23:59:00Z",
    "encoding": "utf-8",
}


def test_manifest_is_parsed() -> None:
    manifest = parse_manifest(
        json.dumps({**MANIFEST, "generator": "iGate 3.1"}).encode(), name="m.json"
    )
    assert manifest.name == "m.json"
    assert manifest.file == "dossiers_01_20260301.csv"
    assert manifest.rows == 4
    assert manifest.sha256 == "ab" * 32
    assert manifest.exported_at == datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    assert manifest.encoding == "utf-8"
    assert manifest.extra == {"generator": "iGate 3.1"}
    assert manifest.warnings == ()


def test_manifest_with_bom_offset_and_naive_timestamp() -> None:
    data = json.dumps({**MANIFEST, "exported_at": "2026-03-02T06:59:00+07:00"}).encode()
    manifest = parse_manifest(b"\xef\xbb\xbf" + data, name="m.json")
    assert manifest.exported_at == datetime(2026, 3, 2, 6, 59, tzinfo=timezone(timedelta(hours=7)))
    naive = parse_manifest(
        json.dumps({**MANIFEST, "exported_at": "2026-03-01 23:59:00"}).encode(), name="m.json"
    )
    assert naive.exported_at == datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    assert naive.warnings and "no UTC offset" in naive.warnings[0]


@pytest.mark.parametrize(
    "stamp", ["2026-03-01t23:59:00z", "2026-03-01T23:59:00z", "2026-03-01t23:59:00.1234567Z"]
)
def test_manifest_timestamp_in_lower_case_rfc_3339(stamp: str) -> None:
    # RFC 3339 5.6: "T" and "Z" may be written in lower case.
    data = json.dumps({**MANIFEST, "exported_at": stamp}).encode()
    manifest = parse_manifest(data, name="m.json")
    assert manifest.exported_at.replace(microsecond=0) == datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    assert manifest.warnings == ()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (b"{not json", None, "not JSON"),
        (b"\xff\xfe{", None, "not UTF-8"),
        (b"[1, 2]", None, "not an object"),
        (json.dumps({k: v for k, v in MANIFEST.items() if k != "rows"}).encode(), "rows",
         "missing"),
        (json.dumps({k: v for k, v in MANIFEST.items() if k != "encoding"}).encode(),
         "encoding", "missing"),
        (json.dumps({**MANIFEST, "rows": "4"}).encode(), "rows", "non-negative integer"),
        (json.dumps({**MANIFEST, "rows": -1}).encode(), "rows", "non-negative integer"),
        (json.dumps({**MANIFEST, "rows": True}).encode(), "rows", "non-negative integer"),
        (json.dumps({**MANIFEST, "sha256": "abc"}).encode(), "sha256", "64 hexadecimal"),
        (json.dumps({**MANIFEST, "sha256": 12}).encode(), "sha256", "non-empty string"),
        (json.dumps({**MANIFEST, "exported_at": "yesterday"}).encode(), "exported_at",
         "RFC 3339"),
        (json.dumps({**MANIFEST, "file": ""}).encode(), "file", "non-empty string"),
        (json.dumps({**MANIFEST, "encoding": None}).encode(), "encoding", "non-empty string"),
    ],
)  # fmt: skip
def test_bad_manifests_name_the_file_and_the_field(
    data: bytes, field: str | None, message: str
) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data, name="dossiers_01_20260301.manifest.json")
    error = caught.value
    assert error.manifest == "dossiers_01_20260301.manifest.json"
    assert error.field == field
    assert message in str(error)
    assert "dossiers_01_20260301.manifest.json" in str(error)
    if field:
        assert repr(field) in str(error)


class _ReadFieldByField(DossierExportReader):
    """The reader with every record read by its header's column map (never `_row_in_order`)."""

    def _apply_header(self) -> None:
        super()._apply_header()
        self._in_order = False


def _hand_made_export() -> bytes:
    """A UTF-8 export in the documented order whose rows repeat non-ASCII fields, with what a
    row read as it stands must still notice: decomposed letters, blank fields, bytes that are
    not UTF-8 (twice, each counted), a row short of a field."""
    nfd = unicodedata.normalize("NFD", "Lê Văn Ân")
    lines = [",".join(DOCUMENTED_COLUMNS).encode()]
    for i, (name, procedure) in enumerate(
        [
            ("Nguyễn Thị Hà", "Đăng ký thường trú"),
            ("Nguyễn Thị Hà", "Đăng ký thường trú"),
            (nfd, "Đăng ký thường trú"),
            (nfd, "Cấp phiếu lý lịch tư pháp"),
            ("Tr\xe2n V\xe3n", "Đăng ký thường trú"),  # Windows-1258 bytes in a UTF-8 file
            ("Tr\xe2n V\xe3n", "Đăng ký thường trú"),
            ("   ", "\u00a0"),  # blank, and a field of one no-break space
        ]
    ):
        values = dict(ROWS[0], dossier_id=f"H40-{i:06d}", applicant_name=name)
        values["procedure_name"] = procedure
        encoded = [
            value.encode("latin-1") if "\xe2" in value else value.encode()
            for value in values.values()
        ]
        lines.append(b",".join(encoded))
    lines.append(b",".join(v.encode() for v in list(ROWS[0].values())[:-1]))  # a field short
    return b"\r\n".join(lines) + b"\r\n"


def _generated_export(options: dict) -> bytes:
    """A generated export (every row defect the generator plants) written as ``options`` say."""
    delivery = generate_dossier_delivery(
        "40",
        datetime(2026, 11, 20).date(),
        count=400,
        seed=5,
        defect_rate=0.3,
        options=DeliveryOptions(**options),
    )
    return delivery.csv


@pytest.mark.parametrize(
    "export",
    [
        pytest.param(_hand_made_export, id="hand-made"),
        *(
            pytest.param(partial(_generated_export, options), id=name)
            for name, options in (
                ("utf-8", {}),
                ("utf-8-sig", {"encoding": "utf-8-sig"}),
                ("windows-1258", {"encoding": "windows-1258", "decompose_all": True}),
                ("tcvn3", {"encoding": "tcvn3", "delimiter": ";"}),
                ("truncated", {"truncate": True}),
            )
        ),
    ],
)
def test_rows_in_the_documented_order_read_as_field_by_field(export, monkeypatch) -> None:
    """A file whose columns are the documented ones in order is read a record at a time, and
    a field read once without a problem is not decoded again; the rows and the facts are
    those of reading each field by its header's column map and decoding every field."""
    data = export()
    fast = DossierExportReader(io.BytesIO(data), name="dossiers_40_20261120.csv")
    rows = list(fast)
    assert fast._in_order
    assert fast._decoded  # fields were remembered
    with monkeypatch.context() as patched:
        patched.setattr("lienthong.dossiers.export_file._DECODED_KEPT", 0)
        general = _ReadFieldByField(io.BytesIO(data), name="dossiers_40_20261120.csv")
        expected = list(general)
        assert not general._decoded
    assert rows == expected
    assert fast.facts == general.facts
    assert fast.facts.row_count == len(rows) > 5


def test_the_fields_a_reader_remembers_are_bounded_by_their_text(monkeypatch) -> None:
    """However long a file and its fields, what a reader remembers of the fields it has read
    stays within its bound of characters; the rows are what they would be without it."""
    data = _generated_export({})
    monkeypatch.setattr("lienthong.dossiers.export_file._DECODED_KEPT", 400)
    reader = DossierExportReader(io.BytesIO(data), name="dossiers_40_20261120.csv")
    rows, most = [], 0
    for row in reader:
        rows.append(row)
        most = max(most, reader._decoded_chars)
    assert 200 < most <= 400
    monkeypatch.setattr("lienthong.dossiers.export_file._DECODED_KEPT", 0)
    general = _ReadFieldByField(io.BytesIO(data), name="dossiers_40_20261120.csv")
    assert rows == list(general)
    assert reader.facts == general.facts
