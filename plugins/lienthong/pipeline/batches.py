"""Batches: one extraction of one dataset, from staging to published (or held)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


class BatchError(RuntimeError):
    """A batch is not in a state that allows the step asked of it."""


class BatchHeld(BatchError):
    """A batch-level rule or a dimension's pass rate put the batch on hold."""


def open_batch(
    conn: psycopg.Connection,
    *,
    batch_key: str,
    dataset: str,
    mode: str,
    updated_since: datetime | None,
    extracted_at: datetime,
) -> dict[str, Any]:
    """The batch for ``batch_key``, created on first use; a rerun gets the same batch and window."""
    with conn.transaction():
        conn.execute(
            """INSERT INTO audit.batches (batch_key, dataset, mode, updated_since, extracted_at, status)
               VALUES (%s, %s, %s, %s, %s, 'extracting')
               ON CONFLICT (batch_key) DO NOTHING""",
            (batch_key, dataset, mode, updated_since, extracted_at),
        )
    return get(conn, batch_key=batch_key)


def get(
    conn: psycopg.Connection, *, batch_no: int | None = None, batch_key: str | None = None
) -> dict:
    """One batch's audit row."""
    column, value = ("batch_no", batch_no) if batch_no is not None else ("batch_key", batch_key)
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(f"SELECT * FROM audit.batches WHERE {column} = %s", (value,)).fetchone()
    if row is None:
        raise BatchError(f"no batch with {column} {value!r}")
    return row


def update(
    conn: psycopg.Connection, batch_no: int, *, timing: tuple[str, float] | None = None, **values
) -> None:
    """Set columns of a batch (and add one step's timing); the caller owns the transaction."""
    sets = [f"{column} = %({column})s" for column in values]
    if timing:
        sets.append("timings = timings || %(timing)s::jsonb")
        values["timing"] = json.dumps({timing[0]: round(timing[1], 3)})
    sets.append("updated_at = now()")
    conn.execute(
        f"UPDATE audit.batches SET {', '.join(sets)} WHERE batch_no = %(batch_no)s",
        {**values, "batch_no": batch_no},
    )
