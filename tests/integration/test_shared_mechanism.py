"""The shared mechanism under hostile input, through the population source: no silent loss at
the watermark, no poison item that stops the feed, failed extractions on record, one run of a
source at a time. Every later dataset inherits what is shown here."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import batches
from lienthong.pipeline import sync as pipeline_sync
from lienthong.warehouse.connection import with_database
from lienthong_demo.citizens import generate_citizens
from tests.support.scripted_server import ScriptedServer, json_page, raw

from .population_fixtures import SOURCE, TOKEN, ministry, run_batch
from .population_fixtures import population_sync as sync

pytestmark = pytest.mark.integration


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(count: int, now: datetime, seed: int = 5) -> list[dict]:
    citizens = generate_citizens(count, seed=seed, defect_rate=0.0, now=now, span=timedelta(days=1))
    return [c.item for c in citizens]


def _watermark(url: str):
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT watermark FROM audit.watermarks").fetchone()
    return row[0] if row else None


def test_the_watermark_never_passes_the_extractions_clock(warehouse_url, monkeypatch):
    now = datetime.now(UTC).replace(microsecond=0)
    items = _clean(20, now - timedelta(hours=1))
    # Stamped 4 minutes after the extraction's clock: inside the 5-minute skew allowance, so
    # published, not quarantined as future.
    ahead = {**items[0], "updated_at": _stamp(now + timedelta(minutes=4))}
    with ministry(monkeypatch, [*items[1:], ahead]):
        _, counts = run_batch("population:first", now=now)
    assert counts["published"] == 20
    assert _watermark(warehouse_url) <= now

    # Written after the first walk, stamped before the early record: the next incremental
    # run must read it.
    late = {
        **items[1],
        "marital_status": "widowed",
        "updated_at": _stamp(now + timedelta(minutes=1)),
    }
    with ministry(monkeypatch, [*items[2:], ahead, late]):
        batch_no, counts = run_batch(
            "population:second", now=now + timedelta(minutes=10), full=False
        )
    with psycopg.connect(warehouse_url) as conn:
        status = conn.execute(
            "SELECT marital_status FROM core.population WHERE personal_id = %s",
            (late["personal_id"],),
        ).fetchone()
        received = conn.execute(
            "SELECT received FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
    assert status == ("widowed",)
    # The early record is read again (and changes nothing), with the late one.
    assert received == 2
    assert _watermark(warehouse_url) <= now + timedelta(minutes=10)


_MARK = "@@poison@@"

# Each poison: (field to set to the mark, or None for the whole item; JSON text put in the
# mark's place; words the P-K5 reason must hold). Everything else about the item is clean.
POISON = {
    "surrogate": ("full_name", '"Tr\\ud800n"', "full_name: invalid Unicode"),
    "nan": ("ethnicity_code", "NaN", "ethnicity_code: a number where"),
    "infinity": ("score", "Infinity", "score: inf is not a JSON number"),
    "deep": ("x", "[" * 100_000 + "]" * 100_000, "cannot be read: nested too deep"),
    "string": (None, '"just a string"', "the item is a string, not an object"),
    "null": (None, "null", "the item is null, not an object"),
    "household_object": (
        "household_id",
        '{"id": "HK1"}',
        "household_id: an object where the contract wants a string",
    ),
    "address_string": ("current_address", '"Hà Nội"', "current_address: a string, not an object"),
    "huge_name": (
        "full_name",
        '"' + "A" * 10_000_000 + '"',
        "full_name: text of 10000000 characters, over the limit of 200",
    ),
    "iso_week": (
        "updated_at",
        '"2026-W48-7T10:00Z"',
        "updated_at: '2026-W48-7T10:00Z' is not an RFC 3339 timestamp with a zone",
    ),
    "no_zone": (
        "updated_at",
        '"2026-11-20T10:00:00"',
        "updated_at: '2026-11-20T10:00:00' is not an RFC 3339 timestamp with a zone",
    ),
    "duplicate_keys": ("sex", '"M", "sex": "F"', "sex: the key occurs more than once"),
}


def _poisoned(base: dict, field: str | None, text: str) -> str:
    if field is None:
        return text
    return json.dumps({**base, field: _MARK}, ensure_ascii=False).replace(f'"{_MARK}"', text)


def test_poison_items_are_quarantined_under_pk5_and_the_rest_is_published(
    warehouse_url, monkeypatch
):
    now = datetime.now(UTC).replace(microsecond=0)
    # Enough clean rows that a dozen poison items keep the clean dimension over its 95 %.
    items = _clean(400 + len(POISON), now - timedelta(hours=2))
    clean, bases = items[:400], items[400:]
    texts = [json.dumps(item, ensure_ascii=False) for item in clean] + [
        _poisoned(base, field, text)
        for base, (field, text, _) in zip(bases, POISON.values(), strict=True)
    ]
    body = '{"items": [' + ", ".join(texts) + f'], "next_cursor": null, "total": {len(texts)}}}'
    with ScriptedServer(lambda q: raw(body)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
        batch_no = sync.extract("population:poison", full=True, now=now)
        sync.validate(batch_no)
        counts = sync.publish(batch_no)

    assert counts["received"] == 400 + len(POISON)
    assert counts["published"] == 400
    assert counts["quarantined"] == len(POISON)
    with psycopg.connect(warehouse_url) as conn:
        reasons = dict(
            conn.execute(
                """SELECT row_no, reason FROM audit.findings
                   WHERE batch_no = %s AND rule_id = 'P-K5' ORDER BY row_no""",
                (batch_no,),
            ).fetchall()
        )
        kept = dict(
            conn.execute(
                "SELECT row_no, coalesce(payload::text, payload_text) FROM quarantine.records"
            ).fetchall()
        )
        published_households = conn.execute(
            "SELECT count(*) FROM core.population WHERE household_id LIKE '{%'"
        ).fetchone()[0]
    assert sorted(reasons) == sorted(kept) == list(range(400, 400 + len(POISON)))
    for row_no, (name, (_, _, words)) in enumerate(POISON.items(), start=400):
        assert words in reasons[row_no], (name, reasons[row_no][:300])
    # Kept as received: as JSON where it can be, as text where it cannot.
    assert "\\ud800" in kept[400]
    assert "NaN" in kept[401]
    assert "[" * 100_000 in kept[403]
    assert kept[404] == '"just a string"'
    assert len(kept[408]) > 10_000_000
    assert published_households == 0


def test_a_failed_extraction_is_recorded_and_frees_the_source(warehouse_url, monkeypatch):
    now = datetime.now(UTC)
    with ScriptedServer(lambda q: raw('{"items": 3, "next_cursor": null, "total": 3}')) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
        with pytest.raises(Exception, match="breaks the contract: items is a JSON int"):
            sync.extract("population:broken", full=True, now=now)
    with psycopg.connect(warehouse_url) as conn:
        status, error, received = conn.execute(
            "SELECT status, error, received FROM audit.batches WHERE batch_key = 'population:broken'"
        ).fetchone()
    assert status == "failed"
    assert "MinistryContractError" in error and "items is a JSON int" in error
    assert received is None
    # The source is free: the next run extracts.
    with ministry(monkeypatch, _clean(10, now - timedelta(hours=1))):
        _, counts = run_batch("population:after", now=now)
    assert counts["published"] == 10


def test_a_total_beyond_32_bits_is_stored_and_holds_the_batch(warehouse_url, monkeypatch):
    now = datetime.now(UTC)
    items = _clean(3, now - timedelta(hours=1))
    with ScriptedServer(lambda q: json_page(items, None, 2**31)) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
        batch_no = sync.extract("population:big", full=True, now=now)
        with pytest.raises(batches.BatchHeld, match="P-S2"):
            sync.validate(batch_no)
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(
            "SELECT announced_total, received, status FROM audit.batches"
        ).fetchone() == (2**31, 3, "held")


def _state(url: str) -> dict[str, list]:
    """What the runs left, with batches named by their key (numbers may differ between
    warehouses: a refused batch still draws a number)."""
    queries = {
        "core": """SELECT p.personal_id, p.full_name, p.date_of_birth, p.perm_commune_code,
                          p.updated_at, b.batch_key
                   FROM core.population p JOIN audit.batches b USING (batch_no) ORDER BY 1""",
        "quarantine": """SELECT b.batch_key, q.row_no, q.record_key, q.rule_ids, q.status
                         FROM quarantine.records q JOIN audit.batches b USING (batch_no)
                         ORDER BY 1, 2""",
        "batches": """SELECT batch_key, mode, status, received, fixed, published, quarantined,
                             collapsed, applied FROM audit.batches ORDER BY 1""",
        "watermarks": """SELECT w.dataset, w.scope, w.watermark, b.batch_key
                         FROM audit.watermarks w JOIN audit.batches b USING (batch_no)""",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in queries.items()}


def _slow_ministry(items: list[dict], pages: int, delay: float):
    """A server that takes ``delay`` seconds per page."""
    size = -(-len(items) // pages)

    def answer(query):
        start = int(query.get("cursor", "0"))
        time.sleep(delay)
        chunk = items[start : start + size]
        following = str(start + size) if start + size < len(items) else None
        return json_page(chunk, following, len(items))

    return ScriptedServer(answer)


def test_two_runs_of_one_source_never_interleave(
    warehouse_url, pg_admin_url, template_database, monkeypatch
):
    now = datetime.now(UTC).replace(microsecond=0)
    items = [
        c.item
        for c in generate_citizens(
            120, seed=31, defect_rate=0.1, now=now - timedelta(hours=1), span=timedelta(days=1)
        )
    ]
    with _slow_ministry(items, pages=4, delay=0.5) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
        outcome: dict[str, object] = {}
        first = threading.Thread(
            target=lambda: outcome.update(first=run_batch("population:one", now=now))
        )
        first.start()
        # The second run starts while the first is extracting: it fails at once, naming it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with psycopg.connect(warehouse_url) as conn:
                if conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0]:
                    break
            time.sleep(0.05)
        with pytest.raises(
            batches.SourceBusy,
            match=r"population: batch \d+ \(population:one\) is (extracting|staged|validated)",
        ):
            pipeline_sync.extract(SOURCE, "population:two", full=True, now=now)
        first.join()
        # Once the first has published, the second runs as a batch of its own.
        run_batch("population:two", now=now)
        concurrent = _state(warehouse_url)

        # The same two runs one after the other, on a warehouse of their own.
        other = f"{template_database}_sequential"
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{other}"')
            admin.execute(f'CREATE DATABASE "{other}" TEMPLATE "{template_database}"')
        try:
            monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", with_database(pg_admin_url, other))
            run_batch("population:one", now=now)
            run_batch("population:two", now=now)
            sequential = _state(with_database(pg_admin_url, other))
        finally:
            with psycopg.connect(pg_admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{other}" WITH (FORCE)')
    assert outcome["first"][1]["received"] == 120
    assert concurrent == sequential
    with psycopg.connect(warehouse_url) as conn:
        statuses = conn.execute("SELECT batch_key, status FROM audit.batches ORDER BY 1").fetchall()
    assert statuses == [("population:one", "published"), ("population:two", "published")]
