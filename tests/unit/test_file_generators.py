"""The dossier and task workbook generators: deterministic, read back by the real readers,
and labelled truthfully (an independent check of each rule agrees with every label)."""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from lienthong.dossiers.export_file import DossierExportReader
from lienthong.dossiers.manifest import parse_manifest
from lienthong.landing.file_names import parse_dossier_file_name, parse_task_workbook_name
from lienthong.p06_tasks.workbook import GROUPS, STATUSES, read_task_workbook
from lienthong.reference import admin_units
from lienthong_demo import dossier_files, task_workbooks
from lienthong_demo.dossier_files import (
    DeliveryOptions,
    corrected_redelivery,
    demo_population,
    generate_dossier_delivery,
    same_file_again,
)
from lienthong_demo.task_workbooks import (
    WorkbookOptions,
    generate_task_series,
    generate_task_workbook,
)

PROVINCE = "01"
DAY = date(2026, 3, 2)


@pytest.fixture(scope="module")
def population() -> list[dict[str, Any]]:
    return demo_population(300, seed=11)


def deliver(population: list[dict[str, Any]], **options: Any) -> dossier_files.DossierDelivery:
    return generate_dossier_delivery(
        PROVINCE, DAY, count=400, seed=3, defect_rate=0.25, population=population,
        options=DeliveryOptions(**options),
    )  # fmt: skip


def read_back(delivery: dossier_files.DossierDelivery) -> tuple[list[Any], Any]:
    claim = parse_manifest(delivery.manifest, name=delivery.manifest_name).encoding
    reader = DossierExportReader(io.BytesIO(delivery.csv), name=delivery.csv_name,
                                 claimed_encoding=claim)  # fmt: skip
    return list(reader), reader.facts


# ---------------------------------------------------------------------------------------------
# An independent reading of the dossier rules (RULES.md), to check the labels against
# ---------------------------------------------------------------------------------------------

LEGACY = {f"0{p.code}" for p in admin_units.legacy_provinces()}
COMMUNES = {c.code for c in admin_units.current_communes() if c.province_code == PROVINCE}


def dossier_rules_failed(values: dict[str, str | None], known_ids: set[str]) -> set[str]:
    failed = set()
    pid = values["applicant_personal_id"] or ""
    if not (len(pid) == 12 and pid.isdigit() and pid[:3] in LEGACY):
        failed.add("D-C1")
    status, completed = values["status"], values["completed_at"]
    received, due = values["received_at"], values["due_at"]
    if values["channel"] not in ("online", "offline"):
        failed.add("D-C2")
    if status is not None and status not in ("received", "processing", "completed", "rejected"):
        failed.add("D-C2")
    if received and due and received > due:
        failed.add("D-C2")
    if (completed is not None) != (status in ("completed", "rejected")):
        failed.add("D-C2")
    if completed and received and completed < received:
        failed.add("D-C2")
    if values["commune_code"] not in COMMUNES:
        failed.add("D-C3")
    if any(values[c] is None for c in ("dossier_id", "procedure_code", "received_at", "status")):
        failed.add("D-S2")
    if pid not in known_ids:
        failed.add("D-C4")
    return failed


def test_dossier_labels_agree_with_an_independent_check_of_every_rule(
    population: list[dict[str, Any]],
) -> None:
    delivery = deliver(population)
    known = {person["personal_id"] for person in population}
    seen: set[str] = set()
    planted = Counter(label.defect for label in delivery.labels)
    assert planted[None] > 250 and len(planted) >= 10  # most rows clean, most defects there
    for label in delivery.labels:
        failed = dossier_rules_failed(label.values, known)
        dossier_id = label.values["dossier_id"]
        duplicate = dossier_id is not None and dossier_id in seen
        if dossier_id:
            seen.add(dossier_id)
        if label.defect is None:
            assert failed == set() and not duplicate, label
        elif label.defect == "D-K2":
            assert duplicate and failed == set(), label
        elif label.defect == "D-C4":
            assert failed == {"D-C4"}, label
            assert label.expected.outcome == "published" and label.expected.action == "flag"
        else:
            rule = label.expected.rule_id
            assert rule is not None and label.defect.startswith(rule)
            # Its rule fails, and no other quarantining rule (an altered ID is also nobody's).
            assert failed - {"D-C4"} == {rule}, label
            assert label.expected.outcome == "quarantined"


def test_applicants_are_people_of_the_population_and_communes_of_the_province(
    population: list[dict[str, Any]],
) -> None:
    delivery = generate_dossier_delivery(
        PROVINCE, DAY, count=100, seed=3, defect_rate=0.0, population=population
    )
    people = {p["personal_id"]: p["full_name"] for p in population}
    for label in delivery.labels:
        assert people[label.values["applicant_personal_id"]] == label.values["applicant_name"]
        assert label.values["commune_code"] in COMMUNES
        received = datetime.fromisoformat(label.values["received_at"])
        assert received.date() <= DAY


def test_dossier_generation_is_deterministic(population: list[dict[str, Any]]) -> None:
    first, second = deliver(population), deliver(population)
    assert first.csv == second.csv and first.manifest == second.manifest
    other = generate_dossier_delivery(PROVINCE, DAY, count=400, seed=4, population=population)
    assert other.csv != first.csv


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"encoding": "utf-8-sig", "delimiter": ";"},
        {"encoding": "windows-1258", "shuffle_columns": True},
        {"encoding": "windows-1258", "decompose_all": True, "extra_column": True},
        {"encoding": "tcvn3", "delimiter": ";", "shuffle_columns": True, "extra_column": True},
        {"drop_column": "channel"},
        {"truncate": True, "encoding": "tcvn3"},
    ],
)
def test_the_reader_reads_exactly_what_the_labels_say(
    population: list[dict[str, Any]], options: dict[str, Any]
) -> None:
    delivery = deliver(population, **options)
    rows, facts = read_back(delivery)
    assert [(r.line, r.values, r.extra) for r in rows] == [
        (label.line, label.values, label.extra) for label in delivery.labels
    ]
    assert facts.encoding == delivery.options.encoding
    assert facts.delimiter == delivery.options.delimiter
    assert facts.header == delivery.columns
    if options.get("drop_column"):
        assert facts.missing_columns == ("channel",)
    assert facts.truncated is bool(options.get("truncate"))
    if options.get("truncate"):
        assert delivery.labels[-1].defect == "truncated"
        assert rows[-1].defect == "file ends mid-row (truncated)"


def test_manifest_scenarios(population: list[dict[str, Any]]) -> None:
    honest = deliver(population, encoding="windows-1258")
    manifest = parse_manifest(honest.manifest, name=honest.manifest_name)
    assert manifest.file == honest.csv_name
    assert manifest.rows == 400
    assert manifest.sha256 == hashlib.sha256(honest.csv).hexdigest()
    assert manifest.encoding == "windows-1258"
    assert manifest.exported_at == datetime.fromisoformat("2026-03-02T16:30:00+00:00")
    assert {b.rule_id for b in honest.batch} == {"D-K1"}

    def manifest_of(**options: Any) -> Any:
        delivery = deliver(population, **options)
        return delivery, parse_manifest(delivery.manifest, name=delivery.manifest_name)

    delivery, lying = manifest_of(manifest="wrong_rows")
    assert lying.rows == 403 and ("D-S1", "hold") in {(b.rule_id, b.action) for b in delivery.batch}
    delivery, lying = manifest_of(manifest="wrong_sha256")
    assert lying.sha256 != hashlib.sha256(delivery.csv).hexdigest()
    assert "D-S1" in {b.rule_id for b in delivery.batch}
    delivery, lying = manifest_of(manifest="wrong_encoding", encoding="windows-1258")
    assert lying.encoding == "utf-8"
    assert read_back(delivery)[1].encoding_agrees is False
    assert {b.rule_id for b in delivery.batch} == {"D-K1"}
    missing = deliver(population, manifest="missing")
    assert missing.manifest is None and {b.rule_id for b in missing.batch} == {"D-S1"}

    truncated = deliver(population, truncate=True)
    whole = parse_manifest(truncated.manifest, name=truncated.manifest_name)
    assert whole.sha256 != hashlib.sha256(truncated.csv).hexdigest()
    assert whole.rows == 400


def test_empty_files_and_late_files(population: list[dict[str, Any]]) -> None:
    empty = deliver(population, empty="zero_bytes")
    assert empty.csv == b"" and empty.labels == ()
    assert parse_manifest(empty.manifest, name="m").rows == 0
    assert ("D-S2", "hold") in {(b.rule_id, b.action) for b in empty.batch}
    header_only = deliver(population, empty="header_only")
    rows, facts = read_back(header_only)
    assert rows == [] and facts.missing_columns == ()
    late = deliver(population, arrival_delay_days=8)
    assert (late.arrival - late.day).days == 9
    assert ("D-L1", "hold") in {(b.rule_id, b.action) for b in late.batch}
    on_time = deliver(population, arrival_delay_days=6)
    assert "D-L1" not in {b.rule_id for b in on_time.batch}


def test_redeliveries(population: list[dict[str, Any]], tmp_path: Path) -> None:
    first = deliver(population, encoding="tcvn3")
    again = same_file_again(first)
    assert again.csv == first.csv and again.csv_name == first.csv_name
    assert [(b.rule_id, b.action) for b in again.batch] == [("D-K2", "skip")]

    corrected = corrected_redelivery(first)
    assert corrected.csv_name == first.csv_name and corrected.csv != first.csv
    assert corrected.columns == first.columns
    assert ("D-K2", "fix") in {(b.rule_id, b.action) for b in corrected.batch}
    assert {label.defect for label in corrected.labels} <= {None, "D-C4"}
    ids = [label.dossier_id for label in corrected.labels]
    assert len(ids) == len(set(ids))
    assert set(ids) <= {label.dossier_id for label in first.labels}
    before = {label.dossier_id: label.values["status"] for label in first.labels}
    moved = [i for i, label in zip(ids, corrected.labels, strict=True)
             if before[i] != label.values["status"]]  # fmt: skip
    assert moved  # some dossiers moved on
    rows, _ = read_back(corrected)
    assert [r.values for r in rows] == [label.values for label in corrected.labels]
    known = {person["personal_id"] for person in population}
    for label in corrected.labels:
        assert dossier_rules_failed(label.values, known) <= {"D-C4"}

    paths = first.write(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "dossiers/01/dossiers_01_20260302.csv",
        "dossiers/01/dossiers_01_20260302.manifest.json",
    ]
    assert parse_dossier_file_name(paths[0]).day == DAY
    assert json.loads(paths[1].read_bytes())["file"] == paths[0].name


def test_bad_generator_arguments(population: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="not a current province"):
        generate_dossier_delivery("99", DAY, population=population)
    with pytest.raises(ValueError, match="unknown defect labels"):
        generate_dossier_delivery(PROVINCE, DAY, defects=["D-X9"], population=population)
    with pytest.raises(ValueError, match="delimiter"):
        DeliveryOptions(delimiter="|")


# ---------------------------------------------------------------------------------------------
# Task workbooks
# ---------------------------------------------------------------------------------------------

MONTH = date(2026, 3, 1)
MONTH_END = date(2026, 3, 31)


def task_rules_failed(parsed: dict[str, Any], unreadable: bool) -> set[str]:
    failed = set()
    if parsed["group"] not in GROUPS or parsed["status"] not in STATUSES:
        failed.add("T-C1")
    year, completed = parsed["year_assigned"], parsed["completed_on"]
    done = parsed["status"] == "Đã hoàn thành"
    if year is None or not 2022 <= year <= 2030:
        failed.add("T-C2")
    if parsed["status"] in STATUSES and (completed is not None) != done:
        failed.add("T-C2")
    if completed is not None and completed > MONTH_END:
        failed.add("T-C2")
    if unreadable:
        failed.add("T-K1")
    due = parsed["due_date"]
    if due is not None and due < MONTH_END and parsed["status"] == "Đang thực hiện":
        failed.add("T-L2")
    return failed


def test_task_labels_agree_with_the_reader_and_an_independent_check() -> None:
    delivery = generate_task_workbook("15", MONTH, defect_rate=0.4, seed=2)
    workbook = read_task_workbook(delivery.data, name=delivery.name)
    rows = {row.row: row for row in workbook.rows}
    dropped = {row.row: row.reason for row in workbook.facts.dropped}
    codes = Counter(label.task_code for label in delivery.labels if label.task_code)
    planted = Counter(label.defect for label in delivery.labels)
    assert len(planted) >= 10
    identical_seen: set[str] = set()
    for label in delivery.labels:
        if label.defect in ("blank", "totals"):
            assert dropped[label.row] == label.defect
            assert label.expected.outcome == "dropped" and label.expected.rule_id == "T-K1"
            continue
        row = rows[label.row]
        got = {key: getattr(row, key) for key in label.parsed}
        assert got == label.parsed, label
        unreadable_date = bool({"due_date", "completed_on"} & row.unreadable.keys())
        failed = task_rules_failed(label.parsed, unreadable_date)
        duplicate = codes[label.task_code] > 1
        if label.defect is None:
            assert failed == set(), label
            if duplicate:  # the first of two identical rows
                identical_seen.add(label.task_code)
            assert not row.fixes
        elif label.defect == "T-K1:identical":
            assert label.task_code in identical_seen and failed == set()
        elif label.defect == "T-K1:conflict":
            assert duplicate and failed == set()
        elif label.defect == "T-C1:fix":
            assert failed == set() and row.fixes, label
        elif label.defect == "T-L2":
            assert failed == {"T-L2"}, label
        else:
            rule = label.expected.rule_id
            assert rule is not None and failed - {"T-L2"} == {rule}, label


@pytest.mark.parametrize(
    "options",
    [
        WorkbookOptions(
            sheet_name="Nhiệm vụ",
            cover_sheet=True,
            header_style="no_diacritics",
            shuffle_headers=True,
            dates_as_text=0.8,
        ),
        WorkbookOptions(
            sheet_name="Báo cáo",
            header_style="upper",
            totals_row=False,
            blank_rows=0,
            dates_as_text=0.0,
        ),
    ],
)
def test_layouts_read_back(options: WorkbookOptions) -> None:
    delivery = generate_task_workbook("15", MONTH, defect_rate=0.0, options=options)
    workbook = read_task_workbook(delivery.data, name=delivery.name)
    assert workbook.facts.missing_headers == ()
    assert workbook.facts.title_month == MONTH
    assert [row.task_code for row in workbook.rows] == [
        label.task_code for label in delivery.labels if label.task_code
    ]
    assert workbook.facts.totals_rows == int(options.totals_row)
    assert workbook.facts.blank_rows == options.blank_rows


def test_missing_header_holds() -> None:
    delivery = generate_task_workbook(
        "15", MONTH, options=WorkbookOptions(missing_header="Hạn hoàn thành")
    )
    assert [(b.rule_id, b.action) for b in delivery.batch] == [("T-S1", "hold")]
    facts = read_task_workbook(delivery.data, name=delivery.name).facts
    assert facts.missing_headers == ("Hạn hoàn thành",)


def test_series_with_a_missing_task_and_an_older_month_resent(tmp_path: Path) -> None:
    series = generate_task_series("15", date(2026, 1, 1), 4, drop_task_in=2, resend=1)
    assert [d.name for d in series] == [
        "p06_tasks_15_202601.xlsx", "p06_tasks_15_202602.xlsx", "p06_tasks_15_202603.xlsx",
        "p06_tasks_15_202604.xlsx", "p06_tasks_15_202602.xlsx",
    ]  # fmt: skip
    assert [[b.rule_id for b in d.batch] for d in series] == [[], [], ["T-S2"], [], ["T-L1"]]

    def codes(delivery: task_workbooks.TaskWorkbookDelivery) -> set[str]:
        rows = read_task_workbook(delivery.data, name=delivery.name).rows
        return {row.task_code for row in rows if row.task_code}

    assert codes(series[0]) <= codes(series[1])  # a month keeps every task of the one before
    missing = codes(series[1]) - codes(series[2])
    assert len(missing) == 1
    assert codes(series[2]) <= codes(series[3])
    assert series[4].data == series[1].data
    path = series[0].write(tmp_path)
    assert path.relative_to(tmp_path).as_posix() == "p06_tasks/15/p06_tasks_15_202601.xlsx"
    assert parse_task_workbook_name(path).month == date(2026, 1, 1)


def test_task_generation_is_deterministic() -> None:
    first = generate_task_workbook("15", MONTH, seed=5)
    second = generate_task_workbook("15", MONTH, seed=5)
    assert first.labels == second.labels
    assert first.data == second.data
    assert generate_task_workbook("15", MONTH, seed=6).data != first.data
    assert (
        read_task_workbook(first.data, name="a").rows
        == read_task_workbook(second.data, name="b").rows
    )
