"""Watermarks: how far an incremental source has been read, kept in the warehouse."""

from __future__ import annotations

from datetime import datetime

import psycopg


def read(conn: psycopg.Connection, dataset: str, scope: str = "all") -> datetime | None:
    """The watermark of a dataset (and scope), or None before the first published batch."""
    row = conn.execute(
        "SELECT watermark FROM audit.watermarks WHERE dataset = %s AND scope = %s", (dataset, scope)
    ).fetchone()
    return row[0] if row else None


def advance(
    conn: psycopg.Connection, dataset: str, value: datetime, batch_no: int, scope: str = "all"
) -> None:
    """Move the watermark forward to ``value`` (never back); call inside the publishing transaction."""
    conn.execute(
        """INSERT INTO audit.watermarks (dataset, scope, watermark, batch_no)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (dataset, scope) DO UPDATE
           SET watermark = EXCLUDED.watermark, batch_no = EXCLUDED.batch_no, updated_at = now()
           WHERE audit.watermarks.watermark < EXCLUDED.watermark""",
        (dataset, scope, value, batch_no),
    )
