"""Staged batches expire with their partitions, and only when no one can need them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import retention
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import ministry, run_batch

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _items(count: int, *, seed: int = 3, defect_rate: float = 0.0) -> list[dict]:
    return [c.item for c in generate_citizens(count, seed=seed, defect_rate=defect_rate, now=NOW)]


def _partitions(conn: psycopg.Connection) -> set[str]:
    return {
        name
        for (name,) in conn.execute(
            """SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent IN ('staging.population'::regclass, 'staging.payloads'::regclass)"""
        )
    }


def _staged(conn: psycopg.Connection, batch_no: int) -> tuple[int, int]:
    return tuple(
        conn.execute(
            f"SELECT count(*) FROM staging.{table} WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
        for table in ("population", "payloads")
    )


def _age(conn: psycopg.Connection, batch_no: int, days: int) -> None:
    """Make a batch look finished ``days`` ago, its window ending then too."""
    conn.execute(
        """UPDATE audit.batches SET updated_at = now() - make_interval(days => %s),
                  window_end = window_end - make_interval(days => %s)
           WHERE batch_no = %s""",
        (days, days, batch_no),
    )


def test_a_published_batch_expires_after_the_retention_unless_rows_await_a_decision(
    warehouse_url, monkeypatch
):
    from lienthong.review import queries
    from lienthong.review.datasets import get as reviewed_dataset

    monkeypatch.setenv(retention.RETENTION_ENV, "30")
    with ministry(monkeypatch, _items(600, seed=11, defect_rate=0.06)):
        quarantined, counts = run_batch("population:a", now=NOW)
    assert counts["quarantined"] > 0
    with ministry(monkeypatch, _items(300)):
        clean, _ = run_batch("population:b", now=NOW)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _age(conn, quarantined, 40)
        _age(conn, clean, 40)
    with ministry(monkeypatch, _items(300)):
        newest, _ = run_batch("population:c", now=NOW)  # its publication expires the old ones

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        partitions = _partitions(conn)
        # The clean batch went, its rows with its partitions; the quarantined one stays while
        # its rows await a decision, and the newest stays.
        assert f"population_b{clean}" not in partitions
        assert f"payloads_b{clean}" not in partitions
        assert _staged(conn, clean) == (0, 0)
        assert _staged(conn, quarantined) == (600, 600)
        assert _staged(conn, newest) == (300, 300)
        # What was published and why stays: the audit and core do not expire.
        assert conn.execute(
            "SELECT status, received FROM audit.batches WHERE batch_no = %s", (clean,)
        ).fetchone() == ("published", 300)

        # Once every quarantined row is decided, the batch goes too.
        conn.execute(
            """UPDATE quarantine.records SET status = 'rejected', decided_by = 'test',
                      decided_at = now(), decision_reason = 'test' WHERE batch_no = %s""",
            (quarantined,),
        )
        assert retention.expire(conn, "population") == [quarantined]
        assert _staged(conn, quarantined) == (0, 0)
        assert retention.expire(conn, "population") == []
        # Its quarantined rows are still shown, with their payloads, without staged values.
        page = queries.quarantined_rows(conn, reviewed_dataset("population"), quarantined)
    assert page.total == counts["quarantined"]
    assert all(row["payload"] for row in page.items)
    assert all(
        value is None
        for row in page.items
        for finding in row["findings"]
        for value in finding["values"].values()
    )


def test_batches_near_the_watermark_held_or_recent_stay(warehouse_url, monkeypatch):
    with ministry(monkeypatch, _items(200)):
        first, _ = run_batch("population:first", now=NOW)
        second, _ = run_batch("population:second", now=NOW)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # Old, but its window ends within a day of the newest: rule E-L1 may look at it.
        conn.execute(
            "UPDATE audit.batches SET updated_at = now() - interval '90 days' WHERE batch_no = %s",
            (first,),
        )
        assert retention.expire(conn, "population", older_than=timedelta(days=30)) == []
        # Old and its window long past: it goes; the newest, recent, stays.
        _age(conn, first, 90)
        assert retention.expire(conn, "population", older_than=timedelta(days=30)) == [first]
        assert _staged(conn, second) == (200, 200)
        # A held batch is never touched, however old.
        conn.execute(
            "UPDATE audit.batches SET status = 'held', updated_at = now() - interval '90 days'"
            " WHERE batch_no = %s",
            (second,),
        )
        assert retention.expire(conn, "population", older_than=timedelta(days=1)) == []
        assert _staged(conn, second) == (200, 200)


def test_a_busy_staging_table_leaves_expiry_for_next_time(warehouse_url, monkeypatch):
    with ministry(monkeypatch, _items(200)):
        old, _ = run_batch("population:old", now=NOW)
        run_batch("population:new", now=NOW)
    with (
        psycopg.connect(warehouse_url, autocommit=True) as conn,
        psycopg.connect(warehouse_url) as other,
    ):
        _age(conn, old, 40)
        # Another source's query reads staging: dropping a partition waits at most a moment.
        other.execute("SELECT count(*) FROM staging.population").fetchone()
        assert retention.expire(conn, "population", older_than=timedelta(days=30)) == []
        assert _staged(conn, old) == (200, 200)
        other.rollback()
        assert retention.expire(conn, "population", older_than=timedelta(days=30)) == [old]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", timedelta(days=30)), (" 7 ", timedelta(days=7)), ("1", timedelta(days=1))],
)
def test_retention_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(retention.RETENTION_ENV, value)
    assert retention.retention() == expected


@pytest.mark.parametrize(
    ("value", "message"), [("0", "at least 1 day"), ("a week", "not a whole number")]
)
def test_a_bad_retention_is_named(monkeypatch, value, message):
    monkeypatch.setenv(retention.RETENTION_ENV, value)
    with pytest.raises(ValueError, match=f"{retention.RETENTION_ENV} .*{message}"):
        retention.retention()
