"""The civil_events sync end to end on real parts: registries on the running PostgreSQL and
MariaDB, read through read-only Airflow connections, the shared mechanism, real GX, and rule
P-L4 re-evaluated over what is published."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import batches, sync
from lienthong.population import liveness
from lienthong.review import decisions
from lienthong.sources import Source
from lienthong_demo.citizens import generate_citizens
from lienthong_demo.registry_writer import RegistryWriter

from .population_fixtures import ministry, run_batch
from .registry_servers import RegistryDatabase

pytestmark = pytest.mark.integration

PROVINCE = "01"


def _source(db: RegistryDatabase, lag: float = 120, **options) -> Source:
    return Source(
        dataset="civil_events",
        province=PROVINCE,
        conn_id=db.conn_id,
        commit_lag_seconds=int(lag),
        **options,
    )


def _run(source: Source, key: str) -> tuple[int, dict]:
    batch_no = sync.extract(source, key)
    try:
        sync.validate(source, batch_no)
    except batches.BatchHeld:
        return batch_no, {}
    return batch_no, sync.publish(source, batch_no)


def _settled() -> datetime:
    """A generator's 'now' far enough back for every row to be in a settled window."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)


def test_labelled_registry_defects_end_under_their_rules_and_p_l4_flags_the_labelled_people(
    warehouse_url, registry_db, monkeypatch, prepared
):
    now = _settled()
    people = list(
        generate_citizens(1500, seed=12, defect_rate=0.0, now=now, span=timedelta(days=1))
    )
    # The population first: P-L4 compares registered deaths with it.
    with ministry(monkeypatch, [c.item for c in people]):
        run_batch("population:base", now=now + timedelta(minutes=5))

    mariadb = registry_db.engine == "mariadb"
    registry = registry_db.create(
        province_code=PROVINCE,
        count=500,
        seed=3,
        now=now,
        defect_rate=0.25,
        loose=mariadb,  # several rows per event and wider types: every E-K2/E-K3 defect
        mysql=mariadb,
        people=people,
    )
    # A quarter of the rows defective: the entry's own thresholds let the batch through, as
    # a deployment's entry may.
    source = _source(registry_db, thresholds=dict.fromkeys(("correct", "sufficient", "clean"), 0.5))
    batch_no, counts = _run(source, "civil_events_01:labelled")
    assert counts, "the batch was held"

    labels = registry.labels()
    expected = registry.expected_outcomes()
    assert counts["received"] == sum(expected.values())
    assert counts["published"] == expected["published"]
    assert counts["quarantined"] == expected["quarantined"]
    assert counts["collapsed"] == expected.get("collapsed", 0)
    assert {label.rule_id for label in labels.values()} >= {"E-C1", "E-C2", "E-C3", "E-S1", "E-K1"}

    with psycopg.connect(warehouse_url) as conn:
        quarantined = dict(
            conn.execute(
                "SELECT record_key, rule_ids FROM quarantine.records WHERE batch_no = %s",
                (batch_no,),
            ).fetchall()
        )
        fixed = {
            event_id
            for (event_id,) in conn.execute(
                """SELECT s.event_id FROM audit.fixes f
                   JOIN staging.civil_events s USING (batch_no, row_no)
                   WHERE f.batch_no = %s AND f.rule_id = 'E-K1'""",
                (batch_no,),
            )
        }
        live = {
            event_id: (personal_id, event_date)
            for event_id, personal_id, event_date in conn.execute(
                "SELECT event_id, personal_id, event_date FROM core.civil_events_live"
            )
        }
        history = conn.execute("SELECT count(*) FROM core.civil_events_history").fetchone()[0]
    # Exactly the labelled rows are quarantined, each under its own rule.
    expected_quarantine = {
        event_id: label.rule_id
        for event_id, label in labels.items()
        if label.outcome == "quarantined"
    }
    assert set(quarantined) == set(expected_quarantine)
    for event_id, rule_id in expected_quarantine.items():
        assert rule_id in quarantined[event_id], (event_id, rule_id, quarantined[event_id])
    assert fixed >= {e for e, label in labels.items() if label.rule_id == "E-K1" and label.fixed}
    # Core holds each live event once, in its newest version; deleted ones are out of view.
    assert set(live) == set(registry.expected_live())
    assert history == counts["published"]

    # P-L4: the deaths the population has not caught up with are flagged, exactly.
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        evaluation = liveness.evaluate(conn)
        assert liveness.flagged(conn) == set(registry.p_l4_personal_ids)
    assert evaluation["flagged"] == len(registry.p_l4_personal_ids) > 0


def test_every_live_event_once_in_its_newest_version_while_the_registry_writes(
    warehouse_url, registry_db
):
    registry = registry_db.create(
        province_code=PROVINCE, count=80, now=_settled(), seed=8, defect_rate=0.0
    )
    max_delay = 1.5
    lag = max_delay + 2.5  # the commit delay, the second stamps lose to flooring, and margin
    source = _source(registry_db, lag=lag)
    writer = RegistryWriter(
        registry_db.admin_url,
        province_code=PROVINCE,
        seed=5,
        threads=3,
        transactions=30,
        max_commit_delay=max_delay,
        late_share=0.35,
    )
    runs = 0
    with writer:
        while writer.running:
            _run(source, f"civil_events_01:during-{runs}")
            runs += 1
    last = writer.last_updated_at
    # After the writer stops, runs until a window ends past the last stamp written.
    while True:
        time.sleep(1)
        batch_no, _ = _run(source, f"civil_events_01:after-{runs}")
        runs += 1
        with psycopg.connect(warehouse_url) as conn:
            window_end = conn.execute(
                "SELECT window_end FROM audit.batches WHERE batch_no = %s", (batch_no,)
            ).fetchone()[0]
        if window_end > last:
            break

    truth = {
        event_id: values
        for event_id, values in {
            **{r.event_id: r.values for r in registry.state()},
            **writer.truth,
        }.items()
    }
    with psycopg.connect(warehouse_url) as conn:
        core = {
            event_id: (updated_at, is_deleted)
            for event_id, updated_at, is_deleted in conn.execute(
                "SELECT event_id, updated_at, is_deleted FROM core.civil_events"
            )
        }
        statuses = Counter(s for (s,) in conn.execute("SELECT status FROM audit.batches"))
        read_twice = conn.execute(
            """SELECT count(*) FROM (SELECT event_id, updated_ts FROM staging.civil_events
               GROUP BY 1, 2 HAVING count(*) > 1) d"""
        ).fetchone()[0]
    assert statuses == {"published": runs}
    assert read_twice == 0  # no version read in two batches
    assert {e: t for e, (t, _) in core.items()} == {e: v["updated_at"] for e, v in truth.items()}
    live = {e for e, (_, deleted) in core.items() if not deleted}
    assert live == {e for e, v in truth.items() if not v["is_deleted"]}
    assert writer.late_commits > 3
    assert any(v["is_deleted"] for v in truth.values())


def test_a_missing_column_holds_naming_it_and_an_extra_column_loads(warehouse_url, registry_db):
    registry_db.create(province_code=PROVINCE, count=40, now=_settled(), seed=4, defect_rate=0.0)
    registry_db.execute("ALTER TABLE civil_events ADD COLUMN registrar VARCHAR(50) DEFAULT 'UBND'")
    registry_db.grant()
    source = _source(registry_db)
    batch_no, counts = _run(source, "civil_events_01:extra")
    assert counts["published"] == 40
    with psycopg.connect(warehouse_url) as conn:
        new_fields, extra = conn.execute(
            """SELECT b.new_fields, (SELECT count(*) FROM core.civil_events
                                     WHERE extra ->> 'registrar' = 'UBND')
               FROM audit.batches b WHERE batch_no = %s""",
            (batch_no,),
        ).fetchone()
    assert new_fields == ["registrar"]
    assert extra == 40

    registry_db.execute("ALTER TABLE civil_events DROP COLUMN full_name")
    registry_db.grant()
    batch_no = sync.extract(source, "civil_events_01:missing", full=True)
    with pytest.raises(batches.BatchHeld, match=r"rule E-K3 \(clean\).*missing_column=full_name"):
        sync.validate(source, batch_no)


def test_a_held_batch_missing_a_column_core_requires_is_approved_into_quarantine(
    warehouse_url, registry_db
):
    # A table without registered_at holds its batch (E-K3's columns). Core cannot hold a row
    # without it: each row is quarantined by E-K3 too, so that an operator who approves the
    # batch as it stands publishes what can be published and nothing fails.
    registry_db.create(province_code=PROVINCE, count=20, now=_settled(), seed=4, defect_rate=0.0)
    registry_db.execute("ALTER TABLE civil_events DROP COLUMN registered_at")
    registry_db.grant()
    source = _source(registry_db)
    batch_no = sync.extract(source, "civil_events_01:no-registered-at", full=True)
    with pytest.raises(batches.BatchHeld, match=r"missing_column=registered_at"):
        sync.validate(source, batch_no)
    with psycopg.connect(warehouse_url) as conn:
        decisions.approve_batch(conn, batch_no, user="operator", reason="registry migrating")
        status, published, quarantined = conn.execute(
            "SELECT status, published, quarantined FROM audit.batches WHERE batch_no = %s",
            (batch_no,),
        ).fetchone()
        rules = conn.execute("SELECT DISTINCT rule_ids FROM quarantine.records").fetchall()
        defect = conn.execute("SELECT DISTINCT item_defect FROM staging.civil_events").fetchall()
    assert (status, published, quarantined) == ("published", 0, 20)
    assert rules == [(["E-K3"],)]
    assert defect == [("registered_at: absent where the contract wants rfc3339",)]


def test_a_row_stamped_after_the_registry_clock_holds_the_batch(warehouse_url, registry_db):
    # A mistyped year puts a row in no window until that year comes: it is named, not lost.
    registry_db.create(province_code=PROVINCE, count=20, now=_settled(), seed=4, defect_rate=0.0)
    stamp = (datetime.now(UTC) + timedelta(days=400)).strftime("%Y-%m-%d %H:%M:%S")
    registry_db.execute(
        "UPDATE civil_events SET updated_at = TIMESTAMP '" + stamp + "' WHERE event_id = "
        "(SELECT event_id FROM (SELECT min(event_id) AS event_id FROM civil_events) AS first)"
    )
    source = _source(registry_db)
    batch_no = sync.extract(source, "civil_events_01:future", full=True)
    with pytest.raises(batches.BatchHeld, match=r"E-L1.*stamped after the registry's clock.*: 1"):
        sync.validate(source, batch_no)
    with psycopg.connect(warehouse_url) as conn:
        received, facts = conn.execute(
            "SELECT received, source_facts FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone()
    assert (received, facts["future_updated_at"]) == (19, 1)


def test_extra_columns_of_types_json_lacks_are_carried_and_recorded(warehouse_url, registry_db):
    # A registry's own columns may be NUMERIC, TIME or the like, which JSON has no type for:
    # they are carried as text, not dropped from every row.
    registry_db.create(province_code=PROVINCE, count=20, now=_settled(), seed=4, defect_rate=0.0)
    registry_db.execute(
        "ALTER TABLE civil_events ADD COLUMN fee NUMERIC(10, 2) DEFAULT 12.50,"
        " ADD COLUMN office_hours TIME DEFAULT '08:30:00'"
    )
    registry_db.grant()
    batch_no, counts = _run(_source(registry_db), "civil_events_01:extra-types")
    assert counts["published"] == 20
    with psycopg.connect(warehouse_url) as conn:
        new_fields = conn.execute(
            "SELECT new_fields FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
        extras = Counter(
            (fee, hours)
            for fee, hours in conn.execute(
                "SELECT extra ->> 'fee', extra ->> 'office_hours' FROM core.civil_events"
            )
        )
    assert new_fields == ["fee", "office_hours"]
    assert extras == {("12.50", "08:30:00"): 20}


@pytest.mark.parametrize("registry_db", ["postgresql"], indirect=True)
def test_postgresql_dates_python_cannot_hold_are_quarantined_not_fatal(warehouse_url, registry_db):
    # PostgreSQL's DATE and TIMESTAMP take a mistyped year 20226, infinity and dates BC, which
    # psycopg refuses to load: they are E-K3 defects of their rows, not a failed extraction.
    registry_db.create(province_code=PROVINCE, count=30, now=_settled(), seed=4, defect_rate=0.0)
    odd = {
        "ODD-YEAR": ("20226-01-01", "2026-01-02 03:04:05"),
        "ODD-BC": ("0044-03-15 BC", "2026-01-02 03:04:05"),
        "ODD-INFINITY": ("2026-01-01", "infinity"),
    }
    registry_db.execute(
        *(
            "INSERT INTO civil_events VALUES ("
            f"'{event_id}', 'birth', '001226000001', 'Nguyễn Văn An', '{day}', '00004',"
            f" '{registered}', TIMESTAMP '2026-01-02 03:04:05', FALSE)"
            for event_id, (day, registered) in odd.items()
        )
    )
    source = _source(registry_db, thresholds={"clean": 0.5})
    batch_no, counts = _run(source, "civil_events_01:odd-dates")
    assert counts["published"] == 30 and counts["quarantined"] == 3
    with psycopg.connect(warehouse_url) as conn:
        quarantined = dict(
            conn.execute(
                """SELECT q.record_key, s.item_defect FROM quarantine.records q
                   JOIN staging.civil_events s USING (batch_no, row_no)
                   WHERE q.batch_no = %s AND 'E-K3' = ANY(q.rule_ids)""",
                (batch_no,),
            ).fetchall()
        )
    assert set(quarantined) == set(odd)
    assert "event_date" in quarantined["ODD-YEAR"] and "20226-01-01" in quarantined["ODD-YEAR"]
    assert "event_date" in quarantined["ODD-BC"]
    assert "registered_at" in quarantined["ODD-INFINITY"]


@pytest.mark.airflow
@pytest.mark.parametrize("registry_db", ["mariadb"], indirect=True)
def test_the_civil_events_dag_under_dag_test(
    airflow_db, warehouse_url, registry_db, monkeypatch, tmp_path
):
    from airflow.dag_processing.dagbag import DagBag

    from lienthong.settings import PROJECT_ROOT

    registry = registry_db.create(
        province_code=PROVINCE, count=150, now=_settled(), seed=9, defect_rate=0.02, mysql=True
    )
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n"
        f"  - dataset: civil_events\n    province: '{PROVINCE}'\n"
        f"    conn_id: {registry_db.conn_id}\n"
    )
    monkeypatch.setenv("LIENTHONG_SOURCES", str(sources))
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("civil_events_01")
    assert {"civil_events", "province:01", "reads:database"} <= set(dag.tags)
    run = dag.test(run_conf={"required_action": False})
    assert run.state == "success"
    expected = registry.expected_outcomes()
    with psycopg.connect(warehouse_url) as conn:
        counts = conn.execute(
            "SELECT source, status, received, published, quarantined FROM audit.batches"
        ).fetchone()
        live = conn.execute("SELECT count(*) FROM core.civil_events_live").fetchone()[0]
    assert counts == (
        "civil_events_01",
        "published",
        sum(expected.values()),
        expected["published"],
        expected["quarantined"],
    )
    assert live == len(registry.expected_live())


def test_the_recheck_names_exactly_the_versions_no_batch_of_the_source_received(warehouse_url):
    # Rule E-L1's look at what the source's batches received: only batches whose window ends
    # after the re-checked versions can hold them, and only those are read.
    from lienthong.civil_events.dataset import missed_versions

    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

    def batch(conn, key: str, source: str, window_end: datetime | None, versions) -> None:
        batch_no = conn.execute(
            """INSERT INTO audit.batches (batch_key, dataset, source, mode, extracted_at,
                   status, window_end)
               VALUES (%s, 'civil_events', %s, 'incremental', %s, 'published', %s)
               RETURNING batch_no""",
            (key, source, t0, window_end),
        ).fetchone()[0]
        for row_no, (event_id, stamp) in enumerate(versions):
            conn.execute(
                """INSERT INTO staging.civil_events (batch_no, row_no, event_id, updated_ts,
                       content_hash) VALUES (%s, %s, %s, %s, 'h')""",
                (batch_no, row_no, event_id, stamp),
            )

    received = ("E-RECEIVED", t0 - timedelta(minutes=30))
    late = ("E-LATE", t0 - timedelta(minutes=20))
    open_batch = ("E-OPEN", t0 - timedelta(minutes=10))
    elsewhere = ("E-ELSEWHERE", t0 - timedelta(minutes=40))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # Long past: its window ended before the re-checked hour (its rows cannot be asked).
        batch(
            conn,
            "old",
            "civil_events_01",
            t0 - timedelta(hours=3),
            [("E-OLD", t0 - timedelta(hours=4))],
        )
        batch(conn, "recent", "civil_events_01", t0, [received])
        batch(conn, "no end yet", "civil_events_01", None, [open_batch])
        # The same version received by another province's source does not count.
        batch(conn, "other source", "civil_events_79", t0, [late, elsewhere])
        keys = [received, late, open_batch, elsewhere]
        assert [m.split(" @ ")[0] for m in missed_versions(conn, "civil_events_01", keys)] == [
            "E-ELSEWHERE",
            "E-LATE",
        ]
        assert missed_versions(conn, "civil_events_01", [received, open_batch]) == []
        assert missed_versions(conn, "civil_events_01", []) == []
