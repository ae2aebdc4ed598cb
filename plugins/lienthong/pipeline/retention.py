"""How long a batch's staged rows stay: a finished batch's rows leave staging once it is old
enough and no one can need them.

Staged rows are a batch's working copy: validation and publication read them, the review
shows the values each rule read, a release prepares quarantined rows again from them, and rule
E-L1 looks among a registry source's recent batches for the versions they received. They are
not the record: core, quarantine (each failing row with its payload as received) and the audit
schema keep what was published, what failed and why. Kept for ever, staging grew by every
batch (a national full sync: a million rows and their payloads), and each batch's scans found
their rows among all the earlier ones (`docs/BENCHMARKS.md`, "a second batch, beside the
first").

A batch's staged rows go when all of these hold:

- it is published (a held, failed or open batch is never touched, nor a rejected one: nothing
  of it went to quarantine, so its staged rows are the only record of what failed);
- it is not a release (an operator's few rows, whose outcome the review reads from staging);
- it reached that state longer ago than the retention (`retention`, 30 days by default);
- none of its quarantined rows still awaits a decision (a release reads them);
- its window ended more than `KEEP_NEAR_WATERMARK` before its source's newest published one
  (rule E-L1 re-checks the hour before each window against the source's batches).

They go by DELETE, batch by batch, each in a transaction of its own. A DELETE locks the rows
it deletes, and takes on the table only the lock every writer takes, so other sources' batches
are staged, validated and read meanwhile (a partition per batch, measured and not kept, had to
lock the whole table to go: `docs/ARCHITECTURE.md`); autovacuum makes the space reusable for the next batches. What the
review reads per province from a national batch's staged rows is kept first, in
``audit.province_scores``, and ``audit.batches.staging_expired_at`` says when the rows went.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

from lienthong.pipeline import province_scores, staging
from lienthong.pipeline.dataset import DIMENSIONS

log = logging.getLogger(__name__)

#: The environment variable that sets the retention, in days.
RETENTION_ENV = "LIENTHONG_STAGING_RETENTION_DAYS"

#: How long a finished batch's staged rows stay unless `RETENTION_ENV` says otherwise.
DEFAULT_RETENTION = timedelta(days=30)

#: Batches whose window ended this close to their source's newest published window stay,
#: whatever their age: rule E-L1 re-checks the hour before each window against them.
KEEP_NEAR_WATERMARK = timedelta(days=1)

#: The longest retention accepted (a century): a larger number means "keep them", for which
#: this is long enough, and would overflow the date arithmetic of `expire`.
MAX_RETENTION = timedelta(days=36_500)

#: How long deleting a batch's rows may wait for a lock on its staging table (only a change of
#: the table itself, a migration, holds one that long); the batch is left for next time.
LOCK_TIMEOUT = "5s"


def retention() -> timedelta:
    """How long finished batches' staged rows stay: `RETENTION_ENV` (days, a whole number from
    1 to `MAX_RETENTION`'s), else `DEFAULT_RETENTION`."""
    configured = os.environ.get(RETENTION_ENV, "").strip()
    if not configured:
        return DEFAULT_RETENTION
    try:
        days = int(configured)
    except ValueError:
        raise ValueError(f"{RETENTION_ENV} is {configured!r}, not a whole number of days") from None
    if days < 1:
        raise ValueError(f"{RETENTION_ENV} is {days}: staged rows stay at least 1 day")
    if days > MAX_RETENTION.days:
        raise ValueError(
            f"{RETENTION_ENV} is {days}: at most {MAX_RETENTION.days} days (a century)"
        )
    return timedelta(days=days)


def expired_batches(
    conn: psycopg.Connection, source_key: str, *, older_than: timedelta, now: datetime
) -> list[tuple[int, str]]:
    """The source's batches whose staged rows may go, oldest first: (batch_no, dataset)."""
    rows = conn.execute(
        """SELECT b.batch_no, b.dataset FROM audit.batches b
           WHERE b.source = %(source)s
             AND b.status = 'published' AND b.mode <> 'release'
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
    return [(batch_no, name) for batch_no, name in rows]


_KEEP_PROVINCE_SCORES = """
INSERT INTO audit.province_scores (batch_no, province_code, dimension, rows_checked, rows_failed)
{staged}
ON CONFLICT DO NOTHING"""


def expire(
    conn: psycopg.Connection,
    source_key: str,
    *,
    older_than: timedelta | None = None,
    now: datetime | None = None,
) -> list[int]:
    """Delete the staged rows (and payloads) of the source's expired batches
    (`expired_batches`), keeping a national batch's province scores first; the batches whose
    staged rows went. Stops, leaving the rest for next time, when a staging table stays locked
    longer than `LOCK_TIMEOUT`."""
    from lienthong.datasets import dataset as dataset_named

    older_than = retention() if older_than is None else older_than
    now = now or datetime.now(UTC)
    expired: list[int] = []
    for batch_no, name in expired_batches(conn, source_key, older_than=older_than, now=now):
        dataset = dataset_named(name)
        try:
            with conn.transaction():
                conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(LOCK_TIMEOUT))
                )
                if dataset.province_column:
                    where = sql.SQL("s.batch_no = %(batch_no)s")
                    conn.execute(
                        sql.SQL(_KEEP_PROVINCE_SCORES).format(
                            staged=province_scores.staged(dataset, where)
                        ),
                        {"batch_no": batch_no, "dimensions": list(DIMENSIONS)},
                    )
                staging.clear(conn, dataset, batch_no)
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
            "%s: staged rows of %s batch(es) deleted by the staging retention (%s to %s)",
            source_key,
            len(expired),
            expired[0],
            expired[-1],
        )
    return expired
