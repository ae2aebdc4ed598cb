"""Finished batches' staged rows are deleted by the staging retention, and only when no one can
need them; what the review reads per province from them is kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import retention
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import SOURCE, ministry, population_sync, run_batch

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _items(count: int, *, seed: int = 3, defect_rate: float = 0.0) -> list[dict]:
    return [c.item for c in generate_citizens(count, seed=seed, defect_rate=defect_rate, now=NOW)]


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


def _reject_quarantined(conn: psycopg.Connection, batch_no: int) -> None:
    conn.execute(
        """UPDATE quarantine.records SET status = 'rejected', decided_by = 'test',
                  decided_at = now(), decision_reason = 'test' WHERE batch_no = %s""",
        (batch_no,),
    )


def _province_view(conn: psycopg.Connection, batch_no: int) -> dict:
    """What the review shows of a batch per province: the trend's points and whether the
    province filter lists it, for every province the batch received."""
    from lienthong.review import queries
    from lienthong.review.datasets import get as reviewed_dataset

    population = reviewed_dataset("population")
    provinces = [
        p
        for (p,) in conn.execute(
            """SELECT DISTINCT perm_province_code FROM staging.population WHERE batch_no = %s
               UNION SELECT province_code FROM audit.province_scores WHERE batch_no = %s""",
            (batch_no, batch_no),
        )
        if p
    ]
    view = {}
    for province in sorted(provinces):
        points = [
            (p["checked"], p["rates"])
            for p in queries.trend(conn, population, dags=[SOURCE.key], province=province)
            if p["batch_no"] == batch_no
        ]
        listed = queries.list_batches(
            conn, [population], dags=[SOURCE.key], province=province, page_size=1000
        )
        view[province] = (points, batch_no in {b["batch_no"] for b in listed.items})
    return view


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
        before = _province_view(conn, quarantined)
        in_core = conn.execute(
            "SELECT count(*) FROM core.population WHERE batch_no = %s", (clean,)
        ).fetchone()
        shown_before = queries.quarantined_rows(conn, reviewed_dataset("population"), quarantined)
    with ministry(monkeypatch, _items(300)):
        newest, _ = run_batch("population:c", now=NOW)  # its publication expires the old ones

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        # The clean batch's rows went; the quarantined one stays while its rows await a
        # decision, and the newest stays.
        assert _staged(conn, clean) == (0, 0)
        assert _staged(conn, quarantined) == (600, 600)
        assert _staged(conn, newest) == (300, 300)
        expired_at = dict(
            conn.execute(
                "SELECT batch_no, staging_expired_at IS NOT NULL FROM audit.batches"
                " WHERE batch_no = ANY(%s)",
                ([quarantined, clean, newest],),
            ).fetchall()
        )
        assert expired_at == {quarantined: False, clean: True, newest: False}
        # What was published and why stays: the audit and core do not expire.
        assert conn.execute(
            "SELECT status, received FROM audit.batches WHERE batch_no = %s", (clean,)
        ).fetchone() == ("published", 300)
        assert in_core[0] > 250
        assert (
            conn.execute(
                "SELECT count(*) FROM core.population WHERE batch_no = %s", (clean,)
            ).fetchone()
            == in_core
        )

        # Once every quarantined row is decided, the batch goes too, once.
        _reject_quarantined(conn, quarantined)
        assert retention.expire(conn, SOURCE.key) == [quarantined]
        assert _staged(conn, quarantined) == (0, 0)
        assert retention.expire(conn, SOURCE.key) == []

        # The review shows it per province as before: the same points of the trend, and the
        # province filter still lists it (from what the retention kept of its staged rows).
        after = _province_view(conn, quarantined)
        assert len(before) > 10
        assert after == before
        # Its quarantined rows are still shown, with their payloads as received and the rules'
        # reasons, without values (none is left to show, and none is shown as null).
        shown = queries.quarantined_rows(conn, reviewed_dataset("population"), quarantined)
    assert shown.total == shown_before.total == counts["quarantined"]
    assert [(r["row_no"], r["payload"]) for r in shown.items] == [
        (r["row_no"], r["payload"]) for r in shown_before.items
    ]
    assert [[f["rule_id"] for f in r["findings"]] for r in shown.items] == [
        [f["rule_id"] for f in r["findings"]] for r in shown_before.items
    ]
    assert any(f["values"] for r in shown_before.items for f in r["findings"])
    assert all(f["values"] == {} for r in shown.items for f in r["findings"])


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
        assert retention.expire(conn, SOURCE.key, older_than=timedelta(days=30)) == []
        # Old and its window long past: it goes; the newest, recent, stays.
        _age(conn, first, 90)
        assert retention.expire(conn, SOURCE.key, older_than=timedelta(days=30)) == [first]
        assert _staged(conn, second) == (200, 200)
        # Another source's batches are not this source's to expire.
        _age(conn, second, 90)
        assert retention.expire(conn, "population:elsewhere", older_than=timedelta(days=1)) == []
        # A held batch is never touched, however old.
        conn.execute("UPDATE audit.batches SET status = 'held' WHERE batch_no = %s", (second,))
        assert retention.expire(conn, SOURCE.key, older_than=timedelta(days=1)) == []
        assert _staged(conn, second) == (200, 200)


def test_a_rejected_batch_and_a_release_keep_their_staged_rows(
    warehouse_url, monkeypatch, tmp_path
):
    from lienthong.pipeline.batches import BatchHeld
    from lienthong.review import decisions, queries
    from lienthong.review.datasets import get as reviewed_dataset

    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    population = reviewed_dataset("population")
    # A held batch rejected: nothing of it goes to quarantine, staging is its only record.
    with ministry(monkeypatch, _items(300, seed=11, defect_rate=0.06), total_offset=3):
        rejected = population_sync.extract("population:rejected", full=True, now=NOW)
        with pytest.raises(BatchHeld):
            population_sync.validate(rejected)
    # A published batch whose quarantined rows an operator releases (and the rest rejected).
    with ministry(monkeypatch, _items(300, seed=12, defect_rate=0.06)):
        published, _ = run_batch("population:released", now=NOW)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        decisions.reject_batch(conn, rejected, user="dung", reason="the source resends")
        failing = queries.quarantined_rows(conn, population, rejected, pending=True)
        rows = [
            r
            for (r,) in conn.execute(
                "SELECT row_no FROM quarantine.records WHERE batch_no = %s ORDER BY 1",
                (published,),
            )
        ]
        outcome = decisions.release_rows(
            conn,
            published,
            row_nos=rows,
            user="an",
            reason="checked by phone",
            warehouse_url=warehouse_url,
            now=NOW,
        )
        conn.execute(
            """UPDATE quarantine.records SET status = 'rejected', decided_by = 'test',
                      decided_at = now(), decision_reason = 'test' WHERE status = 'held'"""
        )
        for batch_no in (rejected, published, outcome.release_batch_no):
            _age(conn, batch_no, 40)
    with ministry(monkeypatch, _items(100)):
        run_batch("population:next", now=NOW)

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        expired = dict(
            conn.execute(
                "SELECT batch_no, staging_expired_at IS NOT NULL FROM audit.batches"
                " WHERE batch_no = ANY(%s)",
                ([rejected, published, outcome.release_batch_no],),
            ).fetchall()
        )
        assert expired == {rejected: False, published: True, outcome.release_batch_no: False}
        # The rejected batch's failing rows are still shown, each with its payload.
        kept = queries.quarantined_rows(conn, population, rejected, pending=True)
        assert failing.total > 0
        assert [(r["row_no"], r["payload"]) for r in kept.items] == [
            (r["row_no"], r["payload"]) for r in failing.items
        ]
        # The release's outcome is read again as it was.
        again = decisions.complete_release(conn, outcome.release_batch_no)
    assert (again.published, again.quarantined, again.collapsed) == (
        outcome.published,
        outcome.quarantined,
        outcome.collapsed,
    )
    assert again.published or again.quarantined


def test_an_error_of_the_retention_leaves_the_publication_standing(
    warehouse_url, monkeypatch, caplog
):
    def deadlock(*args, **kwargs):
        raise psycopg.errors.DeadlockDetected("deadlock detected")

    with ministry(monkeypatch, _items(50)):
        batch_no = population_sync.extract("population:deadlock", full=True, now=NOW)
        population_sync.validate(batch_no)
        monkeypatch.setattr(retention, "expired_batches", deadlock)
        counts = population_sync.publish(batch_no)
    assert counts["published"] == 50
    assert "the staging retention failed, to retry next time: deadlock detected" in caplog.text
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(
            "SELECT status FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone() == ("published",)


def test_expiry_does_not_wait_for_readers_and_a_locked_table_is_left_for_next_time(
    warehouse_url, monkeypatch
):
    with ministry(monkeypatch, _items(200)):
        old, _ = run_batch("population:old", now=NOW)
        run_batch("population:new", now=NOW)
    with (
        psycopg.connect(warehouse_url, autocommit=True) as conn,
        psycopg.connect(warehouse_url) as other,
    ):
        _age(conn, old, 40)
        # A long reader of staging (validation of another batch, the review) does not hold
        # expiry up: a DELETE locks rows, not the table.
        assert other.execute("SELECT count(*) FROM staging.population").fetchone()[0] == 400
        assert retention.expire(conn, SOURCE.key, older_than=timedelta(days=30)) == [old]
        other.rollback()

    with ministry(monkeypatch, _items(200, seed=4)):
        locked, _ = run_batch("population:locked", now=NOW)
    with (
        psycopg.connect(warehouse_url, autocommit=True) as conn,
        psycopg.connect(warehouse_url) as other,
    ):
        _age(conn, locked, 40)
        # A change of the table itself (a migration) holds a lock that a DELETE waits for:
        # after a moment the batch is left, whole, for the next publication.
        other.execute("LOCK TABLE staging.population IN SHARE MODE")
        monkeypatch.setattr(retention, "LOCK_TIMEOUT", "200ms")
        assert retention.expire(conn, SOURCE.key, older_than=timedelta(days=30)) == []
        assert _staged(conn, locked) == (200, 200)
        assert conn.execute(
            "SELECT count(*) FROM audit.province_scores WHERE batch_no = %s", (locked,)
        ).fetchone() == (0,)
        other.rollback()
        assert retention.expire(conn, SOURCE.key, older_than=timedelta(days=30)) == [locked]
        assert _staged(conn, locked) == (0, 0)


def test_a_bad_retention_stops_the_publication_before_it_publishes(warehouse_url, monkeypatch):
    with ministry(monkeypatch, _items(50)):
        batch_no = population_sync.extract("population:bad-setting", full=True, now=NOW)
        population_sync.validate(batch_no)
        monkeypatch.setenv(retention.RETENTION_ENV, "a month")
        with pytest.raises(ValueError, match=f"{retention.RETENTION_ENV} is 'a month'"):
            population_sync.publish(batch_no)
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(
            "SELECT status FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone() == ("validated",)
        assert _staged(conn, batch_no) == (50, 50)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", timedelta(days=30)), (" 7 ", timedelta(days=7)), ("1", timedelta(days=1))],
)
def test_retention_comes_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv(retention.RETENTION_ENV, value)
    assert retention.retention() == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "at least 1 day"), ("a week", "not a whole number"), ("1000000", "at most 36500")],
)
def test_a_bad_retention_is_named(monkeypatch, value, message):
    monkeypatch.setenv(retention.RETENTION_ENV, value)
    with pytest.raises(ValueError, match=f"{retention.RETENTION_ENV} .*{message}"):
        retention.retention()


def test_the_command_expires_any_source_and_names_an_unknown_one(
    warehouse_url, monkeypatch, capsys
):
    from lienthong import cli

    with ministry(monkeypatch, _items(120)):
        old, _ = run_batch("population:cli-old", now=NOW)
        run_batch("population:cli-new", now=NOW)
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        _age(conn, old, 40)
    # A source that no longer publishes would keep them: the command expires them.
    assert cli.main(["expire-staging"]) == 0
    assert capsys.readouterr().out == f"{SOURCE.key}: staged rows of 1 batch(es) deleted ({old})\n"
    with psycopg.connect(warehouse_url) as conn:
        assert _staged(conn, old) == (0, 0)
    assert cli.main(["expire-staging", SOURCE.key]) == 0
    assert capsys.readouterr().out == f"{SOURCE.key}: staged rows of 0 batch(es) deleted\n"

    assert cli.main(["expire-staging", "civil_events_99"]) == 2
    assert "no batch of source civil_events_99 in the warehouse" in capsys.readouterr().err
    monkeypatch.setenv(retention.RETENTION_ENV, "0")
    assert cli.main(["expire-staging"]) == 2
    assert (
        capsys.readouterr().err
        == f"{retention.RETENTION_ENV} is 0: staged rows stay at least 1 day\n"
    )


def test_the_command_names_a_warehouse_it_cannot_reach_or_use(
    warehouse_url, pg_admin_url, monkeypatch, capsys
):
    from lienthong import cli
    from lienthong.warehouse.connection import with_database

    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", with_database(warehouse_url, "lt_absent"))
    assert cli.main(["expire-staging"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lienthong expire-staging: the warehouse cannot be reached:")
    assert '"lt_absent" does not exist' in err
    # A database that was never migrated (an empty one) is named as such.
    name = f"lt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", with_database(warehouse_url, name))
        assert cli.main(["expire-staging"]) == 1
        assert "lacks migrations" in capsys.readouterr().err
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
