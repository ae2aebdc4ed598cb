"""The p06_tasks dataset on real XLSX files in local landing folders and a real PostgreSQL
warehouse, with real GX: labelled defects end where their labels say; any header spelling and
order, text dates, blank and totals rows read to the expected tasks; monthly snapshots are kept,
a task missing from a month holds it, an older month re-sent is refused; the progress the
provinces report is computed from what is stored."""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest

from lienthong.p06_tasks.workbook import STATUSES
from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.sources import Source
from lienthong_demo.task_workbooks import (
    WorkbookOptions,
    generate_task_series,
    generate_task_workbook,
)

from .file_fixtures import drain, ledger, rule_results, run_source

pytestmark = pytest.mark.integration

PROVINCE = "40"
MONTH = date(2026, 3, 1)
LOW = dict.fromkeys(DIMENSIONS, 0.5)
DONE, RECURRING, IN_PROGRESS, OVERDUE = STATUSES


def _after(month: date) -> datetime:
    """The second day of the next month: when a month's workbook arrives."""
    following = (month.replace(day=28) + timedelta(days=4)).replace(day=2)
    return datetime.combine(following, time(3), UTC)


def _source(root: Path, **fields) -> Source:
    folder = root / "p06_tasks" / PROVINCE
    folder.mkdir(parents=True, exist_ok=True)
    return Source(dataset="p06_tasks", province=PROVINCE, path=str(folder), **fields)


def _row_outcomes(url: str, batch_no: int) -> dict[int, dict]:
    """sheet row → outcome, quarantine rules, flags, fixes."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT s.sheet_row, s.collapsed, q.rule_ids,
                      array(SELECT f.rule_id FROM audit.findings f WHERE f.batch_no = s.batch_no
                            AND f.row_no = s.row_no AND f.action = 'flag' ORDER BY 1),
                      array(SELECT x.rule_id || ':' || x.field FROM audit.fixes x
                            WHERE x.batch_no = s.batch_no AND x.row_no = s.row_no ORDER BY 1)
               FROM staging.p06_tasks s
               LEFT JOIN quarantine.records q ON q.batch_no = s.batch_no AND q.row_no = s.row_no
               WHERE s.batch_no = %s""",
            (batch_no,),
        ).fetchall()
    return {
        row: {
            "outcome": "collapsed" if collapsed else "quarantined" if rules else "published",
            "rules": set(rules or ()),
            "flags": set(flags),
            "fixes": fixes,
        }
        for row, collapsed, rules, flags, fixes in rows
    }


def _core(url: str, month: date) -> dict[str, dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute(
            """SELECT * FROM core.p06_tasks WHERE province_code = %s AND report_month = %s""",
            (PROVINCE, month),
        ).fetchall()
    return {row["task_code"]: row for row in rows}


def test_labelled_defects_end_where_their_labels_say(warehouse_url, tmp_path, prepared):
    delivery = generate_task_workbook(PROVINCE, MONTH, seed=2, count=80, defect_rate=0.4)
    planted = Counter(label.defect for label in delivery.labels)
    assert len(set(planted) - {None, "blank", "totals"}) >= 9
    delivery.write(tmp_path)
    source = _source(tmp_path, thresholds=LOW)
    run = run_source(source, "labelled", now=_after(MONTH))
    assert run.status == "published", run.hold

    outcomes = _row_outcomes(warehouse_url, run.batch_no)
    tasks = [label for label in delivery.labels if label.expected.outcome != "dropped"]
    assert sorted(outcomes) == sorted(label.row for label in tasks)
    for label in tasks:
        got, expected = outcomes[label.row], label.expected
        assert got["outcome"] == expected.outcome, (label, got)
        if expected.outcome == "quarantined":
            assert got["rules"] == {expected.rule_id}, (label, got)
        if expected.outcome == "published":
            assert got["flags"] == ({"T-L2"} if label.defect == "T-L2" else set()), (label, got)
            if label.defect == "T-C1:fix":
                assert got["fixes"] in (["T-C1:status"], ["T-C1:task_group"]), (label, got)
            else:
                assert got["fixes"] == [], (label, got)
    # Blank and totals rows are dropped, each recorded with its row number (T-K1 fix).
    dropped = {label.row for label in delivery.labels if label.expected.outcome == "dropped"}
    (record,) = ledger(warehouse_url, source.key)
    assert {d["row"] for d in record["facts"]["workbook"]["dropped"]} == dropped
    results = rule_results(warehouse_url, run.batch_no)
    assert results[("T-K1", "fix")]["success"] is False
    assert "reason=totals" in results[("T-K1", "fix")]["observed"]
    # Counts add up, and core holds the published rows with their flags.
    expected = Counter(label.expected.outcome for label in tasks)
    assert run.counts is not None
    assert {k: run.counts[k] for k in ("published", "quarantined", "collapsed")} == {
        k: expected[k] for k in ("published", "quarantined", "collapsed")
    }
    assert run.counts["fixed"] == planted["T-C1:fix"]
    core = _core(warehouse_url, MONTH)
    published = [label for label in tasks if label.expected.outcome == "published"]
    assert set(core) == {label.task_code for label in published}
    for label in published:
        row = core[label.task_code]
        assert row["flags"] == (["T-L2"] if label.defect == "T-L2" else [])
        assert row["task_group"] == label.parsed["group"] or label.defect == "T-C1:fix"
        assert row["status"] in STATUSES


@pytest.mark.parametrize(
    "options",
    [
        WorkbookOptions(
            sheet_name="Nhiệm vụ",
            cover_sheet=True,
            header_style="no_diacritics",
            shuffle_headers=True,
            dates_as_text=0.8,
            blank_rows=3,
        ),
        WorkbookOptions(sheet_name="Báo cáo", header_style="upper", dates_as_text=1.0),
    ],
    ids=["no-diacritics-shuffled-text-dates", "only-sheet-upper-case"],
)
def test_any_header_spelling_and_order_text_dates_blank_and_totals_rows(
    warehouse_url, tmp_path, options
):
    delivery = generate_task_workbook(PROVINCE, MONTH, seed=4, defect_rate=0.0, options=options)
    delivery.write(tmp_path)
    run = run_source(_source(tmp_path), "layout", now=_after(MONTH))
    assert run.status == "published", run.hold
    core = _core(warehouse_url, MONTH)
    tasks = [label for label in delivery.labels if label.task_code]
    assert set(core) == {label.task_code for label in tasks} == set(delivery.task_codes)
    for label in tasks:
        row, parsed = core[label.task_code], label.parsed
        assert row["task_group"] == parsed["group"]
        assert row["status"] == parsed["status"]
        assert row["year_assigned"] == parsed["year_assigned"]
        assert row["due_date"] == parsed["due_date"]
        assert row["completed_on"] == parsed["completed_on"]
        assert row["sheet_row"] == label.row


def _progress(url: str) -> dict[date, tuple]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT report_month, tasks_assigned, tasks_completed, tasks_recurring,
                      tasks_in_progress, tasks_overdue, tasks_in_quarantine
               FROM marts.p06_task_progress WHERE province_code = %s""",
            (PROVINCE,),
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_monthly_snapshots_a_missing_task_holds_an_older_month_is_refused(warehouse_url, tmp_path):
    series = generate_task_series(
        PROVINCE, date(2026, 1, 1), 4, seed=7, defect_rate=0.0, drop_task_in=2
    )
    january, february, march, april = series
    source = _source(tmp_path)
    for delivery in (january, february):
        delivery.write(tmp_path)
    runs = drain(source, "first", now=_after(february.month))
    assert [run.status for run in runs] == ["published", "published"]

    # March leaves out a task February reported: rule T-S2 holds it, naming the task.
    march.write(tmp_path)
    (run,) = drain(source, "march", now=_after(march.month))
    (missing,) = set(february.task_codes) - set(march.task_codes)
    assert run.status == "held"
    assert "rule T-S2 (sufficient)" in run.hold and f"task_code={missing}" in run.hold
    assert _core(warehouse_url, march.month) == {}

    # April is whole again: compared with the last published snapshot (February), it loads.
    april.write(tmp_path)
    (run,) = drain(source, "april", now=_after(april.month))
    assert run.status == "published", run.hold

    # February revised and sent after April: refused (held by T-L1); February stays as it was.
    before = _core(warehouse_url, february.month)
    revised = generate_task_workbook(
        PROVINCE,
        february.month,
        seed=7,
        defect_rate=0.0,
        options=WorkbookOptions(header_style="upper"),
    )
    assert revised.data != february.data
    revised.write(tmp_path)
    (run,) = drain(source, "february-again", now=_after(april.month) + timedelta(days=3))
    assert run.status == "held"
    assert "rule T-L1 (live)" in run.hold and "latest_received=2026-04-01" in run.hold
    assert _core(warehouse_url, february.month) == before
    # January's very bytes once more: a duplicate, nothing loaded, no batch.
    replace(january).write(tmp_path)
    assert drain(source, "january-again", now=_after(april.month) + timedelta(days=4)) == []

    records = ledger(warehouse_url, source.key)
    assert [(r["name"], r["outcome"]) for r in records] == [
        (january.name, "published"),
        (february.name, "published"),
        (march.name, "held"),
        (april.name, "published"),
        (february.name, "held"),
        (january.name, "duplicate"),
    ]
    assert records[4]["corrects"] == records[1]["file_no"]

    # Every month's snapshot is kept, and the provinces' progress is computed from them.
    progress = _progress(warehouse_url)
    assert sorted(progress) == [january.month, february.month, april.month]
    for delivery in (january, february, april):
        statuses = Counter(
            label.parsed["status"] for label in delivery.labels if label.task_code is not None
        )
        assert progress[delivery.month] == (
            len(delivery.task_codes),
            statuses[DONE],
            statuses[RECURRING],
            statuses[IN_PROGRESS],
            statuses[OVERDUE],
            0,
        )
    assert len(_core(warehouse_url, april.month)) == len(april.task_codes)


def test_a_file_that_is_not_a_workbook_or_lacks_a_header_is_held(warehouse_url, tmp_path):
    source = _source(tmp_path)
    folder = tmp_path / "p06_tasks" / PROVINCE
    (folder / "p06_tasks_40_202601.xlsx").write_bytes(b"not a zip file")
    missing = generate_task_workbook(
        PROVINCE,
        date(2026, 2, 1),
        defect_rate=0.0,
        options=WorkbookOptions(missing_header="Trạng thái"),
    )
    missing.write(tmp_path)
    first, second = drain(source, "broken", now=_after(date(2026, 2, 1)))
    assert first.status == second.status == "held"
    assert "rule T-S1 (sufficient)" in first.hold and "not a readable XLSX" in first.hold
    assert "rule T-S1 (sufficient)" in second.hold
    assert "header not found: Trạng thái" in second.hold
    held = tmp_path / "p06_tasks" / f"{PROVINCE}_held"
    assert sorted(p.name for p in held.rglob("*.xlsx")) == [
        "p06_tasks_40_202601.xlsx",
        missing.name,
    ]


def test_a_workbook_openpyxl_cannot_parse_is_held_and_later_months_still_load(
    warehouse_url, tmp_path
):
    # A workbook whose style part holds an empty <fill/> (as some exporters write): openpyxl
    # raises TypeError. It is an unreadable file, held by rule T-S1 like any other; it must
    # not fail the run, nor every later run that would take it again before the next month.
    source = _source(tmp_path)
    broken = generate_task_workbook(PROVINCE, MONTH, seed=4, defect_rate=0.0)
    parts = zipfile.ZipFile(io.BytesIO(broken.data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in parts.infolist():
            content = parts.read(item.filename)
            if item.filename == "xl/styles.xml":
                content = re.sub(rb"<fill>.*?</fill>", b"<fill/>", content, count=1)
            target.writestr(item, content)
    replace(broken, data=out.getvalue()).write(tmp_path)
    following = date(2026, 4, 1)
    later = generate_task_workbook(PROVINCE, following, seed=4, defect_rate=0.0)
    later.write(tmp_path)

    first, second = drain(source, "unparsable", now=_after(following))
    assert first.status == "held"
    assert "rule T-S1 (sufficient)" in first.hold
    assert f"{broken.name}: not a readable XLSX file (TypeError" in first.hold
    assert second.status == "published", second.hold
    assert set(_core(warehouse_url, following)) == set(later.task_codes)
    held = tmp_path / "p06_tasks" / f"{PROVINCE}_held"
    assert [p.name for p in held.rglob("*.xlsx")] == [broken.name]


def test_a_month_sent_again_with_corrections_replaces_that_months_snapshot(warehouse_url, tmp_path):
    source = _source(tmp_path, thresholds=LOW)
    first = generate_task_workbook(
        PROVINCE, MONTH, seed=5, defect_rate=0.3, defects=["T-C1:unknown"]
    )
    first.write(tmp_path)
    (run,) = drain(source, "first", now=_after(MONTH))
    assert run.status == "published" and run.counts["quarantined"] > 0
    corrected = generate_task_workbook(PROVINCE, MONTH, seed=5, defect_rate=0.0)
    corrected.write(tmp_path)
    (run,) = drain(source, "corrected", now=_after(MONTH) + timedelta(days=1))
    assert run.status == "published", run.hold
    core = _core(warehouse_url, MONTH)
    assert set(core) == set(corrected.task_codes)
    assert {row["batch_no"] for row in core.values()} == {run.batch_no}
    with psycopg.connect(warehouse_url) as conn:
        (status,) = conn.execute(
            "SELECT DISTINCT status FROM quarantine.records WHERE dataset = 'p06_tasks'"
        ).fetchall()
    assert status == ("rejected",)
    assert _progress(warehouse_url)[MONTH][-1] == 0
