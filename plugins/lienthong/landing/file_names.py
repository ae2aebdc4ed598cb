"""Names of the files provinces drop into the landing area (SOURCES.md §3, §4).

::

    dossiers/<province>/dossiers_<province>_<YYYYMMDD>.csv
    dossiers/<province>/dossiers_<province>_<YYYYMMDD>.manifest.json
    p06_tasks/<province>/p06_tasks_<province>_<YYYYMM>.xlsx

``<province>`` is a 2-digit province code. The parsers take a bare file name or a path
(``/``-separated, as in an object-storage key, or OS-native); when the path holds the
province folder, it must agree with the name. Whether the code is a province of the current
scheme is not checked here: that is configuration (which province drops where).
Names are matched exactly as the contract writes them (lower-case prefix and extension):
a system that writes another name does not follow the contract and gets a clear error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePath, PurePosixPath

__all__ = [
    "DossierFileName",
    "FileNameError",
    "TaskWorkbookName",
    "dossier_csv_name",
    "dossier_manifest_name",
    "parse_dossier_file_name",
    "parse_task_workbook_name",
    "task_workbook_name",
]

_DOSSIER = re.compile(
    r"^dossiers_(?P<province>\d{2})_(?P<day>\d{8})\.(?P<kind>csv|manifest\.json)$"
)
_TASKS = re.compile(r"^p06_tasks_(?P<province>\d{2})_(?P<month>\d{6})\.xlsx$")


class FileNameError(ValueError):
    """A landing file whose name does not follow the contract; the message names it."""


@dataclass(frozen=True)
class DossierFileName:
    """``dossiers_<province>_<YYYYMMDD>.csv`` or ``.manifest.json``, parsed."""

    name: str
    province_code: str
    day: date
    kind: str  # "csv" or "manifest"

    @property
    def csv_name(self) -> str:
        """The name of the CSV this name belongs to (itself for a CSV)."""
        return dossier_csv_name(self.province_code, self.day)

    @property
    def manifest_name(self) -> str:
        """The name of the manifest that completes this CSV (itself for a manifest)."""
        return dossier_manifest_name(self.province_code, self.day)


@dataclass(frozen=True)
class TaskWorkbookName:
    """``p06_tasks_<province>_<YYYYMM>.xlsx``, parsed; ``month`` is its first day."""

    name: str
    province_code: str
    month: date


def dossier_csv_name(province_code: str, day: date) -> str:
    """``dossiers_<province>_<YYYYMMDD>.csv``."""
    return f"dossiers_{province_code}_{day:%Y%m%d}.csv"


def dossier_manifest_name(province_code: str, day: date) -> str:
    """``dossiers_<province>_<YYYYMMDD>.manifest.json``."""
    return f"dossiers_{province_code}_{day:%Y%m%d}.manifest.json"


def task_workbook_name(province_code: str, month: date) -> str:
    """``p06_tasks_<province>_<YYYYMM>.xlsx`` for the month holding ``month``."""
    return f"p06_tasks_{province_code}_{month:%Y%m}.xlsx"


def _split(path: str | PurePath) -> tuple[str, str | None]:
    """(file name, the folder just above it or None); ``\\`` separates too (Windows paths)."""
    pure = PurePosixPath(str(path).replace("\\", "/"))
    return pure.name, pure.parent.name or None


def _check_folder(path: str | PurePath, province: str, folder: str | None) -> None:
    if folder is not None and re.fullmatch(r"\d{2}", folder) and folder != province:
        raise FileNameError(
            f"{path}: the file name says province {province} but it lies in the folder of "
            f"province {folder}"
        )


def parse_dossier_file_name(path: str | PurePath) -> DossierFileName:
    """Parse a dossier CSV or manifest name (or path).

    Raises:
        FileNameError: not ``dossiers_<2 digits>_<YYYYMMDD>.csv`` / ``.manifest.json``, a
            date that does not exist, or a province folder that disagrees with the name.
    """
    name, folder = _split(path)
    match = _DOSSIER.match(name)
    if match is None:
        raise FileNameError(
            f"{path}: not a dossier export name; expected "
            "dossiers_<province>_<YYYYMMDD>.csv or dossiers_<province>_<YYYYMMDD>.manifest.json"
            " (province: 2 digits)"
        )
    digits = match["day"]
    try:
        day = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise FileNameError(f"{path}: {digits} is not a date (YYYYMMDD)") from None
    province = match["province"]
    _check_folder(path, province, folder)
    kind = "csv" if match["kind"] == "csv" else "manifest"
    return DossierFileName(name=name, province_code=province, day=day, kind=kind)


def parse_task_workbook_name(path: str | PurePath) -> TaskWorkbookName:
    """Parse a task workbook name (or path).

    Raises:
        FileNameError: not ``p06_tasks_<2 digits>_<YYYYMM>.xlsx``, a month outside 01-12,
            or a province folder that disagrees with the name.
    """
    name, folder = _split(path)
    match = _TASKS.match(name)
    if match is None:
        raise FileNameError(
            f"{path}: not a task workbook name; expected p06_tasks_<province>_<YYYYMM>.xlsx"
            " (province: 2 digits)"
        )
    digits = match["month"]
    try:
        month = date(int(digits[:4]), int(digits[4:]), 1)
    except ValueError:
        raise FileNameError(f"{path}: {digits} is not a month (YYYYMM)") from None
    province = match["province"]
    _check_folder(path, province, folder)
    return TaskWorkbookName(name=name, province_code=province, month=month)
