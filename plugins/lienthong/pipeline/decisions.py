"""An operator's decision on a held batch: approve it (publish it as it stands) or reject it.

Both are for the operators' review UI (and for tests and the command line). The decision is
appended to the batch's ``hold_reason`` with who made it and why, and the dataset acts on the
outcome (``Dataset.after_outcome``: a file source moves the batch's file to its archive, or
to its rejected folder with a reason file).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import psycopg

from lienthong.pipeline import batches
from lienthong.pipeline import publish as publishing
from lienthong.pipeline.dataset import Dataset
from lienthong.pipeline.sync import after_outcome

log = logging.getLogger(__name__)


def _note(verb: str, decided_by: str, reason: str) -> str:
    return f"{verb} by {decided_by} at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: {reason}"


def approve(
    conn: psycopg.Connection, dataset: Dataset, batch_no: int, *, decided_by: str, reason: str
) -> dict[str, int]:
    """Publish a held batch as it stands (its failing rows still quarantined); return its
    counts.

    Raises:
        BatchError: the batch is not held (a published one is left as it is).
    """
    batch = batches.get(conn, batch_no=batch_no)
    if batch["status"] == "published":
        return publishing.counts(conn, batch_no)
    if batch["status"] != "held":
        raise batches.BatchError(f"{dataset.name} batch {batch_no} is {batch['status']}, not held")
    note = _note("approved", decided_by, reason)
    with conn.transaction():
        conn.execute(
            """UPDATE audit.batches SET hold_reason = concat_ws(E'\\n', hold_reason, %s::text)
               WHERE batch_no = %s""",
            (note, batch_no),
        )
        counts = publishing.publish(conn, dataset, batch_no, approved=True)
    after_outcome(conn, dataset, batch_no, note)
    log.info("%s batch %s %s", dataset.name, batch_no, note)
    return counts


def reject(
    conn: psycopg.Connection, dataset: Dataset, batch_no: int, *, decided_by: str, reason: str
) -> None:
    """Reject a held batch: nothing of it is published, ever.

    Raises:
        BatchError: the batch is neither held nor already rejected.
    """
    batch = batches.get(conn, batch_no=batch_no)
    note = _note("rejected", decided_by, reason)
    if batch["status"] == "held":
        with conn.transaction():
            conn.execute(
                """UPDATE audit.batches SET status = 'rejected', updated_at = now(),
                          hold_reason = concat_ws(E'\\n', hold_reason, %s::text)
                   WHERE batch_no = %s AND status = 'held'""",
                (note, batch_no),
            )
    elif batch["status"] != "rejected":
        raise batches.BatchError(f"{dataset.name} batch {batch_no} is {batch['status']}, not held")
    after_outcome(conn, dataset, batch_no, note)
    log.info("%s batch %s %s", dataset.name, batch_no, note)
