"""Each batch is staged in partitions of its own, made without holding up other batches."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from lienthong.datasets import dataset
from lienthong.pipeline import staging
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import ministry
from .population_fixtures import population_sync as sync

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_a_batch_being_staged_holds_up_no_other_batch_of_its_dataset(warehouse_url, monkeypatch):
    # While one batch's staging transaction is open (its COPY under way), another source of
    # the same dataset makes its partitions, stages its rows and reads across batches.
    population = dataset("population")
    copy_staged = staging.copy_staged
    seen: list[tuple] = []

    def copy_then_look(conn, dataset, chunk):
        copy_staged(conn, dataset, chunk)
        if seen:
            return
        with psycopg.connect(warehouse_url, autocommit=True) as other:
            other.execute("SET lock_timeout = '2s'")
            other.execute(
                """INSERT INTO audit.batches (batch_key, dataset, source, mode, extracted_at,
                       status) VALUES ('other', 'population', 'other', 'full', now(), 'failed')"""
            )
            batch_no = other.execute(
                "SELECT batch_no FROM audit.batches WHERE batch_key = 'other'"
            ).fetchone()[0]
            staging.open_batch(other, population, batch_no)
            with other.transaction():
                staging.clear(other, population, batch_no)
                other.execute(
                    "INSERT INTO staging.population (batch_no, row_no, content_hash)"
                    " VALUES (%s, 0, 'h')",
                    (batch_no,),
                )
            seen.append(
                other.execute(
                    "SELECT batch_no, count(*) FROM staging.population GROUP BY 1 ORDER BY 1"
                ).fetchall()
            )

    monkeypatch.setattr(staging, "copy_staged", copy_then_look)
    items = [c.item for c in generate_citizens(1200, seed=3, defect_rate=0.0, now=NOW)]
    with ministry(monkeypatch, items):
        batch_no = sync.extract("population:first", full=True, now=NOW)
    # The other batch saw its own row, and none of the first batch's (not yet committed).
    assert seen == [[(batch_no + 1, 1)]]
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(
            "SELECT batch_no, count(*) FROM staging.population GROUP BY 1 ORDER BY 1"
        ).fetchall() == [(batch_no, 1200), (batch_no + 1, 1)]


def test_a_rerun_stages_its_batch_again_in_the_same_partition(warehouse_url, monkeypatch):
    items = [c.item for c in generate_citizens(300, seed=3, defect_rate=0.0, now=NOW)]
    with ministry(monkeypatch, items):
        first = sync.extract("population:again", full=True, now=NOW)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("UPDATE audit.batches SET status = 'failed' WHERE batch_no = %s", (first,))
    with ministry(monkeypatch, items[:200]):
        again = sync.extract("population:again", full=True, now=NOW)
    assert again == first
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM staging.population_b{first}").fetchone() == (
            200,
        )
        assert conn.execute(f"SELECT count(*) FROM staging.payloads_b{first}").fetchone() == (200,)
