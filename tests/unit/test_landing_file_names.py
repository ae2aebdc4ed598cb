"""Landing file names (SOURCES.md §3, §4): parsed, built, and refused with clear errors."""

from __future__ import annotations

from datetime import date
from pathlib import PurePosixPath, PureWindowsPath

import pytest

from lienthong.landing.file_names import (
    FileNameError,
    dossier_csv_name,
    dossier_manifest_name,
    parse_dossier_file_name,
    parse_task_workbook_name,
    task_workbook_name,
)


@pytest.mark.parametrize(
    "path",
    [
        "dossiers_01_20260302.csv",
        "dossiers/01/dossiers_01_20260302.csv",
        PurePosixPath("/landing/dossiers/01/dossiers_01_20260302.csv"),
        PureWindowsPath(r"D:\landing\dossiers\01\dossiers_01_20260302.csv"),
        "s3-prefix/dossiers/01/dossiers_01_20260302.csv",
    ],
)
def test_dossier_csv_names(path: object) -> None:
    parsed = parse_dossier_file_name(path)  # type: ignore[arg-type]
    assert parsed.name == "dossiers_01_20260302.csv"
    assert parsed.province_code == "01"
    assert parsed.day == date(2026, 3, 2)
    assert parsed.kind == "csv"
    assert parsed.manifest_name == "dossiers_01_20260302.manifest.json"
    assert parsed.csv_name == parsed.name


def test_manifest_names_and_builders() -> None:
    parsed = parse_dossier_file_name("dossiers/79/dossiers_79_20251231.manifest.json")
    assert (parsed.province_code, parsed.day, parsed.kind) == ("79", date(2025, 12, 31), "manifest")
    assert parsed.csv_name == "dossiers_79_20251231.csv"
    assert dossier_csv_name("79", date(2025, 12, 31)) == "dossiers_79_20251231.csv"
    assert dossier_manifest_name("79", date(2025, 12, 31)) == parsed.name


def test_task_workbook_names() -> None:
    parsed = parse_task_workbook_name("p06_tasks/46/p06_tasks_46_202603.xlsx")
    assert (parsed.province_code, parsed.month) == ("46", date(2026, 3, 1))
    assert task_workbook_name("46", date(2026, 3, 17)) == "p06_tasks_46_202603.xlsx"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("dossiers_1_20260302.csv", "not a dossier export name"),
        ("dossiers_01_2026032.csv", "not a dossier export name"),
        ("dossiers_01_20260302.CSV", "not a dossier export name"),
        ("dossiers_01_20260302.json", "not a dossier export name"),
        ("Dossiers_01_20260302.csv", "not a dossier export name"),
        ("dossiers_01_20260302.csv.tmp", "not a dossier export name"),
        ("dossiers_01_20260230.csv", "20260230 is not a date"),
        ("dossiers/02/dossiers_01_20260302.csv", "lies in the folder of province 02"),
    ],
)
def test_bad_dossier_names(path: str, message: str) -> None:
    with pytest.raises(FileNameError, match=message) as caught:
        parse_dossier_file_name(path)
    assert path in str(caught.value)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("p06_tasks_46_2026.xlsx", "not a task workbook name"),
        ("p06_tasks_46_202603.xls", "not a task workbook name"),
        ("p06_tasks_46_202603.csv", "not a task workbook name"),
        ("p06_tasks_46_202613.xlsx", "202613 is not a month"),
        ("p06_tasks_46_202600.xlsx", "202600 is not a month"),
        ("p06_tasks/79/p06_tasks_46_202603.xlsx", "lies in the folder of province 79"),
    ],
)
def test_bad_task_workbook_names(path: str, message: str) -> None:
    with pytest.raises(FileNameError, match=message):
        parse_task_workbook_name(path)
