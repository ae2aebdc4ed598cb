"""A large batch into empty core tables is loaded with their indexes built after its rows
(`lienthong.pipeline.publish`, `Dataset.first_load`): the warehouse it leaves is the upsert's,
indexes and constraints included."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import batches, publish, sync
from lienthong.sources import Source
from lienthong.warehouse.connection import with_database
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import ministry, run_batch, snapshot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

#: What the catalogue says of tables' indexes and constraints.
INDEXES = """
SELECT i.relname, pg_get_indexdef(x.indexrelid), c.conname, pg_get_constraintdef(c.oid),
       x.indexrelid::int
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
WHERE x.indrelid = ANY (%s::regclass[])
ORDER BY 1
"""

#: What a civil_events batch writes (its history but for the time it was written).
CIVIL_EVENTS = {
    "core": "SELECT * FROM core.civil_events ORDER BY province_code, event_id",
    "history": """SELECT province_code, event_id, updated_at, event_type, personal_id, full_name,
                         event_date, commune_code, registered_at, is_deleted, batch_no
                  FROM core.civil_events_history ORDER BY 1, 2, 3""",
}


@pytest.fixture(scope="module")
def citizens() -> list[dict]:
    """1,500 citizens, 6 % with a labelled defect (quarantined, collapsed and fixed rows)."""
    return [c.item for c in generate_citizens(1500, seed=17, defect_rate=0.06, now=NOW)]


def _catalogue(url: str, *tables: str) -> tuple[list, set[int]]:
    """The tables' index and constraint definitions, and their indexes' OIDs (new ones when
    the indexes were built again)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(INDEXES, (list(tables),)).fetchall()
    return [row[:4] for row in rows], {row[4] for row in rows}


@pytest.fixture
def second_warehouse(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """Another fresh warehouse, beside the test's own (not set as the warehouse)."""
    name = f"lt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_first_load_leaves_the_warehouse_the_upsert_leaves_and_rebuilds_the_indexes(
    warehouse_url, second_warehouse, monkeypatch, citizens
):
    # The upsert into an empty table, row by row, as every batch was published before.
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 10**9)
    catalogue, _ = _catalogue(warehouse_url, "core.population")
    with ministry(monkeypatch, citizens):
        _, upserted_counts = run_batch("population:first", now=NOW)
    upserted = snapshot(warehouse_url)
    assert upserted_counts["published"] > 1000 and upserted_counts["quarantined"] > 0

    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", second_warehouse)
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 1000)
    _, empty_oids = _catalogue(second_warehouse, "core.population")
    with ministry(monkeypatch, citizens):
        _, counts = run_batch("population:first", now=NOW)
    after_catalogue, loaded_oids = _catalogue(second_warehouse, "core.population")
    # Loaded without its indexes (built again: new ones), into the same rows and outcomes.
    assert loaded_oids.isdisjoint(empty_oids)
    assert after_catalogue == catalogue
    assert counts == upserted_counts
    assert snapshot(second_warehouse) == upserted

    # core.population is no longer empty: the next batch is upserted into its indexes.
    changed = [dict(item, household_id="HK0000000001") for item in citizens[:20]]
    for item in changed:
        item["updated_at"] = (NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with ministry(monkeypatch, changed):
        run_batch("population:second", now=NOW + timedelta(minutes=10), full=False)
    assert _catalogue(second_warehouse, "core.population") == (catalogue, loaded_oids)
    with psycopg.connect(second_warehouse) as conn:
        households = conn.execute(
            "SELECT count(*) FROM core.population WHERE household_id = 'HK0000000001'"
        ).fetchone()[0]
    published_ids = {row[0] for row in upserted["core"]}
    assert households == sum(item["personal_id"] in published_ids for item in changed) > 10


def test_a_first_load_into_a_table_someone_reads_is_an_upsert_and_waits_for_no_one(
    warehouse_url, monkeypatch, citizens
):
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 1000)
    catalogue, empty_oids = _catalogue(warehouse_url, "core.population")
    with psycopg.connect(warehouse_url) as reader:
        # A BI query's lock on the empty table, held while the batch publishes: an exclusive
        # lock would wait for it (and every reader after it would wait too).
        reader.execute("SELECT count(*) FROM core.population")
        with ministry(monkeypatch, citizens):
            _, counts = run_batch("population:first", now=NOW)
        reader.rollback()
    assert _catalogue(warehouse_url, "core.population") == (catalogue, empty_oids)
    with psycopg.connect(warehouse_url) as conn:
        published = conn.execute("SELECT count(*) FROM core.population").fetchone()[0]
    assert published == counts["published"] > 1000


def _civil_events(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in CIVIL_EVENTS.items()}


def test_a_civil_events_first_load_writes_core_and_history_as_the_upsert_does(
    warehouse_url, second_warehouse, registry_db, monkeypatch
):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    mariadb = registry_db.engine == "mariadb"
    registry_db.create(
        province_code="01",
        count=400,
        seed=3,
        now=now,
        defect_rate=0.1,
        loose=mariadb,
        mysql=mariadb,
    )
    # A tenth of the rows defective: the entry's own thresholds let the batch through.
    source = Source(
        dataset="civil_events",
        province="01",
        conn_id=registry_db.conn_id,
        thresholds=dict.fromkeys(("correct", "sufficient", "clean"), 0.5),
    )

    def sync_once() -> dict:
        batch_no = sync.extract(source, "civil_events_01:first")
        try:
            sync.validate(source, batch_no)
        except batches.BatchHeld:
            pytest.fail("the batch was held")
        return sync.publish(source, batch_no)

    tables = ("core.civil_events", "core.civil_events_history")
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 10**9)
    catalogue, empty_oids = _catalogue(warehouse_url, *tables)
    upserted_counts = sync_once()
    upserted = _civil_events(warehouse_url)
    assert upserted_counts["published"] > 300 and len(upserted["history"]) > 300

    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", second_warehouse)
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 100)
    counts = sync_once()
    # Both tables loaded without their indexes (new ones: built again), to the same rows.
    loaded_catalogue, loaded_oids = _catalogue(second_warehouse, *tables)
    assert loaded_oids.isdisjoint(empty_oids)
    assert loaded_catalogue == catalogue
    assert counts == upserted_counts
    assert _civil_events(second_warehouse) == upserted
