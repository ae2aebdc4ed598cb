"""The dossiers dataset on real files in local landing folders and a real PostgreSQL warehouse,
with real GX: labelled defects end where their labels say; every encoding, delimiter and column
order loads the same rows; a redelivery loads once, a correction replaces; every delivery
problem of SOURCES.md §3 is held, waits or loads as it must, and no file is ever lost."""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg
import pytest

from lienthong.pipeline import batches, sync
from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.review import decisions
from lienthong.sources import Source
from lienthong.text import encodings
from lienthong_demo.dossier_files import (
    DeliveryOptions,
    corrected_redelivery,
    demo_population,
    generate_dossier_delivery,
    same_file_again,
)

from .file_fixtures import drain, ledger, load_population, rule_results, run_source

pytestmark = pytest.mark.integration

PROVINCE = "40"
DAY = date(2026, 3, 2)
#: The morning after the export day: well within rule D-L1's 7 days.
ARRIVAL = datetime.combine(DAY + timedelta(days=1), time(2), UTC)
LOW = dict.fromkeys(DIMENSIONS, 0.5)


@pytest.fixture
def people(warehouse_url: str) -> list[dict]:
    """Citizens in core.population: the applicants the generator draws from."""
    citizens = demo_population(400, seed=6)
    load_population(warehouse_url, citizens)
    return citizens


def _source(root: Path, **fields) -> Source:
    folder = root / "dossiers" / PROVINCE
    folder.mkdir(parents=True, exist_ok=True)
    return Source(dataset="dossiers", province=PROVINCE, path=str(folder), **fields)


def _line_outcomes(url: str, batch_no: int) -> dict[int, dict]:
    """line → outcome (published, quarantined, collapsed), quarantine rules, flags, fixes."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT s.line_no, s.collapsed, q.rule_ids,
                      array(SELECT f.rule_id FROM audit.findings f WHERE f.batch_no = s.batch_no
                            AND f.row_no = s.row_no AND f.action = 'flag' ORDER BY 1),
                      array(SELECT x.rule_id || ':' || x.field FROM audit.fixes x
                            WHERE x.batch_no = s.batch_no AND x.row_no = s.row_no ORDER BY 1)
               FROM staging.dossiers s
               LEFT JOIN quarantine.records q ON q.batch_no = s.batch_no AND q.row_no = s.row_no
               WHERE s.batch_no = %s""",
            (batch_no,),
        ).fetchall()
    outcomes = {}
    for line, collapsed, rules, flags, fixes in rows:
        outcome = "collapsed" if collapsed else "quarantined" if rules else "published"
        outcomes[line] = {
            "outcome": outcome,
            "rules": set(rules or ()),
            "flags": set(flags),
            "fixes": fixes,
        }
    return outcomes


CORE_COLUMNS = (
    "dossier_id, procedure_code, procedure_name, applicant_personal_id, applicant_name, "
    "commune_code, channel, received_at, due_at, completed_at, status, extra, flags"
)


def _core(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"SELECT {CORE_COLUMNS} FROM core.dossiers WHERE province_code = %s ORDER BY 1",
            (PROVINCE,),
        ).fetchall()


def _batch(url: str, batch_no: int) -> dict:
    with psycopg.connect(url) as conn:
        return batches.get(conn, batch_no=batch_no)


def _files_under(root: Path) -> dict[str, list[str]]:
    """sha256 → relative paths of every file under ``root``."""
    found: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.endswith(".reason.txt"):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found.setdefault(digest, []).append(str(path.relative_to(root)))
    return found


def test_labelled_defects_end_where_their_labels_say(warehouse_url, people, tmp_path, prepared):
    delivery = generate_dossier_delivery(
        PROVINCE, DAY, count=400, seed=11, defect_rate=0.15, population=people
    )
    planted = {label.defect for label in delivery.labels}
    assert len(planted - {None}) >= 12  # every kind of row defect is in the file
    delivery.write(tmp_path)
    source = _source(tmp_path, thresholds=LOW)
    run = run_source(source, "labelled", now=ARRIVAL)
    assert run.status == "published", run.hold

    outcomes = _line_outcomes(warehouse_url, run.batch_no)
    assert len(outcomes) == len(delivery.labels)
    for label in delivery.labels:
        got, expected = outcomes[label.line], label.expected
        assert got["outcome"] == expected.outcome, (label, got)
        if expected.outcome == "quarantined":
            assert got["rules"] == {expected.rule_id}, (label, got)
        if expected.outcome == "published":
            assert got["flags"] == ({expected.rule_id} if expected.action == "flag" else set())
            # Clean rows need no repair: every value was already in its canonical form.
            assert got["fixes"] == [], (label, got)

    by_outcome = {
        outcome: sum(label.expected.outcome == outcome for label in delivery.labels)
        for outcome in ("published", "quarantined", "collapsed")
    }
    assert run.counts is not None
    assert {k: run.counts[k] for k in by_outcome} == by_outcome
    assert run.counts["received"] == sum(by_outcome.values()) == 400
    # Core holds the published rows, D-C4's flagged.
    core = {row[0]: row for row in _core(warehouse_url)}
    published = [lb for lb in delivery.labels if lb.expected.outcome == "published"]
    assert set(core) == {label.dossier_id for label in published}
    flagged = {label.dossier_id for label in published if label.defect == "D-C4"}
    assert {k for k, row in core.items() if row[-1] == ["D-C4"]} == flagged != set()
    # The file went to the archive, beside the landing folder.
    (record,) = ledger(warehouse_url, source.key)
    assert record["outcome"] == "published" and record["batch_no"] == run.batch_no
    archived = tmp_path / "dossiers" / f"{PROVINCE}_archive" / str(record["file_no"])
    assert (archived / delivery.csv_name).read_bytes() == delivery.csv
    assert (archived / delivery.manifest_name).read_bytes() == delivery.manifest
    assert not any((tmp_path / "dossiers" / PROVINCE).iterdir())


VARIANTS = [
    DeliveryOptions(),
    DeliveryOptions(encoding=encodings.UTF8_SIG, delimiter=";"),
    DeliveryOptions(encoding=encodings.WINDOWS_1258),
    DeliveryOptions(encoding=encodings.WINDOWS_1258, decompose_all=True, delimiter=";"),
    DeliveryOptions(encoding=encodings.TCVN3, shuffle_columns=True),
    DeliveryOptions(encoding=encodings.TCVN3, delimiter=";", manifest="wrong_encoding"),
    DeliveryOptions(shuffle_columns=True, delimiter=";"),
]


def test_every_encoding_delimiter_and_column_order_loads_the_same_rows(
    warehouse_url, people, tmp_path
):
    source = _source(tmp_path)
    snapshots = []
    for number, options in enumerate(VARIANTS):
        delivery = generate_dossier_delivery(
            PROVINCE, DAY, count=80, seed=3, defect_rate=0.0, population=people, options=options
        )
        # The same name each time: each later variant is a redelivery with other bytes, whose
        # rows replace the earlier ones (rule D-K2); the rows must come out the same.
        delivery.write(tmp_path)
        (run,) = drain(source, f"variant-{number}", now=ARRIVAL)
        assert run.status == "published", (options, run.hold)
        assert run.counts is not None and run.counts["published"] == 80
        snapshots.append(_core(warehouse_url))
        results = rule_results(warehouse_url, run.batch_no)
        plain = options == DeliveryOptions()
        # The repair is recorded (a batch-level fix that holds nothing) whenever one was made.
        assert results[("D-K1", "fix")]["success"] is plain, options
        if options.manifest == "wrong_encoding":
            assert "encoding=tcvn3, claimed=utf-8" in results[("D-K1", "fix")]["observed"]
    assert all(snapshot == snapshots[0] for snapshot in snapshots[1:])
    # And they are the rows the generator wrote, typed.
    delivery = generate_dossier_delivery(
        PROVINCE, DAY, count=80, seed=3, defect_rate=0.0, population=people
    )
    written = {row["dossier_id"]: row for row in delivery.rows}
    for core_row in snapshots[0]:
        row = written[core_row[0]]
        assert core_row[4] == row["applicant_name"]
        assert core_row[2] == row["procedure_name"]
        assert core_row[7] == datetime.fromisoformat(row["received_at"])
        assert core_row[10] == row["status"]
    assert {r["outcome"] for r in ledger(warehouse_url, source.key)} == {"published"}


def _withdrawing_first_dossier(correction):
    """The correction without its first dossier (withdrawn at the source), its manifest to
    match; and that dossier's id."""
    withdrawn = correction.rows[0]["dossier_id"]
    lines = correction.csv.split(b"\r\n")
    assert lines[1].startswith(withdrawn.encode())
    corrected_csv = b"\r\n".join(lines[:1] + lines[2:])
    manifest = json.loads(correction.manifest)
    manifest.update(rows=manifest["rows"] - 1, sha256=hashlib.sha256(corrected_csv).hexdigest())
    changed = replace(
        correction,
        csv=corrected_csv,
        manifest=json.dumps(manifest).encode(),
        rows=correction.rows[1:],
    )
    return changed, withdrawn


def test_a_redelivery_loads_nothing_and_a_correction_replaces_the_rows(
    warehouse_url, people, tmp_path
):
    source = _source(tmp_path, thresholds=LOW)
    first = generate_dossier_delivery(
        PROVINCE, DAY, count=120, seed=5, defect_rate=0.1, population=people
    )
    first.write(tmp_path)
    (run,) = drain(source, "first", now=ARRIVAL)
    assert run.status == "published"
    before = _core(warehouse_url)
    with psycopg.connect(warehouse_url) as conn:
        batch_count = conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0]

    # The very same bytes again: a ledger row, a duplicate, nothing loaded.
    same_file_again(first).write(tmp_path)
    assert drain(source, "again", now=ARRIVAL + timedelta(hours=5)) == []
    assert _core(warehouse_url) == before
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0] == batch_count
    original, duplicate = ledger(warehouse_url, source.key)
    assert duplicate["outcome"] == "duplicate"
    assert duplicate["duplicate_of"] == original["file_no"]
    assert duplicate["sha256"] == original["sha256"]
    assert duplicate["batch_no"] is None

    # The same name with corrected content: its rows replace the first delivery's. The
    # correction also withdraws a dossier the first delivery published: it leaves core.
    correction, withdrawn = _withdrawing_first_dossier(corrected_redelivery(first))
    assert withdrawn in {row[0] for row in before}
    correction.write(tmp_path)
    (run,) = drain(source, "corrected", now=ARRIVAL + timedelta(days=1))
    assert run.status == "published", run.hold
    assert run.counts is not None and run.counts["quarantined"] == 0
    core = {row[0]: row for row in _core(warehouse_url)}
    assert set(core) == {row["dossier_id"] for row in correction.rows}
    assert withdrawn not in core
    for row in correction.rows:
        assert core[row["dossier_id"]][10] == row["status"]
    moved_on = [r for r, o in zip(correction.rows, first.rows, strict=False) if r != o]
    assert moved_on  # some dossiers were completed meanwhile, and core says so
    # The ledger shows both deliveries; the first's quarantined rows are settled as replaced.
    records = ledger(warehouse_url, source.key)
    assert [r["outcome"] for r in records] == ["published", "duplicate", "published"]
    assert records[2]["corrects"] == original["file_no"]
    assert records[2]["sha256"] != original["sha256"]
    results = rule_results(warehouse_url, run.batch_no)
    assert results[("D-K2", "fix")]["success"] is False  # recorded: this delivery corrects one
    with psycopg.connect(warehouse_url) as conn:
        statuses = conn.execute(
            "SELECT DISTINCT status, decision_reason FROM quarantine.records WHERE batch_no = %s",
            (original["batch_no"],),
        ).fetchall()
    assert [s for s, _ in statuses] == ["rejected"]
    assert f"replaced by delivery {records[2]['file_no']}" in statuses[0][1]
    # Every delivery's files are kept, each under its own number.
    archive = tmp_path / "dossiers" / f"{PROVINCE}_archive"
    for record, data in zip(records, (first.csv, first.csv, correction.csv), strict=True):
        assert (archive / str(record["file_no"]) / first.csv_name).read_bytes() == data


def _utf16(delivery) -> tuple[bytes, bytes]:
    """The delivery's CSV in UTF-16 (not an encoding of the contract), with a true manifest."""
    text = encodings.decode(delivery.csv, encodings.UTF8)
    data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    manifest = json.loads(delivery.manifest)
    manifest["sha256"] = hashlib.sha256(data).hexdigest()
    return data, json.dumps(manifest).encode()


def test_every_delivery_problem_is_held_waits_or_loads_and_no_file_is_lost(
    warehouse_url, people, tmp_path, caplog, capfd
):
    source = _source(tmp_path)
    landing = tmp_path / "dossiers" / PROVINCE
    now = ARRIVAL + timedelta(days=10)
    today = (now + timedelta(hours=7)).date()

    def make(days_ago: int, **options):
        return generate_dossier_delivery(
            PROVINCE,
            today - timedelta(days=days_ago),
            count=40,
            seed=days_ago,
            defect_rate=0.0,
            population=people,
            options=DeliveryOptions(**options),
        )

    scenarios = {
        "wrong_rows": make(1, manifest="wrong_rows"),
        "wrong_sha256": make(2, manifest="wrong_sha256"),
        "wrong_encoding": make(3, encoding=encodings.TCVN3, manifest="wrong_encoding"),
        # Late as well: two rules hold it.
        "zero_bytes": make(12, empty="zero_bytes"),
        "header_only": make(5, empty="header_only"),
        "truncated": make(6, truncate=True),
        "missing_column": make(7, drop_column="channel", extra_column=True),
        "late": make(9, arrival_delay_days=8),
        "extra_column": make(0, extra_column=True, shuffle_columns=True),
    }
    for delivery in scenarios.values():
        delivery.write(tmp_path)
    # A CSV without its manifest; a manifest without its CSV; a CSV no contract encoding reads.
    waiting = make(4, manifest="missing")
    waiting.write(tmp_path)
    lone_manifest = make(10)
    (landing / lone_manifest.manifest_name).write_bytes(lone_manifest.manifest)
    utf16 = make(11)
    data, manifest = _utf16(utf16)
    (landing / utf16.csv_name).write_bytes(data)
    (landing / utf16.manifest_name).write_bytes(manifest)
    written = _files_under(tmp_path)

    with caplog.at_level(logging.WARNING, logger="lienthong"):
        runs = drain(source, "problems", now=now)
    assert len(runs) == 11
    status = {}
    for record in ledger(warehouse_url, source.key):
        batch = _batch(warehouse_url, record["batch_no"]) if record["batch_no"] else None
        status[record["name"]] = (record, batch)

    def outcome(delivery) -> tuple[str, str | None]:
        record, batch = status[delivery.csv_name]
        return record["outcome"], batch["hold_reason"] if batch else None

    for name in ("wrong_rows", "wrong_sha256", "truncated", "late", "missing_column"):
        result, _ = outcome(scenarios[name])
        assert result == "held", name
    assert "announces 43 rows, 40 were read" in outcome(scenarios["wrong_rows"])[1]
    assert "rule D-S1" in outcome(scenarios["wrong_sha256"])[1]
    assert "the CSV's SHA-256 is" in outcome(scenarios["wrong_sha256"])[1]
    assert "rule D-S1" in outcome(scenarios["truncated"])[1]
    assert "the CSV is cut off" in outcome(scenarios["truncated"])[1]
    assert "rule D-L1 (live)" in outcome(scenarios["late"])[1]
    assert "rule D-S2 (sufficient)" in outcome(scenarios["missing_column"])[1]
    assert "missing_column=channel" in outcome(scenarios["missing_column"])[1]
    assert outcome(scenarios["zero_bytes"])[0] == "held"
    assert "rule D-S2" in outcome(scenarios["zero_bytes"])[1]
    for name in ("wrong_encoding", "header_only", "extra_column"):
        assert outcome(scenarios[name])[0] == "published", name
    assert outcome(utf16)[0] == "held" and "rule D-K1 (clean)" in outcome(utf16)[1]
    assert "UTF-16" in outcome(utf16)[1]
    lone, lone_batch = status[lone_manifest.csv_name]
    assert lone["outcome"] == "held" and lone["location"] is None
    assert (
        f"the manifest came without its CSV {lone_manifest.csv_name}" in (lone_batch["hold_reason"])
    )
    # Rows of the published ones are in core; an extra column is kept; the held ones load nothing.
    with psycopg.connect(warehouse_url) as conn:
        per_file = dict(
            conn.execute("SELECT file_name, count(*) FROM core.dossiers GROUP BY 1").fetchall()
        )
        extra = conn.execute(
            "SELECT DISTINCT jsonb_object_keys(extra) FROM core.dossiers WHERE file_name = %s",
            (scenarios["extra_column"].csv_name,),
        ).fetchall()
        new_fields = conn.execute(
            "SELECT new_fields FROM audit.batches WHERE batch_no = %s",
            (status[scenarios["extra_column"].csv_name][0]["batch_no"],),
        ).fetchone()[0]
    assert per_file == {
        scenarios["wrong_encoding"].csv_name: 40,
        scenarios["extra_column"].csv_name: 40,
    }
    assert extra == [("ghi_chu",)] and new_fields == ["ghi_chu"]

    # The CSV without its manifest waits: recorded, reported with how long, never loaded.
    record, batch = status[waiting.csv_name]
    assert record["outcome"] == "waiting" and batch is None
    assert record["first_seen"] == now
    assert (landing / waiting.csv_name).exists()
    # (Airflow's logging may send lienthong's lines to the console rather than to caplog.)
    logged = caplog.text + capfd.readouterr().out
    assert f"{waiting.csv_name} waits for its manifest since" in logged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lienthong"):
        assert drain(source, "later", now=now + timedelta(hours=5)) == []
    logged = caplog.text + capfd.readouterr().out
    assert f"{waiting.csv_name} waits for its manifest since 2026-03-13 02:00 UTC (5 h)" in logged
    # When its manifest comes, it is taken and loads.
    complete = make(4)
    (landing / complete.manifest_name).write_bytes(complete.manifest)
    (run,) = drain(source, "manifest-came", now=now + timedelta(hours=6))
    assert run.status == "published" and run.counts["published"] == 40
    (record,) = [r for r in ledger(warehouse_url, source.key) if r["name"] == waiting.csv_name]
    assert record["outcome"] == "published" and record["first_seen"] == now

    # Nothing lost: every file written is still there, moved beside the landing folder.
    kept = _files_under(tmp_path)
    for digest, paths in written.items():
        assert digest in kept, paths
    assert sorted(p.name for p in landing.iterdir()) == []
    for path in kept.values():
        assert all(p.split("/")[1] in (f"{PROVINCE}_archive", f"{PROVINCE}_held") for p in path)


def test_an_operator_rejects_or_approves_a_held_file(warehouse_url, people, tmp_path):
    source = _source(tmp_path)
    lying = generate_dossier_delivery(
        PROVINCE,
        DAY,
        count=30,
        seed=8,
        defect_rate=0.0,
        population=people,
        options=DeliveryOptions(manifest="wrong_sha256"),
    )
    late = generate_dossier_delivery(
        PROVINCE,
        DAY - timedelta(days=9),
        count=30,
        seed=9,
        defect_rate=0.0,
        population=people,
    )
    lying.write(tmp_path)
    late.write(tmp_path)
    first, second = drain(source, "held", now=ARRIVAL)
    assert first.status == second.status == "held"
    records = {r["name"]: r for r in ledger(warehouse_url, source.key)}
    held = tmp_path / "dossiers" / f"{PROVINCE}_held"
    assert sorted(p.name for p in held.iterdir()) == sorted(
        str(r["file_no"]) for r in records.values()
    )
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        decisions.reject_batch(
            conn,
            records[lying.csv_name]["batch_no"],
            user="operator@40",
            reason="the province resends it",
        )
        decisions.approve_batch(
            conn,
            records[late.csv_name]["batch_no"],
            user="operator@40",
            reason="late, but right",
        )
        published = conn.execute(
            "SELECT published FROM audit.batches WHERE batch_no = %s",
            (records[late.csv_name]["batch_no"],),
        ).fetchone()[0]
    assert published == 30
    rejected = (
        tmp_path / "dossiers" / f"{PROVINCE}_rejected" / str(records[lying.csv_name]["file_no"])
    )
    assert (rejected / lying.csv_name).read_bytes() == lying.csv
    assert (rejected / lying.manifest_name).read_bytes() == lying.manifest
    reason = (rejected / f"{lying.csv_name}.reason.txt").read_text(encoding="utf-8")
    assert "rule D-S1 (sufficient)" in reason and "SHA-256" in reason
    assert "rejected by operator@40" in reason and "the province resends it" in reason
    archived = (
        tmp_path / "dossiers" / f"{PROVINCE}_archive" / str(records[late.csv_name]["file_no"])
    )
    assert (archived / late.csv_name).read_bytes() == late.csv
    assert not any(held.rglob("*.csv"))
    outcomes = {r["name"]: r["outcome"] for r in ledger(warehouse_url, source.key)}
    assert outcomes == {lying.csv_name: "rejected", late.csv_name: "published"}
    with psycopg.connect(warehouse_url) as conn:
        names = conn.execute("SELECT DISTINCT file_name FROM core.dossiers").fetchall()
    assert names == [(late.csv_name,)]


def test_a_rejected_file_sent_again_with_its_manifest_corrected_loads(
    warehouse_url, people, tmp_path
):
    # The manifest lied (its checksum), the operator rejected the file and asked for it again;
    # the province resends the very same CSV with a true manifest. The rejected delivery loaded
    # nothing, so these bytes are not a duplicate of it: they load (rule D-K2: loads once).
    source = _source(tmp_path)
    lying = generate_dossier_delivery(
        PROVINCE,
        DAY,
        count=30,
        seed=8,
        defect_rate=0.0,
        population=people,
        options=DeliveryOptions(manifest="wrong_sha256"),
    )
    lying.write(tmp_path)
    (held,) = drain(source, "lying", now=ARRIVAL)
    assert held.status == "held"
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        decisions.reject_batch(
            conn, held.batch_no, user="operator@40", reason="the province resends it"
        )
    manifest = json.loads(lying.manifest)
    manifest["sha256"] = hashlib.sha256(lying.csv).hexdigest()
    resent = replace(lying, manifest=json.dumps(manifest).encode())
    resent.write(tmp_path)

    (run,) = drain(source, "resent", now=ARRIVAL + timedelta(hours=3))
    assert run.status == "published", run.hold
    assert run.counts is not None and run.counts["published"] == 30
    assert {row[0] for row in _core(warehouse_url)} == {row["dossier_id"] for row in lying.rows}
    first, second = ledger(warehouse_url, source.key)
    assert (first["outcome"], second["outcome"]) == ("rejected", "published")
    assert second["sha256"] == first["sha256"] and second["duplicate_of"] is None
    # The same bytes once more are a duplicate of the delivery that loaded them.
    resent.write(tmp_path)
    assert drain(source, "third", now=ARRIVAL + timedelta(hours=6)) == []
    third = ledger(warehouse_url, source.key)[-1]
    assert third["outcome"] == "duplicate" and third["duplicate_of"] == second["file_no"]


def test_a_held_file_its_published_correction_replaced_is_not_approved(
    warehouse_url, people, tmp_path
):
    # The first delivery is held (its manifest's checksum lies); the province corrects the
    # file, withdrawing a dossier, and the correction publishes. Approving the held one now
    # would bring the withdrawn dossier back: refused, nothing changed.
    source = _source(tmp_path)
    first = generate_dossier_delivery(
        PROVINCE,
        DAY,
        count=30,
        seed=9,
        defect_rate=0.0,
        population=people,
        options=DeliveryOptions(manifest="wrong_sha256"),
    )
    first.write(tmp_path)
    (held,) = drain(source, "held", now=ARRIVAL)
    assert held.status == "held"
    correction, withdrawn = _withdrawing_first_dossier(corrected_redelivery(first))
    correction.write(tmp_path)
    (run,) = drain(source, "corrected", now=ARRIVAL + timedelta(hours=3))
    assert run.status == "published", run.hold
    published = _core(warehouse_url)
    assert withdrawn not in {row[0] for row in published}

    with (
        psycopg.connect(warehouse_url, autocommit=True) as conn,
        pytest.raises(decisions.DecisionError, match=r"corrected by delivery .*reject it instead"),
    ):
        decisions.approve_batch(conn, held.batch_no, user="operator@40", reason="looks fine")
    assert _core(warehouse_url) == published
    with psycopg.connect(warehouse_url) as conn:
        status = conn.execute(
            "SELECT status FROM audit.batches WHERE batch_no = %s", (held.batch_no,)
        ).fetchone()[0]
        decided = conn.execute("SELECT count(*) FROM audit.decisions").fetchone()[0]
    assert (status, decided) == ("held", 0)
    # Rejecting it stays open to the operator.
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        decisions.reject_batch(conn, held.batch_no, user="operator@40", reason="corrected since")
    assert _core(warehouse_url) == published


def test_a_csv_whose_manifest_never_comes_is_held_after_a_day(warehouse_url, people, tmp_path):
    # "A CSV with no manifest": it waits for it a day, then its batch is held by D-S1 for an
    # operator to decide, rather than wait unseen for ever. Approved, its rows load.
    source = _source(tmp_path)
    lone = generate_dossier_delivery(
        PROVINCE,
        DAY,
        count=25,
        seed=10,
        defect_rate=0.0,
        population=people,
        options=DeliveryOptions(manifest="missing"),
    )
    lone.write(tmp_path)
    assert drain(source, "first-seen", now=ARRIVAL) == []
    assert drain(source, "still-waiting", now=ARRIVAL + timedelta(hours=23)) == []
    (run,) = drain(source, "a-day-later", now=ARRIVAL + timedelta(hours=24))
    assert run.status == "held"
    assert "no manifest" in run.hold
    (record,) = ledger(warehouse_url, source.key)
    assert (record["outcome"], record["first_seen"]) == ("held", ARRIVAL)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        decisions.approve_batch(
            conn, run.batch_no, user="operator@40", reason="the province confirmed the file"
        )
    assert {row[0] for row in _core(warehouse_url)} == {row["dossier_id"] for row in lone.rows}


def test_too_many_unknown_applicants_hold_the_file(warehouse_url, people, tmp_path):
    source = _source(tmp_path)
    delivery = generate_dossier_delivery(
        PROVINCE, DAY, count=100, seed=4, defect_rate=0.2, defects=["D-C4"], population=people
    )
    unknown = sum(label.defect == "D-C4" for label in delivery.labels)
    assert unknown > 5
    delivery.write(tmp_path)
    run = run_source(source, "unknown", now=ARRIVAL)
    assert run.status == "held"
    assert "rule D-C4 (correct)" in run.hold
    assert f"applicants=100, found={100 - unknown}" in run.hold


def test_a_retried_run_reads_the_same_file_and_runs_take_the_oldest_first(
    warehouse_url, people, tmp_path
):
    source = _source(tmp_path)
    landing = tmp_path / "dossiers" / PROVINCE
    newer = generate_dossier_delivery(
        PROVINCE, DAY, count=20, seed=1, defect_rate=0.0, population=people
    )
    older = generate_dossier_delivery(
        PROVINCE, DAY - timedelta(days=2), count=20, seed=2, defect_rate=0.0, population=people
    )
    newer.write(tmp_path)
    older.write(tmp_path)
    # Not deliveries: another province's file, a name off the contract, an editor's lock file.
    (landing / "dossiers_01_20260301.csv").write_bytes(b"dossier_id\n")
    (landing / "notes.txt").write_text("hello")
    (landing / "~$dossiers.csv").write_text("lock")

    key = f"{source.key}:retried"
    batch_no = sync.extract(source, key, now=ARRIVAL)
    taken = [r for r in ledger(warehouse_url, source.key) if r["outcome"] == "taken"]
    assert [r["name"] for r in taken] == [older.csv_name]
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        batches.fail(conn, batch_no, "killed")
    # An even older file arrives meanwhile; the retry still reads the file its run took.
    oldest = generate_dossier_delivery(
        PROVINCE, DAY - timedelta(days=4), count=20, seed=3, defect_rate=0.0, population=people
    )
    oldest.write(tmp_path)
    assert sync.extract(source, key, now=ARRIVAL + timedelta(minutes=5)) == batch_no
    sync.validate(source, batch_no)
    sync.publish(source, batch_no)
    record = next(r for r in ledger(warehouse_url, source.key) if r["batch_no"] == batch_no)
    assert record["name"] == older.csv_name and record["outcome"] == "published"

    runs = drain(source, "next", now=ARRIVAL + timedelta(hours=1))
    names = [
        next(r["name"] for r in ledger(warehouse_url, source.key) if r["batch_no"] == run.batch_no)
        for run in runs
    ]
    assert names == [oldest.csv_name, newer.csv_name]
    records = {r["name"]: r for r in ledger(warehouse_url, source.key)}
    for stray in ("dossiers_01_20260301.csv", "notes.txt"):
        assert records[stray]["outcome"] == "ignored"
        assert (landing / stray).exists()
    assert "province 01" in records["dossiers_01_20260301.csv"]["reason"]
    assert "~$dossiers.csv" not in records and (landing / "~$dossiers.csv").exists()


def test_a_waiting_file_that_leaves_is_recorded_as_gone(warehouse_url, people, tmp_path):
    source = _source(tmp_path)
    delivery = generate_dossier_delivery(
        PROVINCE,
        DAY,
        count=10,
        seed=1,
        defect_rate=0.0,
        population=people,
        options=DeliveryOptions(manifest="missing"),
    )
    (path,) = delivery.write(tmp_path)
    assert run_source(source, "first", now=ARRIVAL).batch_no is None
    path.unlink()  # the province withdrew it
    assert run_source(source, "second", now=ARRIVAL + timedelta(hours=1)).batch_no is None
    (record,) = ledger(warehouse_url, source.key)
    assert record["outcome"] == "gone"
    assert "left the landing area before it was taken" in record["reason"]


def test_the_dossier_tables_are_documented(warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        undocumented = conn.execute(
            """SELECT c.table_schema || '.' || c.table_name || '.' || c.column_name
               FROM information_schema.columns c
               JOIN pg_class t ON t.relname = c.table_name
               JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = c.table_schema
               WHERE (c.table_schema, c.table_name) IN (('core', 'dossiers'),
                        ('staging', 'dossiers'), ('core', 'p06_tasks'), ('staging', 'p06_tasks'),
                        ('audit', 'landing_files'), ('marts', 'p06_task_progress'))
                 AND col_description(t.oid, c.ordinal_position) IS NULL"""
        ).fetchall()
    assert undocumented == []


def test_another_provinces_export_in_the_folder_is_left_alone(warehouse_url, people, tmp_path):
    """The landing folder is one province's: an export named for another is not loaded."""
    delivery = generate_dossier_delivery(
        PROVINCE, DAY, count=10, seed=1, defect_rate=0.0, population=people
    )
    folder = tmp_path / "dossiers" / "01"
    folder.mkdir(parents=True)
    (folder / delivery.csv_name).write_bytes(delivery.csv)
    (folder / delivery.manifest_name).write_bytes(delivery.manifest)
    source = Source(dataset="dossiers", province="01", path=str(folder))
    assert run_source(source, "misplaced", now=ARRIVAL).batch_no is None
    records = ledger(warehouse_url, source.key)
    assert {r["outcome"] for r in records} == {"ignored"} and len(records) == 2
    assert (folder / delivery.csv_name).exists()


def test_a_file_whose_run_failed_for_good_is_taken_by_the_next_run(warehouse_url, people, tmp_path):
    source = _source(tmp_path)
    delivery = generate_dossier_delivery(
        PROVINCE, DAY, count=20, seed=1, defect_rate=0.0, population=people
    )
    delivery.write(tmp_path)
    batch_no = sync.extract(source, f"{source.key}:killed", now=ARRIVAL)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # What the DAG's failure callback does once the run's retries are exhausted.
        assert batches.fail_run(conn, f"{source.key}:killed", "killed") == batch_no
    run = run_source(source, "next", now=ARRIVAL + timedelta(hours=1))
    assert run.status == "published" and run.batch_no != batch_no
    (record,) = ledger(warehouse_url, source.key)
    assert record["batch_no"] == run.batch_no and record["outcome"] == "published"
    assert record["first_seen"] == ARRIVAL
