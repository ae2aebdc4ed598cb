"""How long a batch's staged rows stay: a finished batch's partitions of staging go once it is
old enough and no one can need them.

Staged rows stay after publishing, for review (the view shows the values each rule read) and
for releases of quarantined rows (prepared again from what was staged). They are not the
record: core, quarantine and the audit schema keep what was published, what failed and why.
Each batch is staged in partitions of its own (migration 0026), so a batch expires by dropping
them: no DELETE, no dead rows, no VACUUM; ``audit.batches.staging_expired_at`` says when.

A batch's staged rows go when all of these hold:

- it is published or rejected (a held, failed or open batch is never touched);
- it reached that state longer ago than the retention (`retention`, 30 days by default);
- none of its quarantined rows still awaits a decision;
- its window ended more than `KEEP_NEAR_WATERMARK` before its source's newest published one
  (rule E-L1 looks for the versions of the hour before each window among the rows staged
  by the source's earlier batches).
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from lienthong.pipeline.staging import PAYLOADS_TABLE, qualified

log = logging.getLogger(__name__)

#: The environment variable that sets the retention, in days.
RETENTION_ENV = "LIENTHONG_STAGING_RETENTION_DAYS"

#: How long a finished batch's staged rows stay unless `RETENTION_ENV` says otherwise.
DEFAULT_RETENTION = timedelta(days=30)

#: Batches whose window ended this close to their source's newest window stay, whatever their
#: age: rule E-L1 re-checks the hour before each window against them.
KEEP_NEAR_WATERMARK = timedelta(days=1)

#: How long dropping a batch's partition may wait for its staging table: dropping a partition
#: locks the whole table, and queries of other batches must not queue behind it for long. A
#: batch that could not be dropped is left for the next time.
LOCK_TIMEOUT = "1s"


def retention() -> timedelta:
    """How long finished batches' staged rows stay: `RETENTION_ENV` (days, a whole number of at
    least 1), else `DEFAULT_RETENTION`."""
    configured = os.environ.get(RETENTION_ENV, "").strip()
    if not configured:
        return DEFAULT_RETENTION
    try:
        days = int(configured)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} is {configured!r}, not a whole number of days") from None
    if days < 1:
        raise ValueError(f"{RETENTION_ENV} is {days}: staged rows stay at least 1 day")
    return timedelta(days=days)


def expired_batches(
    conn: psycopg.Connection, source_key: str, *, older_than: timedelta, now: datetime
) -> list[tuple[int, str]]:
    """The source's batches whose staged rows may go, oldest first: (batch_no, staging table)."""
    from lienthong.datasets import dataset

    rows = conn.execute(
        """SELECT b.batch_no, b.dataset FROM audit.batches b
           WHERE b.source = %(source)s
             AND b.status IN ('published', 'rejected')
             AND b.staging_expired_at IS NULL
             AND b.updated_at < %(before)s
             AND NOT EXISTS (SELECT 1 FROM quarantine.records q
                             WHERE q.batch_no = b.batch_no AND q.status = 'held')
             AND coalesce(b.window_end < (SELECT max(w.window_end) FROM audit.batches w
                                          WHERE w.source = b.source AND w.status = 'published')
                                         - %(near)s,
                          b.window_end IS NULL)
           ORDER BY b.batch_no""",
        {"source": source_key, "before": now - older_than, "near": KEEP_NEAR_WATERMARK},
    ).fetchall()
    return [(batch_no, dataset(name).staging_table) for batch_no, name in rows]


def expire(
    conn: psycopg.Connection,
    source_key: str,
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Drop the staged partitions of the source's expired batches (`expired_batches`); the
    batches whose staged rows went. Stops, leaving the rest for next time, when a staging
    table stays locked longer than `LOCK_TIMEOUT`."""
    older_than = retention() if older_than is None else older_than
    now = now or datetime.now(UTC)
    expired: list[int] = []
    for batch_no, table in expired_batches(conn, source_key, older_than=older_than, now=now):
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT))
                )
                for parent in (table, PAYLOADS_TABLE):
                    name = conn.execute(
                        "SELECT staging.batch_partition_name(%s, %s)", (parent, batch_no)
                    ).fetchone()[0]
                    conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(name)))
                conn.execute(
                    "UPDATE audit.batches SET staging_expired_at = %s WHERE batch_no = %s",
                    (now, batch_no),
                )
        except psycopg.errors.LockNotAvailable:
            log.info(
                "%s: staging is busy; batch %s and later expire next time", source_key, batch_no
            )
            break
        expired.append(batch_no)
    if expired:
        log.info(
            "%s: staged rows of %s batch(es) expired (%s to %s)",
            source_key,
            len(expired),
            expired[0],
            expired[-1],
        )
    return expired
