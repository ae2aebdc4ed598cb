"""A landing area through Airflow's ObjectStoragePath, on local folders: listing, moving beside
the landing folder (never deleting), reason files, and the grouping of a folder's files into
deliveries."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from lienthong.dossiers.extraction import group_dossier_files
from lienthong.landing.area import LandingArea, landing_path
from lienthong.p06_tasks.extraction import group_task_workbooks
from lienthong.settings import PROJECT_ROOT


def test_a_relative_path_is_the_project_roots_and_a_url_stays_a_url(tmp_path):
    local = landing_path(".lienthong/landing/dossiers/40")
    assert local.protocol == "file"
    assert local.path == str(PROJECT_ROOT / ".lienthong/landing/dossiers/40")
    assert str(landing_path(str(tmp_path))) == tmp_path.as_uri()
    remote = landing_path("s3://bucket/landing/dossiers/40/")
    assert (remote.protocol, remote.key) == ("s3", "landing/dossiers/40")
    assert str(LandingArea(remote).beside("archive")) == "s3://bucket/landing/dossiers/40_archive"


def test_files_are_listed_without_sub_folders_and_a_missing_folder_holds_nothing(tmp_path):
    folder = tmp_path / "dossiers" / "40"
    assert LandingArea(str(folder)).files() == []
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "inside.csv").write_text("x")
    (folder / "b.csv").write_bytes(b"12345")
    (folder / "a.json").write_bytes(b"{}")
    files = LandingArea(str(folder)).files()
    assert [(f.name, f.size) for f in files] == [("a.json", 2), ("b.csv", 5)]
    assert files[0].modified_at is not None
    assert files[1].location == (folder / "b.csv").as_uri()


def test_a_move_goes_beside_the_landing_folder_and_is_idempotent(tmp_path):
    folder = tmp_path / "dossiers" / "40"
    folder.mkdir(parents=True)
    (folder / "f.csv").write_bytes(b"data")
    area = LandingArea(str(folder))
    (file,) = area.files()
    target = area.move(file.location, "held", 7)
    assert target == (tmp_path / "dossiers" / "40_held" / "7" / "f.csv").as_uri()
    assert not (folder / "f.csv").exists()
    # Moved already: a repeated move (after a crash) finds it where the first left it.
    assert area.move(file.location, "held", 7) == target
    # From held to the archive, as an approval does.
    archived = area.move(target, "archive", 7)
    assert Path(archived.removeprefix("file://")).read_bytes() == b"data"
    with pytest.raises(FileNotFoundError, match="the ledger says it was"):
        area.move(file.location, "rejected", 7)


def test_a_reason_file_is_written_once(tmp_path):
    area = LandingArea(str(tmp_path / "p06_tasks" / "40"))
    first = area.write_reason("rejected", 3, "f.xlsx", "rule T-S1: header not found\n")
    area.write_reason("rejected", 3, "f.xlsx", "something else")
    path = tmp_path / "p06_tasks" / "40_rejected" / "3" / "f.xlsx.reason.txt"
    assert first == path.as_uri()
    assert path.read_text(encoding="utf-8") == "rule T-S1: header not found\n"


def test_dossier_files_pair_with_their_manifests(tmp_path):
    folder = tmp_path / "dossiers" / "40"
    folder.mkdir(parents=True)
    for name in (
        "dossiers_40_20260301.csv",
        "dossiers_40_20260301.manifest.json",
        "dossiers_40_20260302.csv",  # no manifest yet
        "dossiers_40_20260303.manifest.json",  # no CSV
        "dossiers_01_20260301.csv",  # another province's
        "dossiers_40_2026-03-04.csv",  # not the contract's name
    ):
        (folder / name).write_text("x")
    deliveries, strays = group_dossier_files("40", LandingArea(str(folder)).files())
    by_name = {d.name: d for d in deliveries}
    assert sorted(by_name) == [
        "dossiers_40_20260301.csv",
        "dossiers_40_20260302.csv",
        "dossiers_40_20260303.csv",
    ]
    ready = by_name["dossiers_40_20260301.csv"]
    assert ready.waiting_for is None and ready.manifest is not None and ready.data is not None
    assert ready.period == date(2026, 3, 1)
    assert by_name["dossiers_40_20260302.csv"].waiting_for == "its manifest"
    lone = by_name["dossiers_40_20260303.csv"]
    assert lone.data is None and lone.waiting_for is None
    reasons = {s.file.name: s.reason for s in strays}
    assert "province 01 in the folder of 40" in reasons["dossiers_01_20260301.csv"]
    assert "not a dossier export name" in reasons["dossiers_40_2026-03-04.csv"]


def test_task_workbooks_are_deliveries_by_month(tmp_path):
    folder = tmp_path / "p06_tasks" / "40"
    folder.mkdir(parents=True)
    for name in ("p06_tasks_40_202603.xlsx", "p06_tasks_40_202613.xlsx", "report.xlsx"):
        (folder / name).write_text("x")
    deliveries, strays = group_task_workbooks("40", LandingArea(str(folder)).files())
    assert [(d.name, d.period) for d in deliveries] == [
        ("p06_tasks_40_202603.xlsx", date(2026, 3, 1))
    ]
    assert sorted(s.file.name for s in strays) == ["p06_tasks_40_202613.xlsx", "report.xlsx"]
