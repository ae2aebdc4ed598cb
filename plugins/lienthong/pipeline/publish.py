"""Publish: in one transaction, valid rows into core, failing rows into quarantine, counts
into the audit log, and the watermark forward. Publishing a published batch changes nothing."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import psycopg
from psycopg import sql

from lienthong.pipeline import batches, watermark
from lienthong.pipeline.dataset import Dataset, FirstLoad
from lienthong.pipeline.staging import PAYLOADS_TABLE, qualified

log = logging.getLogger(__name__)

#: Rows stamped later than the extraction plus this are in the future (rule P-L2) and must not
#: move the watermark.
CLOCK_SKEW = timedelta(minutes=5)

#: Rows a batch must have received for a load into empty core tables to build their indexes
#: after its rows (`Dataset.first_load`) rather than insert into them row by row: a million
#: population rows published in 4.5-4.9 s instead of 7.3-8.7 s. Below it the difference is
#: small and not worth an exclusive lock.
FIRST_LOAD_FROM = 50_000

COUNTS = ("received", "fixed", "published", "quarantined", "collapsed", "applied")


def publish(
    conn: psycopg.Connection, dataset: Dataset, batch_no: int, *, approved: bool = False
) -> dict[str, int]:
    """Publish a validated batch (or, ``approved``, a held one as it stands: its failing rows
    still quarantined); return its counts."""
    started = time.monotonic()
    table = qualified(dataset.staging_table)
    key = sql.Identifier(dataset.key_column)
    with conn.transaction():
        batch = conn.execute(
            """SELECT status, extracted_at, hold_reason, province, window_end,
                      window_closed, received FROM audit.batches WHERE batch_no = %s FOR UPDATE""",
            (batch_no,),
        ).fetchone()
        if batch is None:
            raise batches.BatchError(f"no {dataset.name} batch {batch_no}")
        status, extracted_at, hold_reason, province, window_end, window_closed, staged = batch
        if status == "published":
            log.info("%s batch %s is already published; nothing to do", dataset.name, batch_no)
            return counts(conn, batch_no)
        if status == "held" and not approved:
            raise batches.BatchHeld(f"{dataset.name} batch {batch_no} is on hold:\n{hold_reason}")
        if status not in ("validated", "held"):
            raise batches.BatchError(f"{dataset.name} batch {batch_no} is {status}, not validated")

        conn.execute(
            sql.SQL(
                # The failing rows' findings first (a few), then their staged key and payload
                # by row: the payloads are kept apart from the staging rows.
                """INSERT INTO quarantine.records (batch_no, row_no, dataset, record_key, rule_ids,
                       payload, payload_text)
                   SELECT s.batch_no, s.row_no, %(dataset)s, s.{key}, f.rule_ids,
                          p.payload, p.payload_text
                   FROM (SELECT row_no, array_agg(rule_id ORDER BY rule_id) AS rule_ids
                         FROM audit.findings
                         WHERE batch_no = %(b)s AND action = 'quarantine'
                         GROUP BY row_no) f
                   JOIN {table} s ON s.batch_no = %(b)s AND s.row_no = f.row_no
                   JOIN {payloads} p ON p.batch_no = %(b)s AND p.row_no = f.row_no
                   WHERE s.collapsed IS NULL"""
            ).format(table=table, key=key, payloads=qualified(PAYLOADS_TABLE)),
            {"b": batch_no, "dataset": dataset.name},
        )
        for statement in dataset.replaces_sql:
            conn.execute(statement, {"batch_no": batch_no})
        applied = _load(conn, dataset, batch_no, staged or 0)
        # Each outcome is counted from the rows themselves, so the table's check that they
        # add up to what was received is a real check.
        received, collapsed, published, fixed = conn.execute(
            sql.SQL(
                # Joins, not a subquery per row: one pass over the batch (6x faster at 100k).
                """SELECT count(*), count(s.collapsed),
                          count(*) FILTER (WHERE s.collapsed IS NULL AND q.row_no IS NULL),
                          count(*) FILTER (WHERE s.collapsed IS NULL AND q.row_no IS NULL
                                             AND x.row_no IS NOT NULL)
                   FROM {table} s
                   LEFT JOIN quarantine.records q ON q.batch_no = s.batch_no AND q.row_no = s.row_no
                   LEFT JOIN (SELECT DISTINCT row_no FROM audit.fixes WHERE batch_no = %(b)s) x
                          ON x.row_no = s.row_no
                   WHERE s.batch_no = %(b)s"""
            ).format(table=table),
            {"b": batch_no},
        ).fetchone()
        quarantined = conn.execute(
            "SELECT count(*) FROM quarantine.records WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
        if dataset.incremental:
            _advance_watermark(
                conn, dataset, batch_no, province, extracted_at, window_end, window_closed
            )
        batches.update(
            conn,
            batch_no,
            status="published",
            received=received,
            fixed=fixed,
            published=published,
            applied=applied,
            quarantined=quarantined,
            collapsed=collapsed,
            timing=("publish", time.monotonic() - started),
        )
    result = counts(conn, batch_no)
    log.info(
        "%s batch %s: publish: %s rows in %.1f s: %s",
        dataset.name,
        batch_no,
        f"{result['received'] or 0:,}",
        time.monotonic() - started,
        result,
    )
    return result


def _load(conn: psycopg.Connection, dataset: Dataset, batch_no: int, received: int) -> int:
    """The batch's valid rows into core (`Dataset.publish_sql`, or for a large batch into
    empty core tables, `Dataset.first_load`); return how many rows were applied."""
    first = dataset.first_load
    if first is not None and received >= FIRST_LOAD_FROM and _empty(conn, first.tables):
        applied = _first_load(conn, first, batch_no)
        if applied is not None:
            return applied
    return conn.execute(dataset.publish_sql, {"batch_no": batch_no}).rowcount


def _first_load(conn: psycopg.Connection, first: FirstLoad, batch_no: int) -> int | None:
    """Load empty core tables without their indexes and build these again after; None (and
    nothing done) when a table cannot be locked at once, is no longer empty, or has a key
    that other objects depend on.

    The tables are locked (ACCESS EXCLUSIVE, NOWAIT) until the publishing transaction ends:
    readers of a table that was empty wait for its first rows rather than for a lock queue
    behind them, and a table someone is reading is simply upserted into instead.
    """
    tables = [qualified(table) for table in first.tables]
    try:
        with conn.transaction():  # a savepoint: what a refused lock leaves is undone
            for table in tables:
                conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE NOWAIT").format(table))
            if not _empty(conn, first.tables):
                raise _NotEmpty
            constraints, indexes = _indexes(conn, first.tables)
            for table, name, _ in constraints:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        qualified(table), sql.Identifier(name)
                    )
                )
            for name, _ in indexes:
                conn.execute(sql.SQL("DROP INDEX {}").format(qualified(name)))
            started = time.monotonic()
            applied = conn.execute(first.sql, {"batch_no": batch_no}).rowcount
            loaded = time.monotonic()
            # Definitions as the catalogue gives them back: the same names, columns, options.
            for table, name, definition in constraints:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(
                        qualified(table),
                        sql.Identifier(name),
                        sql.SQL(definition),
                    )
                )
            for _, definition in indexes:
                conn.execute(sql.SQL(definition))
    except (psycopg.errors.LockNotAvailable, psycopg.errors.DependentObjectsStillExist, _NotEmpty):
        # In use, no longer empty, or a key others depend on (a foreign key, a view grouping by
        # it): the upsert, which needs none of this, publishes the same rows.
        log.info(
            "%s: upserted into, not loaded as a first load (in use, no longer empty, or its key "
            "depended on)",
            ", ".join(first.tables),
        )
        return None
    log.info(
        "first load of %s: %s rows in %.1f s, indexes built in %.1f s",
        ", ".join(first.tables),
        f"{applied:,}",
        loaded - started,
        time.monotonic() - loaded,
    )
    return applied


class _NotEmpty(Exception):
    """A table of a first load received rows before it was locked."""


def _empty(conn: psycopg.Connection, tables: tuple[str, ...]) -> bool:
    has_rows = sql.SQL("SELECT EXISTS (SELECT FROM {})")
    return not any(
        conn.execute(has_rows.format(qualified(table))).fetchone()[0] for table in tables
    )


def _indexes(
    conn: psycopg.Connection, tables: tuple[str, ...]
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """The tables' constraints that own an index (primary key, unique, exclusion) as (table,
    name, definition), and their other indexes as (qualified name, CREATE INDEX statement)."""
    constraints = conn.execute(
        """SELECT t.table_name, c.conname, pg_get_constraintdef(c.oid)
           FROM unnest(%s::text[]) WITH ORDINALITY AS t(table_name, position)
           JOIN pg_constraint c ON c.conrelid = t.table_name::regclass
           WHERE c.contype IN ('p', 'u', 'x')
           ORDER BY t.position, c.conname""",
        (list(tables),),
    ).fetchall()
    indexes = conn.execute(
        """SELECT n.nspname || '.' || i.relname, pg_get_indexdef(x.indexrelid)
           FROM unnest(%s::text[]) WITH ORDINALITY AS t(table_name, position)
           JOIN pg_index x ON x.indrelid = t.table_name::regclass
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_namespace n ON n.oid = i.relnamespace
           WHERE NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid
                                                          AND c.conrelid = x.indrelid)
           ORDER BY t.position, i.relname""",
        (list(tables),),
    ).fetchall()
    return constraints, indexes


def _advance_watermark(
    conn: psycopg.Connection,
    dataset: Dataset,
    batch_no: int,
    province: str | None,
    extracted_at,
    window_end,
    window_closed: bool,
) -> None:
    """The watermark moves to the newest version read, never past the window's end (the
    extraction's own clock, or the source's): a row stamped within the clock-skew allowance
    is published, and simply read again next time. A closed window (every version before its
    end has been read) moves the watermark to its end even where no row reached it."""
    if window_closed and window_end is not None:
        target = window_end
    else:
        table = qualified(dataset.staging_table)
        version = sql.Identifier(dataset.version_column)
        newest = conn.execute(
            sql.SQL(
                "SELECT max({version}) FROM {table} WHERE batch_no = %s AND {version} <= %s"
            ).format(version=version, table=table),
            (batch_no, extracted_at + CLOCK_SKEW),
        ).fetchone()[0]
        if newest is None:
            return
        target = min(newest, window_end) if window_end is not None else newest
    watermark.advance(conn, dataset.name, target, batch_no, scope=province or "all")


def counts(conn: psycopg.Connection, batch_no: int) -> dict[str, int]:
    """A batch's outcome counts."""
    row = conn.execute(
        f"SELECT {', '.join(COUNTS)} FROM audit.batches WHERE batch_no = %s", (batch_no,)
    ).fetchone()
    return dict(zip(COUNTS, row, strict=True))
