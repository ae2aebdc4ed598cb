"""The population sync end to end on real parts: demo server over loopback, real PostgreSQL, real GX."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import sync as pipeline_sync
from lienthong.pipeline.batches import BatchError, BatchHeld
from lienthong.settings import PROJECT_ROOT
from lienthong.text.vietnamese import normalise_text
from lienthong.warehouse.connection import with_database
from lienthong_demo.citizens import DEFECTS, generate_citizens

from .population_fixtures import ministry, run_batch, snapshot
from .population_fixtures import population_sync as sync

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _run(batch_key: str, *, full: bool = True, now: datetime = NOW) -> tuple[int, dict]:
    return run_batch(batch_key, full=full, now=now)


@pytest.fixture(scope="module")
def defective_batch() -> list:
    """3,000 citizens, 6 % of them carrying one labelled defect of every row rule."""
    return list(generate_citizens(3000, seed=11, defect_rate=0.06, now=NOW))


def test_quarantine_holds_exactly_the_defective_rows_under_their_rules(
    warehouse_url, monkeypatch, defective_batch
):
    with ministry(monkeypatch, [c.item for c in defective_batch]):
        batch_no, counts = _run("population:labelled")

    expected_rules: dict[int, set[str]] = {}
    for row_no, citizen in enumerate(defective_batch):
        want = DEFECTS[citizen.defect] if citizen.defect else None
        expected_rules[row_no] = {want.rule_id} if want and want.outcome == "quarantined" else set()
    with psycopg.connect(warehouse_url) as conn:
        found: dict[int, set[str]] = defaultdict(set)
        for row_no, rule_id in conn.execute(
            "SELECT row_no, rule_id FROM audit.findings WHERE batch_no = %s AND action = 'quarantine'",
            (batch_no,),
        ):
            found[row_no].add(rule_id)
        quarantined = {
            row_no: set(rules)
            for row_no, rules in conn.execute(
                "SELECT row_no, rule_ids FROM quarantine.records WHERE batch_no = %s", (batch_no,)
            )
        }
        collapsed = {
            row_no
            for (row_no,) in conn.execute(
                "SELECT row_no FROM staging.population WHERE batch_no = %s AND collapsed IS NOT NULL",
                (batch_no,),
            )
        }
        core_ids = {pid for (pid,) in conn.execute("SELECT personal_id FROM core.population")}
        # A failed SQL row rule's record names its count and its first rows (P-C6, addresses).
        (p_c6,) = conn.execute(
            "SELECT observed_value FROM audit.rule_results WHERE batch_no = %s AND rule_id = 'P-C6'",
            (batch_no,),
        ).fetchone()

    first_p_c6 = sorted(r for r, rules in expected_rules.items() if "P-C6" in rules)
    assert p_c6 == f"{len(first_p_c6)}: " + "; ".join(f"row_no={r}" for r in first_p_c6[:10]) + (
        "; …" if len(first_p_c6) > 10 else ""
    )
    # Every planted quarantine defect is found under its own rule, and nothing else is.
    assert {r: rules for r, rules in found.items()} == {
        r: rules for r, rules in expected_rules.items() if rules
    }
    assert quarantined == {r: rules for r, rules in expected_rules.items() if rules}
    labels = {c.defect for c in defective_batch}
    assert {"P-C1", "P-C6", "P-K2", "P-K3:tie", "P-L2", "P-L3:split", "P-S1"} <= labels
    # Exact copies and superseded versions collapse; the rest of each outcome adds up.
    assert collapsed == {
        r
        for r, c in enumerate(defective_batch)
        if c.defect and DEFECTS[c.defect].outcome == "collapsed"
    }
    assert counts["received"] == 3000
    assert counts["received"] == counts["published"] + counts["quarantined"] + counts["collapsed"]
    assert counts["quarantined"] == len(quarantined)
    assert counts["published"] == len(core_ids)


def test_fixed_rows_are_published_fixed_with_their_originals_kept(
    warehouse_url, monkeypatch, defective_batch
):
    with ministry(monkeypatch, [c.item for c in defective_batch]):
        batch_no, counts = _run("population:fixes")
    fixed_rows = {
        r: c for r, c in enumerate(defective_batch) if c.defect in ("P-K1", "P-K4", "P-L3:whole")
    }
    assert fixed_rows, "the generator planted fixable defects"
    with psycopg.connect(warehouse_url) as conn:
        fixes = defaultdict(dict)
        for row_no, rule_id, field, original, fixed in conn.execute(
            "SELECT row_no, rule_id, field, original, fixed FROM audit.fixes WHERE batch_no = %s",
            (batch_no,),
        ):
            fixes[row_no][field] = (rule_id, original, fixed)
        core = {
            row[0]: row
            for row in conn.execute(
                "SELECT personal_id, full_name, perm_province_code, perm_commune_code, perm_detail,"
                " ethnicity_code FROM core.population"
            )
        }
        current = set(
            conn.execute("SELECT province_code, commune_code FROM ref.communes").fetchall()
        )
    for row_no, citizen in fixed_rows.items():
        item = citizen.item
        published = core[item["personal_id"]]
        rule = DEFECTS[citizen.defect].rule_id
        assert {r for r, _, _ in fixes[row_no].values()} == {rule}, (citizen.defect, fixes[row_no])
        for field, (_, original, _fixed) in fixes[row_no].items():
            top, _, sub = field.partition(".")
            raw = item[top][sub] if sub else item[top]
            assert original == raw  # the value as received is kept
        assert published[1] == normalise_text(item["full_name"])
        assert (published[2], published[3]) in current  # padded or remapped to a current commune
    assert counts["fixed"] == len(fixed_rows)


def test_same_batch_twice_leaves_the_warehouse_as_once(warehouse_url, monkeypatch, defective_batch):
    with ministry(monkeypatch, [c.item for c in defective_batch]):
        _run("population:twice")
        once = snapshot(warehouse_url)
        _run("population:twice")
        assert snapshot(warehouse_url) == once
        # Each step rerun on its own is a no-op too.
        batch_no = once["batches"][0][0]
        assert sync.publish(batch_no)["published"] == once["batches"][0][6]
        assert snapshot(warehouse_url) == once


def test_crash_between_staging_and_publish_then_rerun_gives_the_same_warehouse(
    warehouse_url, pg_admin_url, template_database, monkeypatch, defective_batch
):
    items = [c.item for c in defective_batch]
    with ministry(monkeypatch, items):
        # A worker stages the batch and dies (SIGKILL-like exit) before validating.
        code = (
            "import os, sys; from datetime import datetime;"
            "from tests.integration.population_fixtures import population_sync as sync;"
            f"sync.extract('population:crash', full=True, now=datetime.fromisoformat('{NOW.isoformat()}'));"
            "os._exit(9)"
        )
        died = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            capture_output=True,
        )
        assert died.returncode == 9, died.stderr.decode()[-2000:]
        with psycopg.connect(warehouse_url) as conn:
            assert conn.execute("SELECT status FROM audit.batches").fetchone()[0] == "staged"
            assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 0

        # A publish that fails mid-transaction leaves nothing behind either.
        batch_no = sync.extract("population:crash", full=True, now=NOW)
        sync.validate(batch_no)
        from lienthong.pipeline import publish as publishing

        def crash_after_quarantine(*args, **kwargs):
            raise RuntimeError("worker killed mid-publish")

        with monkeypatch.context() as patched:
            patched.setattr(publishing.watermark, "advance", crash_after_quarantine)
            with pytest.raises(RuntimeError, match="mid-publish"):
                sync.publish(batch_no)
        with psycopg.connect(warehouse_url) as conn:
            assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM quarantine.records").fetchone()[0] == 0

        # The rerun of the whole run finishes the batch.
        _run("population:crash")
        crashed = snapshot(warehouse_url)

    # The same batch in a warehouse where nothing crashed.
    clean_db = f"lt_clean_{os.getpid()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{clean_db}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{clean_db}" TEMPLATE "{template_database}"')
    clean_url = with_database(warehouse_url, clean_db)
    try:
        monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", clean_url)
        with ministry(monkeypatch, items):
            _run("population:crash")
        assert snapshot(clean_url) == crashed
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{clean_db}" WITH (FORCE)')


def _clean_items(count: int, **options) -> list[dict]:
    return [c.item for c in generate_citizens(count, seed=3, defect_rate=0.0, now=NOW, **options)]


@pytest.mark.parametrize(
    ("server_options", "rule", "dimension"),
    [
        ({"total_offset": 7}, "P-S2", "sufficient"),
        ({"drop_field": "household_id"}, "P-S3", "sufficient"),
    ],
)
def test_batch_rules_hold_the_batch(warehouse_url, monkeypatch, server_options, rule, dimension):
    with ministry(monkeypatch, _clean_items(400), **server_options):
        batch_no = sync.extract("population:hold", full=True, now=NOW)
    with pytest.raises(BatchHeld, match=rf"population: rule {rule} \({dimension}\)"):
        sync.validate(batch_no)
    with pytest.raises(BatchHeld):
        sync.publish(batch_no)
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("SELECT status FROM audit.batches").fetchone()[0] == "held"
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM audit.watermarks").fetchone()[0] == 0


def test_stale_full_extraction_is_held_by_freshness(warehouse_url, monkeypatch):
    with ministry(monkeypatch, _clean_items(200)):
        batch_no = sync.extract("population:stale", full=True, now=NOW + timedelta(days=3))
    with pytest.raises(BatchHeld, match=r"rule P-L1 \(live\)"):
        sync.validate(batch_no)


def test_dimension_under_threshold_holds_and_names_the_rule(warehouse_url, monkeypatch):
    items = [
        c.item for c in generate_citizens(500, seed=5, defect_rate=0.2, defects=["P-C4"], now=NOW)
    ]
    with ministry(monkeypatch, items):
        batch_no = sync.extract("population:threshold", full=True, now=NOW)
    with pytest.raises(
        BatchHeld, match=r"dimension correct pass rate 8\d\.\d+% is below 95% .*P-C4"
    ):
        sync.validate(batch_no)
    with pytest.raises(BatchError, match="on hold"):
        sync.publish(batch_no)


def test_incremental_run_reads_from_the_watermark(warehouse_url, monkeypatch):
    items = _clean_items(1000)
    cutoff = "2026-11-10T00:00:00Z"
    first = [i for i in items if i["updated_at"] < cutoff]
    assert 100 < len(first) < 900
    with ministry(monkeypatch, first):
        # The first run happens at the cutoff: the source held nothing newer then.
        _run("population:first", full=False, now=datetime(2026, 11, 10, tzinfo=UTC))
    with psycopg.connect(warehouse_url) as conn:
        mark = conn.execute("SELECT watermark FROM audit.watermarks").fetchone()[0]
    assert mark == max(datetime.fromisoformat(i["updated_at"]) for i in first)
    with ministry(monkeypatch, items) as server:
        batch_no, second = _run("population:second", full=False)
        asked = [r.query for r in server.requests_served]
    assert all("updated_since=" in q for q in asked)
    at_mark = sum(1 for i in items if datetime.fromisoformat(i["updated_at"]) >= mark)
    assert second["received"] == at_mark  # the inclusive bound re-reads the watermark's second
    with psycopg.connect(warehouse_url) as conn:
        assert (
            conn.execute(
                "SELECT mode FROM audit.batches WHERE batch_no = %s", (batch_no,)
            ).fetchone()[0]
            == "incremental"
        )
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 1000


def test_validation_reads_a_vacuumed_analysed_staging(warehouse_url, monkeypatch):
    # The suites read the batch after a VACUUM (hint bits set, pages all-visible) and with
    # statistics: otherwise the same batch validates at a speed that depends on autovacuum.
    with ministry(monkeypatch, _clean_items(600)):
        batch_no = sync.extract("population:vacuum", full=True, now=NOW)
    query = (
        "SELECT relpages, relallvisible, reltuples FROM pg_class"
        " WHERE oid = 'staging.population'::regclass"
    )
    with psycopg.connect(warehouse_url) as conn:
        _, visible_before, _ = conn.execute(query).fetchone()
    assert visible_before == 0  # freshly copied rows are not all-visible yet
    sync.validate(batch_no)
    with psycopg.connect(warehouse_url) as conn:
        _, visible, tuples = conn.execute(query).fetchone()
        # Pages that hold rows (a bulk-extended table may end in empty pages, never marked).
        filled = conn.execute(
            "SELECT count(DISTINCT (ctid::text::point)[0]) FROM staging.population"
        ).fetchone()[0]
    assert filled > 0 and visible >= filled
    assert tuples >= 600


def test_a_small_batch_beside_a_large_staging_table_is_analysed_by_its_own_columns(
    warehouse_url, monkeypatch
):
    def statistics(column: str):
        with psycopg.connect(warehouse_url) as conn:
            return conn.execute(
                """SELECT most_common_vals::text, histogram_bounds::text FROM pg_stats
                   WHERE schemaname = 'staging' AND tablename = 'population'
                     AND attname = %s""",
                (column,),
            ).fetchone()

    # The newest 600 first, so that the large batch is live (rule P-L1) and is published.
    items = sorted(_clean_items(660), key=lambda item: item["updated_at"], reverse=True)
    with ministry(monkeypatch, items[:600]):
        first, _ = _run("population:large")
    names_before = statistics("full_name")
    with ministry(monkeypatch, items[600:]):
        second = sync.extract("population:small", full=True, now=NOW)
    # The planner knows the new batch (its rows were sampled) ...
    batch_stats = statistics("batch_no")
    assert str(second) in (batch_stats[0] or "") + (batch_stats[1] or "")
    # ... and the names it had seen are as they were: that column was not analysed again.
    assert statistics("full_name") == names_before
    with psycopg.connect(warehouse_url) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM staging.population WHERE batch_no = %s", (second,)
            ).fetchone()[0]
            == 60
        )
    # A batch as large as a tenth of the table is analysed whole.
    pipeline_sync.fail_run("population:small", "done with")  # one open batch per source
    with ministry(monkeypatch, items[:600]):
        third = sync.extract("population:large-again", full=True, now=NOW)
    assert statistics("full_name") != names_before
    assert third > second > first


def test_validation_on_a_connection_in_a_transaction_analyses_only(warehouse_url):
    from lienthong.pipeline.validation import prepare_staging

    with psycopg.connect(warehouse_url) as conn:  # not autocommit: VACUUM would fail here
        conn.execute("CREATE TABLE staging.vacuum_probe AS SELECT g FROM generate_series(1, 500) g")
        prepare_staging(conn, "staging.vacuum_probe")
        pages, visible, tuples = conn.execute(
            "SELECT relpages, relallvisible, reltuples FROM pg_class"
            " WHERE oid = 'staging.vacuum_probe'::regclass"
        ).fetchone()
        conn.rollback()
    assert (pages > 0, visible, tuples) == (True, 0, 500)


def test_validation_analyses_staging_only_where_statistics_do_not_know_the_batch(warehouse_url):
    from lienthong.pipeline.validation import prepare_staging

    def counts(conn):
        # A fresh snapshot of the server's counters each time (they are cached per transaction).
        conn.execute("SELECT pg_stat_clear_snapshot()")
        return conn.execute(
            """SELECT vacuum_count, analyze_count FROM pg_stat_user_tables
               WHERE relid = 'staging.analyse_probe'::regclass"""
        ).fetchone()

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(
            """CREATE TABLE staging.analyse_probe AS
               SELECT 1 AS batch_no, g AS row_no FROM generate_series(1, 20000) g"""
        )
        try:
            conn.execute("ANALYZE staging.analyse_probe")
            # Batch 2 staged after the last ANALYZE: statistics have never seen it.
            conn.execute(
                "INSERT INTO staging.analyse_probe SELECT 2, g FROM generate_series(1, 6000) g"
            )
            before = counts(conn)
            prepare_staging(conn, "staging.analyse_probe", batch_no=2, rows=6000)
            after_first = counts(conn)
            assert after_first == (before[0] + 1, before[1] + 1)  # VACUUM with ANALYZE
            # Now they know it: vacuumed again, not analysed.
            prepare_staging(conn, "staging.analyse_probe", batch_no=2, rows=6000)
            assert counts(conn) == (after_first[0] + 1, after_first[1])
        finally:
            conn.execute("DROP TABLE staging.analyse_probe")


def test_validation_sessions_scan_a_batch_on_every_core_without_jit(warehouse_url):
    # GX's engine gets the planner costs and JIT off in its session options, beside any the
    # URL had.
    from sqlalchemy import create_engine, text

    from lienthong.pipeline.staging import BATCH_SCAN_SETTINGS
    from lienthong.pipeline.validation import _with_session_settings
    from lienthong.warehouse.connection import sqlalchemy_url

    joiner = "&" if "?" in warehouse_url else "?"  # the embedded server's URL has a query
    url = sqlalchemy_url(f"{warehouse_url}{joiner}options=-c%20search_path%3Dstaging")
    engine = create_engine(_with_session_settings(url))
    try:
        with engine.connect() as session:
            shown = {
                name: session.execute(text(f"SHOW {name}")).scalar_one()
                for name in (*BATCH_SCAN_SETTINGS, "search_path")
            }
    finally:
        engine.dispose()
    assert shown == {**BATCH_SCAN_SETTINGS, "search_path": "staging"}


def test_new_fields_are_recorded_and_kept_not_fatal(warehouse_url, monkeypatch):
    items = [{**item, "blood_type": "O", "tax_code": None} for item in _clean_items(300)]
    with ministry(monkeypatch, items):
        batch_no, counts = _run("population:new-fields")
    assert counts["published"] == 300
    with psycopg.connect(warehouse_url) as conn:
        new_fields = conn.execute(
            "SELECT new_fields FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
        assert new_fields == ["blood_type", "tax_code"]
        extras = conn.execute("SELECT DISTINCT extra FROM core.population").fetchall()
        assert extras == [({"blood_type": "O", "tax_code": None},)]


@pytest.mark.parametrize(
    ("kind", "query", "error"),
    [
        (
            "unexpected_rows_expectation",
            "SELECT row_no FROM {batch} WHERE no_such_column",
            "no_such_column",
        ),
        (
            "unexpected_row_count_expectation",
            "SELECT row_no FROM {batch} WHERE no_such_column",
            "no_such_column",
        ),
        # Ours keeps the selected rows as a table: its columns need names of their own.
        (
            "unexpected_row_count_expectation",
            "SELECT row_no, row_no FROM {batch} WHERE full_name IS NULL",
            'column "row_no" specified more than once',
        ),
    ],
)
def test_a_broken_rule_fails_loudly_naming_the_rule(
    warehouse_url, monkeypatch, tmp_path, kind, query, error
):
    import dataclasses
    import json
    import shutil

    from lienthong.pipeline import validation
    from lienthong.population.dataset import POPULATION
    from lienthong.warehouse.connection import sqlalchemy_url

    suites = tmp_path / "population"
    shutil.copytree(POPULATION.suites_dir, suites)
    rows = json.loads((suites / "rows.json").read_text("utf-8"))
    rows["expectations"].append(
        {
            "type": kind,
            "description": "a rule whose SQL cannot run",
            "meta": {
                "rule_id": "P-X9",
                "dimension": "clean",
                "level": "row",
                "action": "quarantine",
            },
            "kwargs": {"unexpected_rows_query": query},
        }
    )
    (suites / "rows.json").write_text(json.dumps(rows), "utf-8")
    with ministry(monkeypatch, _clean_items(50)):
        batch_no = sync.extract("population:broken-rule", full=True, now=NOW)
    broken = dataclasses.replace(POPULATION, suites_path=suites)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        with pytest.raises(
            validation.RuleError, match=r"population\.rows: rule P-X9 .*" + re.escape(error)
        ):
            validation.validate(conn, sqlalchemy_url(warehouse_url), broken, batch_no)
        # Nothing was recorded as if the data had failed; the batch stays staged.
        assert conn.execute("SELECT status FROM audit.batches").fetchone()[0] == "staged"
        assert conn.execute("SELECT count(*) FROM audit.findings").fetchone()[0] == 0
        # Nor is any rule's kept rows left behind.
        kept = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rule\\_rows\\_%'"
        assert conn.execute(kept).fetchone()[0] == 0


def test_a_sql_rule_runs_its_query_once_for_its_count_and_its_findings(
    warehouse_url, monkeypatch, tmp_path
):
    """Our SQL rule type keeps the rows its query selects while GX counts them, and the
    findings are read from those; GX's own type (still accepted) fetches rows, counts them,
    and the findings run the query again. Each rule's query counts its own runs."""
    import dataclasses
    import json
    import shutil

    from lienthong.pipeline import validation
    from lienthong.population.dataset import POPULATION
    from lienthong.warehouse.connection import sqlalchemy_url

    suites = tmp_path / "population"
    shutil.copytree(POPULATION.suites_dir, suites)
    rows = json.loads((suites / "rows.json").read_text("utf-8"))
    for rule_id, kind, row_no in (
        ("P-X1", "unexpected_row_count_expectation", 1),
        ("P-X2", "unexpected_rows_expectation", 2),
    ):
        counter = f"public.runs_{rule_id[-2:].lower()}"
        rows["expectations"].append(
            {
                "type": kind,
                "description": f"row {row_no}, counting the runs of this query",
                "meta": {
                    "rule_id": rule_id,
                    "dimension": "clean",
                    "level": "row",
                    "action": "quarantine",
                },
                "kwargs": {
                    # An uncorrelated subquery runs once per run of the query.
                    "unexpected_rows_query": f"SELECT row_no FROM {{batch}} WHERE row_no ="
                    f" (SELECT nextval('{counter}') * 0 + {row_no})"
                },
            }
        )
    (suites / "rows.json").write_text(json.dumps(rows), "utf-8")
    with ministry(monkeypatch, _clean_items(40)):
        batch_no = sync.extract("population:counted-rules", full=True, now=NOW)
    counted = dataclasses.replace(POPULATION, suites_path=suites)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        for counter in ("public.runs_x1", "public.runs_x2"):
            conn.execute(f"CREATE SEQUENCE {counter}")
        outcome = validation.validate(conn, sqlalchemy_url(warehouse_url), counted, batch_no)
        runs = {
            counter: conn.execute(f"SELECT last_value FROM {counter}").fetchone()[0]
            for counter in ("public.runs_x1", "public.runs_x2")
        }
        findings = conn.execute(
            "SELECT rule_id, row_no FROM audit.findings WHERE batch_no = %s ORDER BY rule_id",
            (batch_no,),
        ).fetchall()
        recorded = conn.execute(
            """SELECT rule_id, expectation, success, unexpected_count, observed_value
               FROM audit.rule_results WHERE batch_no = %s AND rule_id LIKE 'P-X%%'
               ORDER BY rule_id""",
            (batch_no,),
        ).fetchall()
        kept = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rule\\_rows\\_%%'"
        ).fetchone()[0]
    # Ours: once, kept and counted. GX's: its rows, its count, then the findings.
    assert runs == {"public.runs_x1": 1, "public.runs_x2": 3}
    assert kept == 0  # the kept rows are dropped once recorded
    assert findings == [("P-X1", 1), ("P-X2", 2)]
    assert outcome.failed_rules == {"P-X1": 1, "P-X2": 1}
    assert recorded == [
        ("P-X1", "unexpected_row_count_expectation", False, 1, "1: row_no=1"),
        ("P-X2", "unexpected_rows_expectation", False, 1, "1: row_no=2"),
    ]


def test_failed_column_rules_find_their_rows_in_one_scan(warehouse_url, monkeypatch):
    """Several failed column rules: their failing rows are selected by one pass over the batch
    (not one query each), with the values and reasons each rule's own query gave, two
    expectations of one rule on one row included."""
    from lienthong.pipeline import validation

    items = _clean_items(40)
    items[3]["sex"] = "X"
    items[5]["ethnicity_code"] = "77"
    items[5]["nationality"] = "XX"
    items[7]["full_name"] = None
    items[9]["sex"] = None
    own_queries = []
    separate = validation._failing_rows_sql

    def spy(expectation_type, kwargs, result, view):
        own_queries.append((expectation_type, kwargs.get("column")))
        return separate(expectation_type, kwargs, result, view)

    monkeypatch.setattr(validation, "_failing_rows_sql", spy)
    with ministry(monkeypatch, items):
        batch_no, _ = _run("population:column-rules-one-scan")
    with psycopg.connect(warehouse_url) as conn:
        findings = dict(
            (((row_no, rule_id), reason))
            for row_no, rule_id, reason in conn.execute(
                """SELECT row_no, rule_id, reason FROM audit.findings
                   WHERE batch_no = %s AND rule_id IN ('P-C7', 'P-S1')""",
                (batch_no,),
            )
        )
        left = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'failing_column_rows'"
        ).fetchone()[0]
    assert findings == {
        (3, "P-C7"): 'sex is M or F (got "X")',
        (5, "P-C7"): 'ethnicity_code is 01 to 54 (got "77"); nationality is an ISO 3166-1'
        ' alpha-2 country code (got "XX")',
        (7, "P-S1"): "full_name is present",
        (9, "P-S1"): "sex is present",
    }
    # No column rule ran a query of its own; nothing is left behind.
    assert [q for q in own_queries if q[0] not in validation.SQL_RULE_TYPES] == []
    assert left == 0


def test_sql_rules_are_stored_ahead_by_sessions_of_their_own(
    warehouse_url, monkeypatch, defective_batch
):
    """While GX runs one metric at a time, two sessions of our own store every SQL rule's
    rows; the findings are those of GX running each rule's query itself."""
    import contextlib
    import threading

    from lienthong.pipeline import rule_query

    with ministry(monkeypatch, [c.item for c in defective_batch]):
        batch_no = sync.extract("population:stored-ahead", full=True, now=NOW)
    findings = (
        "SELECT row_no, rule_id, reason FROM audit.findings WHERE batch_no = %s ORDER BY 1, 2, 3"
    )
    stored = []
    store = rule_query._store

    def spy(engine, table, query):
        stored.append((threading.current_thread().name.split("_")[0], table))
        return store(engine, table, query)

    monkeypatch.setattr(rule_query, "_store", spy)
    with monkeypatch.context() as alone:
        alone.setattr(rule_query, "stored_ahead", lambda url, rules: contextlib.nullcontext())
        with contextlib.suppress(BatchHeld):
            sync.validate(batch_no)
    by_gx = list(stored)
    with psycopg.connect(warehouse_url) as conn:
        expected = conn.execute(findings, (batch_no,)).fetchall()
    stored.clear()
    with contextlib.suppress(BatchHeld):
        sync.validate(batch_no)
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(findings, (batch_no,)).fetchall() == expected
        left = "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'rule\\_rows\\_%'"
        assert conn.execute(left).fetchone()[0] == 0
    # Every SQL rule of both suites, each stored once: by GX's own thread, then ahead.
    assert len(by_gx) >= 8 and {thread for thread, _ in by_gx} == {"MainThread"}
    assert sorted(table for _, table in stored) == sorted(table for _, table in by_gx)
    assert {thread for thread, _ in stored} == {"rule-rows"}
    # The batch's defects fail SQL rules as well as column rules.
    assert {"P-C3", "P-C4", "P-K3"} <= {rule_id for _, rule_id, _ in expected}
