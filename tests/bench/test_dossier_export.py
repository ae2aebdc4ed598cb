"""The dossiers benchmark's writer: one valid export (CSV and manifest, SOURCES.md §3) in a
province's landing folder, its applicants, and the flat rows raw COPY loads. No database."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime

from bench import dossiers
from bench.datasets import DATASETS
from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS
from lienthong.dossiers.manifest import parse_manifest
from lienthong.landing.file_names import parse_dossier_file_name

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_the_export_is_one_complete_file_its_manifest_describes(tmp_path):
    written = dossiers.write_export(tmp_path, 1500, NOW)

    assert written == 1500
    folder = dossiers.landing_folder(tmp_path)
    assert folder == tmp_path / "dossiers" / "40"
    data = dossiers.export_csv(tmp_path)
    manifest_file = dossiers.manifest_of(data)
    assert sorted(p.name for p in folder.iterdir()) == [data.name, manifest_file.name]
    name = parse_dossier_file_name(data.name)
    assert name.province_code == "40"
    assert str(name.day) == "2026-11-28"  # the day before, in Vietnam: within rule D-L1

    manifest = parse_manifest(manifest_file.read_bytes(), name=manifest_file.name)
    assert manifest.file == data.name
    assert manifest.rows == written
    assert manifest.sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    assert manifest.encoding == "utf-8"

    with data.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == manifest.rows
    assert tuple(rows[0]) == DOCUMENTED_COLUMNS

    # About 2 % of the rows carry a labelled defect: some IDs are not 12 digits, some
    # statuses are not the contract's, and copies of a row collapse.
    bad_ids = sum(not (r["applicant_personal_id"] or "").isdigit() for r in rows)
    statuses = {"received", "processing", "completed", "rejected", ""}
    bad_status = sum(r["status"] not in statuses for r in rows)
    assert 0 < bad_ids + bad_status < 0.05 * written
    assert len({r["dossier_id"] for r in rows}) < written

    # The applicants, as population items, for core.population.
    with dossiers.applicants_file(tmp_path).open(encoding="utf-8") as lines:
        people = [json.loads(line) for line in lines]
    known = {person["personal_id"] for person in people}
    assert len(people) == len(known) == 1500
    found = sum(r["applicant_personal_id"] in known for r in rows)
    assert found > 0.95 * written


def test_raw_copy_gets_every_row_of_the_same_csv(tmp_path):
    dossiers.write_export(tmp_path, 300, NOW)
    dataset = DATASETS["dossiers"]
    assert dataset.file_landed and not dataset.incremental

    flat = list(dataset.flat_rows(tmp_path))
    with dossiers.export_csv(tmp_path).open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(flat) == len(rows) == 300
    assert all(len(row) == len(dataset.flat_columns) for row in flat)
    assert flat[0] == tuple(rows[0][c] or None for c in DOCUMENTED_COLUMNS)


def test_the_pandas_peer_reads_the_csv_and_builds_its_suite(tmp_path):
    dossiers.write_export(tmp_path, 200, NOW)
    data = dossiers.export_csv(tmp_path)
    frame = dossiers.derive_columns(dossiers.read_frame(data))
    assert len(frame) == 200
    assert {"pid_birth_province", "has_completed_at", "closed_status"} <= set(frame.columns)
    expectations = dossiers.peer_expectations(NOW, data)
    assert len(expectations) >= 15
