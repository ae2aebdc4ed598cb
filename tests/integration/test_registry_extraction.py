"""Registry extraction on real PostgreSQL and MariaDB servers (SOURCES.md §2, rule E-L1).

Every test runs on both engines, as a read-only account reached through an Airflow connection.
"""

from __future__ import annotations

import logging
import time
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from lienthong.registry.extraction import (
    RegistryExtraction,
    RegistrySchemaError,
    RegistryWindowError,
)
from lienthong.registry.hook import RegistryConnectionError, RegistryHook
from lienthong_demo import registry_databases
from lienthong_demo.registry import (
    DEFECTS,
    LOOSE_ONLY,
    MYSQL_ONLY,
    civil_events_table,
    driver_values,
)
from lienthong_demo.registry_writer import RegistryWriter

from .registry_servers import READER_PASSWORD, RegistryDatabase, mariadb_sessions

pytestmark = pytest.mark.integration


def _past(hours: int = 1) -> datetime:
    """A moment safely behind every server clock and commit lag used here."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(hours=hours)


def _ordered(rows) -> list[dict]:
    return [dict(row.values) for row in sorted(rows, key=lambda r: (r.updated_at, r.event_id))]


def _key(item: dict) -> tuple[str, datetime]:
    return item["event_id"], item["updated_at"]


# ---------------------------------------------------------------------------------------------
# Reading a whole table
# ---------------------------------------------------------------------------------------------


def test_reads_the_table_in_chunks_as_written(registry_db: RegistryDatabase) -> None:
    # The defects every engine can hold in a contract table (MariaDB's odd dates come below).
    portable = [label for label in DEFECTS if label not in LOOSE_ONLY | MYSQL_ONLY]
    registry = registry_db.create(count=700, now=_past(), seed=11, defects=portable)
    with registry_db.extraction(chunk_size=64) as extraction:
        chunks = list(extraction.chunks())
    items = [item for chunk in chunks for item in chunk]

    assert items == _ordered(registry.state())
    assert [len(chunk) for chunk in chunks[:-1]] == [64] * (len(chunks) - 1)
    assert 0 < len(chunks[-1]) <= 64
    assert extraction.announced_total == extraction.received == len(items) == 700
    assert extraction.engine_name == registry_db.engine
    assert extraction.missing_columns == () and extraction.extra_columns == ()
    assert extraction.window_start is None
    # Types as the lead's contract expects them, whatever the engine.
    assert {type(item["is_deleted"]) for item in items} == {bool}
    assert {type(item["event_date"]) for item in items if item["event_date"]} == {date}
    assert all(item["updated_at"].tzinfo is UTC for item in items)
    # The history really has what the contract warns about.
    assert max(Counter(item["updated_at"] for item in items).values()) > 5
    assert any(item["is_deleted"] for item in items)
    assert any(v.action == "update" for v in registry.versions)


def test_loose_table_values_arrive_as_held(registry_db: RegistryDatabase) -> None:
    """Values outside the contract's types and limits are read, not fatal (rule E-K3)."""
    registry = registry_db.create(count=900, now=_past(), seed=3, loose=True, defect_rate=0.3)
    _, items = registry_db.read(chunk_size=200)

    assert items == _ordered(registry.state())
    assert any(item["is_deleted"] == 2 and item["is_deleted"] is not True for item in items)
    assert any(len(item["event_id"]) > 32 or len(item["full_name"] or "") > 200 for item in items)
    assert len({item["event_id"] for item in items}) < len(items)  # E-K2: rows of one event
    if registry_db.engine == "mariadb":
        odd = {item["event_date"] for item in items if isinstance(item["event_date"], str)}
        assert "0000-00-00" in odd
        assert any(text.endswith(("-30", "-31")) for text in odd - {"0000-00-00"})
        assert any("\x00" in (item["full_name"] or "") for item in items)


@pytest.mark.parametrize("registry_db", ["mariadb"], indirect=True)
def test_odd_mariadb_values_in_a_contract_table(registry_db: RegistryDatabase) -> None:
    """Zero and impossible dates (possible only on MySQL/MariaDB) arrive as strings."""
    registry = registry_db.create(
        count=200,
        now=_past(),
        seed=4,
        defect_rate=0.5,
        defects=["E-K3:zero_date", "E-K3:invalid_date", "E-K1:quarantine"],
    )
    _, items = registry_db.read()
    assert items == _ordered(registry.state())
    labels = registry.labels()
    for item in items:
        if labels.get(item["event_id"]) and labels[item["event_id"]].rule_id == "E-K3":
            assert isinstance(item["event_date"], str)


# ---------------------------------------------------------------------------------------------
# Schema check
# ---------------------------------------------------------------------------------------------

_PARTIAL_TABLE = """
CREATE TABLE civil_events (
  event_id      VARCHAR(32) PRIMARY KEY,
  event_type    VARCHAR(10) NOT NULL,
  personal_id   CHAR(12),
  event_date    DATE,
  commune_code  CHAR(5),
  registered_at TIMESTAMP   NOT NULL,
  updated_at    TIMESTAMP   NOT NULL,
  is_deleted    BOOLEAN     NOT NULL DEFAULT FALSE,
  registrar     VARCHAR(100)
)"""


def test_missing_column_named_and_extra_column_carried(registry_db: RegistryDatabase) -> None:
    registry_db.execute(
        _PARTIAL_TABLE,
        "INSERT INTO civil_events VALUES ('KS-01-1', 'birth', '001226000001', '2026-01-01',"
        " '00004', '2026-01-02 03:04:05', '2026-01-02 03:04:05', FALSE, 'Cán bộ Lê Văn Tám')",
    )
    registry_db.grant()
    extraction, items = registry_db.read()

    assert extraction.missing_columns == ("full_name",)
    assert extraction.extra_columns == ("registrar",)
    assert items == [
        {
            "event_id": "KS-01-1",
            "event_type": "birth",
            "personal_id": "001226000001",
            "event_date": date(2026, 1, 1),
            "commune_code": "00004",
            "registered_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "updated_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            "is_deleted": False,
            "registrar": "Cán bộ Lê Văn Tám",
        }
    ]


def test_no_incremental_read_without_updated_at(registry_db: RegistryDatabase) -> None:
    registry_db.execute(
        "CREATE TABLE civil_events (event_id VARCHAR(32) PRIMARY KEY,"
        " event_type VARCHAR(10) NOT NULL, last_change TIMESTAMP NOT NULL)"
    )
    registry_db.grant()
    with pytest.raises(RegistrySchemaError) as caught:
        registry_db.read()
    message = str(caught.value)
    assert registry_db.conn_id in message
    assert "civil_events" in message and "'updated_at'" in message


def test_missing_table_is_named(registry_db: RegistryDatabase) -> None:
    registry_db.execute("CREATE TABLE other_events (event_id VARCHAR(32) PRIMARY KEY)")
    registry_db.grant("other_events")
    with pytest.raises(RegistrySchemaError, match=rf"{registry_db.conn_id}.*civil_events"):
        registry_db.read()


def test_a_view_the_account_may_only_select_from_is_read(registry_db: RegistryDatabase) -> None:
    # A province may give lienthong's account SELECT on a view named civil_events over its own
    # table, and nothing else: on MariaDB, reflecting a view's columns by SHOW CREATE TABLE
    # needs the SHOW VIEW privilege, which the account does not have.
    registry = registry_db.create(count=20, now=_past(), seed=7)
    registry_db.execute(
        "ALTER TABLE civil_events RENAME TO civil_events_base",
        "CREATE VIEW civil_events AS SELECT * FROM civil_events_base",
    )
    registry_db.grant()
    extraction, items = registry_db.read()
    assert items == _ordered(registry.state())
    assert extraction.missing_columns == () and extraction.extra_columns == ()


# ---------------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------------


def test_windows_are_half_open_and_meet_exactly(registry_db: RegistryDatabase) -> None:
    registry = registry_db.create(count=500, now=_past(), seed=5)
    rows = _ordered(registry.state())
    stamps = Counter(row["updated_at"] for row in rows)
    # A boundary that many rows share, in the middle of the history.
    boundary = max(
        (
            s
            for s in stamps
            if rows[len(rows) // 4]["updated_at"] < s < rows[-len(rows) // 4]["updated_at"]
        ),
        key=lambda s: stamps[s],
    )
    assert stamps[boundary] > 1

    first, before = registry_db.read(until=boundary)
    second, after = registry_db.read(since=boundary)

    assert first.window_end == boundary == second.window_start
    assert all(item["updated_at"] < boundary for item in before)
    assert all(item["updated_at"] >= boundary for item in after)
    assert before + after == rows
    assert second.window_end <= second.window.source_clock - second.window.commit_lag
    assert second.window_end.microsecond == 0


def test_an_unsettled_window_end_is_refused(registry_db: RegistryDatabase) -> None:
    registry_db.create(count=10, now=_past(), seed=6)
    future = datetime.now(UTC) + timedelta(hours=1)
    with pytest.raises(RegistryWindowError, match=registry_db.conn_id):
        registry_db.read(until=future)


def test_the_window_is_empty_when_the_clock_has_not_passed_since(
    registry_db: RegistryDatabase,
) -> None:
    registry_db.create(count=10, now=_past(), seed=6)
    since = datetime.now(UTC) + timedelta(days=1)
    extraction, items = registry_db.read(since=since)
    assert items == []
    assert extraction.announced_total == 0
    assert extraction.window_end < since
    assert "not after since" in extraction.window.empty_reason


def _insert_uncommitted(
    registry_db: RegistryDatabase, event_id: str
) -> tuple[sa.Connection, datetime]:
    """Start a registry transaction that writes one event stamped a second ago, uncommitted."""
    stamp = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    engine = registry_databases.registry_hook(registry_db.admin_url).get_sqlalchemy_engine()
    conn = engine.connect()
    values = {
        "event_id": event_id,
        "event_type": "birth",
        "personal_id": "001226000001",
        "full_name": "Nguyễn Văn An",
        "event_date": date(2026, 1, 1),
        "commune_code": "00004",
        "registered_at": stamp,
        "updated_at": stamp,
        "is_deleted": False,
    }
    conn.execute(sa.insert(civil_events_table()), [driver_values(values, loose=False)])
    return conn, stamp


def test_a_late_commit_is_missed_without_the_lag_and_read_once_with_it(
    registry_db: RegistryDatabase,
) -> None:
    """The commit lag is what makes a window settled: shown with one late commit each way."""
    registry_db.create(count=0, now=_past())

    # Without a lag the window ends at the clock: a row stamped before it but not yet
    # committed is not in the snapshot, and the next window starts after its stamp.
    late, stamp = _insert_uncommitted(registry_db, "LATE-NO-LAG")
    first, items = registry_db.read(commit_lag=timedelta(0))
    assert first.window_end > stamp and items == []
    late.commit()
    late.close()
    second, items = registry_db.read(since=first.window_end, commit_lag=timedelta(0))
    assert "LATE-NO-LAG" not in {item["event_id"] for item in items}  # lost for good
    # ... but a re-check of the past read windows shows a key nobody received.
    received = {_key(item) for item in items}
    third, _ = registry_db.read(
        since=second.window_end, recheck_from=stamp - timedelta(hours=1), commit_lag=timedelta(0)
    )
    assert set(third.window.recheck_keys) - received == {("LATE-NO-LAG", stamp.replace(tzinfo=UTC))}

    # With a lag longer than the commit delay, the window stops short of the open write and
    # a later window, once the clock has passed it, reads it, once.
    lag = timedelta(seconds=5)
    late, stamp = _insert_uncommitted(registry_db, "LATE-WITH-LAG")
    extraction, items = registry_db.read(since=second.window_end, commit_lag=lag)
    assert extraction.window_end <= stamp
    late.commit()
    late.close()
    seen = [item["event_id"] for item in items]
    since = extraction.window_end
    while since <= stamp:
        time.sleep(0.5)
        extraction, items = registry_db.read(since=since, commit_lag=lag)
        seen += [item["event_id"] for item in items]
        since = max(since, extraction.window_end)
    assert seen.count("LATE-WITH-LAG") == 1


# ---------------------------------------------------------------------------------------------
# Exactly once under concurrent writes (rule E-L1)
# ---------------------------------------------------------------------------------------------


def test_exactly_once_while_the_registry_writes(registry_db: RegistryDatabase) -> None:
    """Windows chained while writers insert, correct and delete with late commits: the versions
    read, newest per event, are what was committed, and no version is read twice."""
    registry = registry_db.create(count=120, now=_past(), seed=8)
    before = {row["event_id"]: row for row in _ordered(registry.state())}
    max_delay = 1.5
    # Commit delay, plus the second that stamps lose to flooring, plus margin.
    lag = timedelta(seconds=max_delay + 2)
    writer = RegistryWriter(
        registry_db.admin_url,
        seed=21,
        threads=3,
        transactions=36,
        max_commit_delay=max_delay,
        late_share=0.35,
    )

    windows: list[tuple[RegistryExtraction, list[dict]]] = []
    since = None

    def extract() -> None:
        nonlocal since
        extraction, items = registry_db.read(since=since, commit_lag=lag, chunk_size=7)
        windows.append((extraction, items))
        if extraction.window.empty_reason is None:
            since = extraction.window_end

    with writer:
        while writer.running:
            extract()
            time.sleep(0.25)
    last = writer.last_updated_at
    assert last is not None
    # After the writers stop: windows until one ends past the last stamp written.
    while since is None or since <= last:
        time.sleep(0.5)
        extract()

    read_versions = [item for _, items in windows for item in items]
    keys = Counter(_key(item) for item in read_versions)
    assert [key for key, n in keys.items() if n > 1] == []  # no version read twice
    for extraction, items in windows:
        assert extraction.received == extraction.announced_total == len(items)
    newest: dict[str, dict] = {}
    for item in sorted(read_versions, key=lambda item: item["updated_at"]):
        newest[item["event_id"]] = item
    assert newest == {**before, **writer.truth}  # none missed, every event as last committed
    # The writers' view agrees with the table itself.
    assert registry_db.admin_rows("SELECT COUNT(*) FROM civil_events") == [(len(newest),)]

    # The run exercised what the contract warns about.
    assert writer.late_commits > 5
    committed = writer.committed
    assert any(v["is_deleted"] for v in committed)
    assert len(committed) > len(writer.truth)  # corrections: several versions of an event
    window_of = {}
    for n, (_, items) in enumerate(windows):
        for item in items:
            window_of.setdefault(item["event_id"], set()).add(n)
    assert any(len(ns) > 1 for ns in window_of.values())  # an event corrected across windows
    assert sum(1 for extraction, items in windows if items) > 3


# ---------------------------------------------------------------------------------------------
# Memory: a server-side cursor, chunk by chunk
# ---------------------------------------------------------------------------------------------

_ROWS = 20_000
_PAD = 2_000

_FILL = {
    "postgresql": f"""
INSERT INTO civil_events
SELECT 'M-' || g, 'birth', '001226000001', 'Nguyễn Văn An', DATE '2026-01-01', '00004',
       TIMESTAMP '2026-01-02 00:00:00', TIMESTAMP '2026-01-02 00:00:00' + g * INTERVAL '1 second',
       FALSE, repeat('x', {_PAD})
FROM generate_series(1, {_ROWS}) AS g""",
    "mariadb": f"""
INSERT INTO civil_events
SELECT CONCAT('M-', seq), 'birth', '001226000001', 'Nguyễn Văn An', '2026-01-01', '00004',
       '2026-01-02 00:00:00', TIMESTAMP '2026-01-02 00:00:00' + INTERVAL seq SECOND,
       FALSE, REPEAT('x', {_PAD})
FROM seq_1_to_{_ROWS}""",
}


def _reader_sessions(registry_db: RegistryDatabase) -> list[tuple]:
    if registry_db.engine == "mariadb":
        return mariadb_sessions(registry_db.server_url, registry_db.reader)
    return registry_db.admin_rows(
        f"SELECT state, query FROM pg_stat_activity WHERE usename = '{registry_db.reader}'"
    )


def test_rows_stream_through_a_server_side_cursor(registry_db: RegistryDatabase) -> None:
    """A 40 MB window read in 500-row chunks: the server still holds the rest of the result
    while the first chunk is in hand, and Python's memory stays far below the window's size."""
    registry_db.create(count=0, now=_past())
    registry_db.execute("ALTER TABLE civil_events ADD COLUMN scan TEXT", _FILL[registry_db.engine])
    registry_db.grant()

    tracemalloc.start()
    try:
        with registry_db.extraction(chunk_size=500) as extraction:
            chunks = extraction.chunks()
            first = next(chunks)
            sessions = _reader_sessions(registry_db)
            sizes = [len(first)] + [len(chunk) for chunk in chunks]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert sum(sizes) == extraction.announced_total == _ROWS
    assert max(sizes) == 500
    assert peak < 12 * 2**20, (
        f"peak {peak / 2**20:.1f} MiB for a {_ROWS * _PAD / 2**20:.0f} MB window"
    )
    assert len(sessions) == 1
    if registry_db.engine == "mariadb":
        command, _state, info = sessions[0]
        assert command == "Query" and "civil_events" in info  # the SELECT is still sending
    else:
        _state, query = sessions[0]
        assert query.startswith("FETCH FORWARD")  # a named cursor, fetched chunk by chunk
    assert _reader_sessions(registry_db) == []


def test_an_abandoned_stream_releases_its_connection(
    registry_db: RegistryDatabase,
) -> None:
    registry_db.create(count=0, now=_past())
    registry_db.execute("ALTER TABLE civil_events ADD COLUMN scan TEXT", _FILL[registry_db.engine])
    registry_db.grant()
    with registry_db.extraction(chunk_size=100) as extraction:
        for chunk in extraction.chunks():
            assert len(chunk) == 100
            break
    assert extraction.received == 100 < extraction.announced_total
    assert _reader_sessions(registry_db) == []


# ---------------------------------------------------------------------------------------------
# Secrets and connection checks
# ---------------------------------------------------------------------------------------------


def test_the_password_never_reaches_a_log_or_an_error(
    registry_db: RegistryDatabase, caplog, monkeypatch
) -> None:
    registry_db.create(count=30, now=_past(), seed=9)
    forms = {READER_PASSWORD, quote(READER_PASSWORD, safe="")}
    with caplog.at_level(logging.DEBUG):
        _, items = registry_db.read()
        ok, message = RegistryHook(registry_db.conn_id).test_connection()
    assert ok and len(items) == 30
    assert "window" in caplog.text  # the extraction did log
    assert not any(form in caplog.text or form in message for form in forms)

    # A wrong password to a database that does not exist: refused on any server.
    bad_url = registry_databases.with_database(registry_db.reader_url, "no_such_registry")
    bad_url = bad_url.replace(
        quote(READER_PASSWORD, safe=""), quote("Wr0ng" + READER_PASSWORD, safe="")
    )
    monkeypatch.setenv(f"AIRFLOW_CONN_{registry_db.conn_id.upper()}", bad_url)
    caplog.clear()
    with caplog.at_level(logging.DEBUG), pytest.raises(RegistryConnectionError) as caught:
        registry_db.read()
    error = caught.value
    assert registry_db.conn_id in str(error)
    assert error.__cause__ is None and error.__suppress_context__
    ok, message = RegistryHook(registry_db.conn_id).test_connection()
    assert not ok and registry_db.conn_id in message
    for text in (str(error), message, caplog.text):
        assert "Wr0ng" not in text
        assert not any(form in text for form in forms)
