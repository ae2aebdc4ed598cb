"""Batches: one extraction of one source, from staging to published (or held, or failed).

A batch is keyed by its Airflow run (``batch_key``), so a retried task finds the same batch.
One batch of a source is open (extracting, staged or validated) at a time: the warehouse
enforces it with a unique index, whoever starts the run, inside Airflow or outside it. A
second run fails at once, naming the batch that is running.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors, sql
from psycopg.rows import dict_row

log = logging.getLogger(__name__)

#: Statuses in which a batch holds its source (the unique index of migration 0005).
OPEN = ("extracting", "staged", "validated")
#: Statuses a batch never leaves by itself.
FINAL = ("published", "rejected")


class BatchError(RuntimeError):
    """A batch is not in a state that allows the step asked of it."""


class BatchHeld(BatchError):
    """A batch-level rule or a dimension's pass rate put the batch on hold."""


class SourceBusy(BatchError):
    """Another batch of the same source is open: one run of a source at a time."""


def open_batch(
    conn: psycopg.Connection,
    *,
    batch_key: str,
    source: str,
    dataset: str,
    province: str | None,
    mode: str,
    updated_since: datetime | None,
    extracted_at: datetime,
) -> dict[str, Any]:
    """The batch for ``batch_key``, created on first use; a rerun gets the same batch and
    window, and a failed one is reopened.

    Raises:
        SourceBusy: another batch of ``source`` is open.
    """
    try:
        with conn.transaction():
            conn.execute(
                """INSERT INTO audit.batches (batch_key, source, dataset, province, mode,
                       updated_since, extracted_at, status)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, 'extracting')
                   ON CONFLICT (batch_key) DO NOTHING""",
                (batch_key, source, dataset, province, mode, updated_since, extracted_at),
            )
            conn.execute(
                """UPDATE audit.batches SET status = 'extracting', error = NULL, updated_at = now()
                   WHERE batch_key = %s AND status = 'failed'""",
                (batch_key,),
            )
    except errors.UniqueViolation as exc:
        raise SourceBusy(_busy_message(conn, source)) from exc
    return get(conn, batch_key=batch_key)


def _busy_message(conn: psycopg.Connection, source: str) -> str:
    with conn.cursor(row_factory=dict_row) as cur:
        running = cur.execute(
            """SELECT batch_no, batch_key, status, created_at FROM audit.batches
               WHERE source = %s AND status = ANY(%s) AND mode <> 'release'
               ORDER BY batch_no LIMIT 1""",
            (source, list(OPEN)),
        ).fetchone()
    if running is None:  # it ended meanwhile
        return f"another batch of {source} was open; run again"
    return (
        f"{source}: batch {running['batch_no']} ({running['batch_key']}) is {running['status']} "
        f"since {running['created_at']:%Y-%m-%d %H:%M:%S %Z}; one run of a source at a time: "
        "let it finish (or fail it) before starting another"
    )


def resume(conn: psycopg.Connection, batch_no: int, status: str) -> None:
    """Put a failed batch back to ``status`` for a retried step (validate, publish).

    Raises:
        SourceBusy: another batch of the source opened meanwhile.
    """
    batch = get(conn, batch_no=batch_no)
    try:
        with conn.transaction():
            update(conn, batch_no, status=status, error=None)
    except errors.UniqueViolation as exc:
        raise SourceBusy(_busy_message(conn, batch["source"])) from exc


def fail(conn: psycopg.Connection, batch_no: int, error: BaseException | str) -> None:
    """Record that a step of an open batch failed, with the error; the source is free again.

    Staged rows stay (a rerun clears them); a batch that ended meanwhile is left alone."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    with conn.transaction():
        conn.execute(
            """UPDATE audit.batches SET status = 'failed', error = %s, updated_at = now()
               WHERE batch_no = %s AND status = ANY(%s)""",
            (text[:4000], batch_no, list(OPEN)),
        )
    log.error("batch %s failed: %s", batch_no, text)


def fail_run(conn: psycopg.Connection, batch_key: str, error: str) -> int | None:
    """Fail the open batch of an Airflow run that ended without finishing it (a task that
    was killed, retries exhausted); return its number, if there was one."""
    row = conn.execute(
        "SELECT batch_no FROM audit.batches WHERE batch_key = %s AND status = ANY(%s)",
        (batch_key, list(OPEN)),
    ).fetchone()
    if row is None:
        return None
    fail(conn, row[0], error)
    return row[0]


def get(
    conn: psycopg.Connection, *, batch_no: int | None = None, batch_key: str | None = None
) -> dict:
    """One batch's audit row."""
    column, value = ("batch_no", batch_no) if batch_no is not None else ("batch_key", batch_key)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL("SELECT * FROM audit.batches WHERE {} = %s").format(sql.Identifier(column)),
            (value,),
        ).fetchone()
    if row is None:
        raise BatchError(f"no batch with {column} {value!r}")
    return row


def update(
    conn: psycopg.Connection, batch_no: int, *, timing: tuple[str, float] | None = None, **values
) -> None:
    """Set columns of a batch (and add one step's timing); the caller owns the transaction."""
    sets = [
        sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column))
        for column in values
    ]
    if timing:
        sets.append(sql.SQL("timings = timings || {}::jsonb").format(sql.Placeholder("timing")))
        values["timing"] = json.dumps({timing[0]: round(timing[1], 3)})
    sets.append(sql.SQL("updated_at = now()"))
    conn.execute(
        sql.SQL("UPDATE audit.batches SET {} WHERE batch_no = %(batch_no)s").format(
            sql.SQL(", ").join(sets)
        ),
        {**values, "batch_no": batch_no},
    )
