"""A large batch into empty core tables is loaded with their indexes built after its rows
(`lienthong.pipeline.publish`, `Dataset.first_load`): the warehouse it leaves is the upsert's,
indexes and constraints included."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import publish
from lienthong.warehouse.connection import with_database
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import ministry, run_batch, snapshot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

#: What the catalogue says of core.population's indexes and constraints.
INDEXES = """
SELECT i.relname, pg_get_indexdef(x.indexrelid), c.conname, pg_get_constraintdef(c.oid)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
WHERE x.indrelid = 'core.population'::regclass
ORDER BY 1
"""

INDEX_OIDS = "SELECT indexrelid::int FROM pg_index WHERE indrelid = 'core.population'::regclass"


@pytest.fixture(scope="module")
def citizens() -> list[dict]:
    """1,500 citizens, 6 % with a labelled defect (quarantined, collapsed and fixed rows)."""
    return [c.item for c in generate_citizens(1500, seed=17, defect_rate=0.06, now=NOW)]


def _catalogue(url: str) -> tuple[list, set[int]]:
    with psycopg.connect(url) as conn:
        return conn.execute(INDEXES).fetchall(), {oid for (oid,) in conn.execute(INDEX_OIDS)}


def _second_warehouse(pg_admin_url: str, template_database: str) -> str:
    name = f"lt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    return with_database(pg_admin_url, name)


def _drop(pg_admin_url: str, url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_first_load_leaves_the_warehouse_the_upsert_leaves_and_rebuilds_the_indexes(
    warehouse_url, pg_admin_url, template_database, monkeypatch, citizens
):
    # The upsert into an empty table, row by row, as every batch was published before.
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 10**9)
    catalogue, _ = _catalogue(warehouse_url)
    with ministry(monkeypatch, citizens):
        _, upserted_counts = run_batch("population:first", now=NOW)
    upserted = snapshot(warehouse_url)
    assert upserted_counts["published"] > 1000 and upserted_counts["quarantined"] > 0

    other = _second_warehouse(pg_admin_url, template_database)
    try:
        monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", other)
        monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 1000)
        _, empty_oids = _catalogue(other)
        with ministry(monkeypatch, citizens):
            _, counts = run_batch("population:first", now=NOW)
        after_catalogue, loaded_oids = _catalogue(other)
        # Loaded without its indexes (built again: new ones), into the same rows and outcomes.
        assert loaded_oids.isdisjoint(empty_oids)
        assert after_catalogue == catalogue
        assert counts == upserted_counts
        assert snapshot(other) == upserted

        # core.population is no longer empty: the next batch is upserted into its indexes.
        changed = [dict(item, household_id="HK0000000001") for item in citizens[:20]]
        for item in changed:
            item["updated_at"] = (NOW + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with ministry(monkeypatch, changed):
            run_batch("population:second", now=NOW + timedelta(minutes=10), full=False)
        assert _catalogue(other) == (catalogue, loaded_oids)
        with psycopg.connect(other) as conn:
            households = conn.execute(
                "SELECT count(*) FROM core.population WHERE household_id = 'HK0000000001'"
            ).fetchone()[0]
        published_ids = {row[0] for row in upserted["core"]}
        assert households == sum(item["personal_id"] in published_ids for item in changed) > 10
    finally:
        _drop(pg_admin_url, other)


def test_a_first_load_into_a_table_someone_reads_is_an_upsert_and_waits_for_no_one(
    warehouse_url, monkeypatch, citizens
):
    monkeypatch.setattr(publish, "FIRST_LOAD_FROM", 1000)
    catalogue, empty_oids = _catalogue(warehouse_url)
    with psycopg.connect(warehouse_url) as reader:
        # A BI query's lock on the empty table, held while the batch publishes: an exclusive
        # lock would wait for it (and every reader after it would wait too).
        reader.execute("SELECT count(*) FROM core.population")
        with ministry(monkeypatch, citizens):
            _, counts = run_batch("population:first", now=NOW)
        reader.rollback()
    assert _catalogue(warehouse_url) == (catalogue, empty_oids)
    with psycopg.connect(warehouse_url) as conn:
        published = conn.execute("SELECT count(*) FROM core.population").fetchone()[0]
    assert published == counts["published"] > 1000
