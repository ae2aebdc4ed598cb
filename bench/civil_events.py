"""What the benchmark needs of the civil_events dataset: a province's registry of N events in a
PostgreSQL database, new versions of some of them for an incremental sync, and its flat form
for raw COPY.

The registry comes from the demo generator (`lienthong_demo.registry`), with its labelled
defects at 2 %, written into ``civil_events`` as SOURCES.md §2 defines it, in a database of its
own on the benchmark's server (so the server's CPU during our extraction is the registry's and
the warehouse's). Every version is stamped at least ten minutes before the run: our read, with a
commit lag of one second, finds them all settled; the new versions the harness writes after the
full sync are read a second later.

No peer reads a registry here: dlt and the pandas baseline are measured on population and
dossiers; raw COPY loads the same rows, flattened beforehand.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from lienthong.registry.extraction import DOCUMENTED_COLUMNS, TABLE

#: Seed and defect rate of the generated registry (the same rows in every run).
SEED = 1
DEFECT_RATE = 0.02

#: The province the registry belongs to.
PROVINCE = "01"

#: How far behind the registry's clock our read ends: one second, so that the versions the
#: harness writes after the full sync are read by the incremental one a moment later.
COMMIT_LAG_SECONDS = 1

#: The raw COPY's table: the registry's columns, every one text.
FLAT_COLUMNS = DOCUMENTED_COLUMNS


def write_registry(url: str, rows: int, now: datetime) -> int:
    """Create ``civil_events`` in the database at ``url`` with a generated history of ``rows``
    events of province 01, each version stamped at least ten minutes before ``now``; return
    the rows the table holds."""
    from lienthong_demo.registry import create_registry

    create_registry(
        url,
        province_code=PROVINCE,
        count=rows,
        seed=SEED,
        now=now - timedelta(minutes=10),
        span=timedelta(days=30),
        defect_rate=DEFECT_RATE,
    )
    with psycopg.connect(url) as conn:
        query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(TABLE))
        return conn.execute(query).fetchone()[0]


def write_changes(url: str, fraction: float) -> int:
    """Give ``fraction`` of the events (every n-th by event_id) a new version stamped now by
    the registry's clock; return how many."""
    every = max(1, round(1 / fraction))
    with psycopg.connect(url) as conn:
        changed = conn.execute(
            sql.SQL(
                """UPDATE {table} SET updated_at = now() AT TIME ZONE 'UTC'
                   WHERE event_id IN (
                       SELECT event_id FROM (
                           SELECT event_id, row_number() OVER (ORDER BY event_id) AS n
                           FROM {table}) numbered
                       WHERE n %% %(every)s = 0)"""
            ).format(table=sql.Identifier(TABLE)),
            {"every": every},
        ).rowcount
    return changed


def flat_rows(url: str) -> Iterator[tuple[str | None, ...]]:
    """Every row of the registry as a raw COPY row: its columns as text."""
    columns = sql.SQL(", ").join(
        sql.SQL("{}::text").format(sql.Identifier(column)) for column in FLAT_COLUMNS
    )
    with psycopg.connect(url) as conn, conn.cursor(name="flat") as cursor:
        cursor.execute(sql.SQL("SELECT {} FROM {}").format(columns, sql.Identifier(TABLE)))
        yield from cursor
