"""The landing-file ledger (``audit.landing_files``): every file a source has seen, one row per
delivery, and what became of it.

A delivery is *waiting* (a dossier CSV without its manifest: never loaded), *ignored* (a name
that is not the source's: left where it is), *gone* (it left the landing area while it
waited), *taken* by a run (its batch is being extracted or validated), then *held*,
*published* or *rejected* with its batch, or a *duplicate* of an earlier delivery of the same
bytes (archived, nothing loaded). Rows are never deleted; the caller owns the transaction
unless a function says otherwise.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from lienthong.pipeline.contract import storable_json

#: Outcomes of a delivery that was read into a batch (or is being).
READ = ("taken", "held", "published", "rejected")

#: Outcomes of a delivery whose bytes loaded or still may (an operator may approve a held
#: one): the deliveries that make later identical bytes a duplicate. A rejected delivery loaded
#: nothing and never will, so the same bytes sent again are read anew: a province resending a
#: rejected CSV with its manifest corrected (rule D-S1) must not be lost as a duplicate.
LOADS = ("taken", "held", "published")


def _one(conn: psycopg.Connection, query: str, params: Any) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def _all(conn: psycopg.Connection, query: str, params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def get(conn: psycopg.Connection, file_no: int) -> dict[str, Any]:
    """One delivery's row."""
    row = _one(conn, "SELECT * FROM audit.landing_files WHERE file_no = %s", (file_no,))
    if row is None:
        raise LookupError(f"no landing file {file_no}")
    return row


def taken_by(conn: psycopg.Connection, batch_key: str) -> dict[str, Any] | None:
    """The delivery a run took (a retried run finds the same file)."""
    return _one(conn, "SELECT * FROM audit.landing_files WHERE batch_key = %s", (batch_key,))


def of_batch(conn: psycopg.Connection, batch_no: int) -> dict[str, Any] | None:
    """The delivery a batch was read from."""
    return _one(conn, "SELECT * FROM audit.landing_files WHERE batch_no = %s", (batch_no,))


def published_correction(conn: psycopg.Connection, batch_no: int) -> dict[str, Any] | None:
    """The published delivery that corrects the one a batch was read from, if any (the
    latest): once it has replaced that delivery's rows, the batch can no longer publish."""
    return _one(
        conn,
        """SELECT c.* FROM audit.landing_files f
           JOIN audit.landing_files c ON c.corrects = f.file_no
           WHERE f.batch_no = %s AND c.outcome = 'published'
           ORDER BY c.file_no DESC LIMIT 1""",
        (batch_no,),
    )


def of_source(conn: psycopg.Connection, source: str) -> list[dict[str, Any]]:
    """Every delivery of a source, in the order they were seen."""
    return _all(
        conn, "SELECT * FROM audit.landing_files WHERE source = %s ORDER BY file_no", (source,)
    )


def record_pending(
    conn: psycopg.Connection,
    *,
    outcome: str,
    source: str,
    dataset: str,
    province: str | None,
    name: str,
    period: date | None,
    landing: str,
    location: str,
    size: int,
    modified_at: datetime | None,
    now: datetime,
    reason: str,
) -> dict[str, Any]:
    """A file that is seen but not taken (``waiting`` or ``ignored``): one row per name, however
    many runs see it; return it (``first_seen`` says since when)."""
    row = _one(
        conn,
        """INSERT INTO audit.landing_files AS l (source, dataset, province, name, period, landing,
               location, size, modified_at, first_seen, last_seen, outcome, reason)
           VALUES (%(source)s, %(dataset)s, %(province)s, %(name)s, %(period)s, %(landing)s,
                   %(location)s, %(size)s, %(modified_at)s, %(now)s, %(now)s, %(outcome)s,
                   %(reason)s)
           ON CONFLICT (source, name) WHERE outcome IN ('waiting', 'ignored')
           DO UPDATE SET last_seen = EXCLUDED.last_seen, size = EXCLUDED.size,
                         modified_at = EXCLUDED.modified_at, location = EXCLUDED.location,
                         outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, updated_at = now()
           RETURNING *""",
        {
            "source": source,
            "dataset": dataset,
            "province": province,
            "name": name,
            "period": period,
            "landing": landing,
            "location": location,
            "size": size,
            "modified_at": modified_at,
            "now": now,
            "outcome": outcome,
            "reason": reason,
        },
    )
    assert row is not None
    return row


def mark_gone(conn: psycopg.Connection, source: str, present: set[str], now: datetime) -> None:
    """Waiting files no longer in the landing area left it before they were taken."""
    conn.execute(
        """UPDATE audit.landing_files
           SET outcome = 'gone', updated_at = now(),
               reason = 'left the landing area before it was taken (last seen '
                        || to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC)'
           WHERE source = %s AND outcome = 'waiting' AND NOT (name = ANY(%s))""",
        (source, sorted(present)),
    )


def pending(conn: psycopg.Connection, source: str, name: str) -> dict[str, Any] | None:
    """The waiting row of a name, if it waited."""
    return _one(
        conn,
        "SELECT * FROM audit.landing_files WHERE source = %s AND name = %s AND outcome = 'waiting'",
        (source, name),
    )


def same_content(conn: psycopg.Connection, source: str, sha256: str) -> list[dict[str, Any]]:
    """Deliveries of the source read from the same bytes that loaded or still may (not a
    rejected one), earliest first."""
    return _all(
        conn,
        """SELECT * FROM audit.landing_files
           WHERE source = %s AND sha256 = %s AND outcome = ANY(%s) ORDER BY file_no""",
        (source, sha256, list(LOADS)),
    )


def unmoved_duplicate(
    conn: psycopg.Connection, source: str, location: str
) -> dict[str, Any] | None:
    """A duplicate recorded at this landing location but not moved yet (a run stopped)."""
    return _one(
        conn,
        """SELECT * FROM audit.landing_files
           WHERE source = %s AND outcome = 'duplicate' AND location = %s""",
        (source, location),
    )


def earlier_of_name(conn: psycopg.Connection, source: str, name: str) -> dict[str, Any] | None:
    """The latest delivery of a name that was read into a batch (the one a redelivery with
    other content corrects)."""
    return _one(
        conn,
        """SELECT * FROM audit.landing_files
           WHERE source = %s AND name = %s AND outcome = ANY(%s)
           ORDER BY file_no DESC LIMIT 1""",
        (source, name, list(READ)),
    )


def take(
    conn: psycopg.Connection,
    *,
    file_no: int | None,
    source: str,
    dataset: str,
    province: str | None,
    name: str,
    period: date | None,
    landing: str,
    location: str | None,
    manifest_name: str | None,
    manifest_location: str | None,
    size: int | None,
    sha256: str | None,
    modified_at: datetime | None,
    now: datetime,
    batch_key: str,
    corrects: int | None,
) -> dict[str, Any]:
    """Record that a run takes a delivery: a new row, or (``file_no``) the row of a file that
    waited or whose earlier batch failed. Return the row."""
    values = {
        "file_no": file_no,
        "source": source,
        "dataset": dataset,
        "province": province,
        "name": name,
        "period": period,
        "landing": landing,
        "location": location,
        "manifest_name": manifest_name,
        "manifest_location": manifest_location,
        "size": size,
        "sha256": sha256,
        "modified_at": modified_at,
        "now": now,
        "batch_key": batch_key,
        "corrects": corrects,
    }
    with conn.transaction():
        if file_no is None:
            row = _one(
                conn,
                """INSERT INTO audit.landing_files (source, dataset, province, name, period,
                       landing, location, manifest_name, manifest_location, size, sha256,
                       modified_at, first_seen, last_seen, outcome, batch_key, corrects, reason)
                   VALUES (%(source)s, %(dataset)s, %(province)s, %(name)s, %(period)s,
                           %(landing)s, %(location)s, %(manifest_name)s, %(manifest_location)s,
                           %(size)s, %(sha256)s, %(modified_at)s, %(now)s, %(now)s, 'taken',
                           %(batch_key)s, %(corrects)s, 'taken by ' || %(batch_key)s)
                   RETURNING *""",
                values,
            )
        else:
            row = _one(
                conn,
                """UPDATE audit.landing_files SET outcome = 'taken', batch_key = %(batch_key)s,
                       batch_no = NULL, period = %(period)s, location = %(location)s,
                       manifest_name = %(manifest_name)s,
                       manifest_location = %(manifest_location)s, size = %(size)s,
                       sha256 = %(sha256)s, modified_at = %(modified_at)s, last_seen = %(now)s,
                       corrects = %(corrects)s, reason = 'taken by ' || %(batch_key)s,
                       updated_at = now()
                   WHERE file_no = %(file_no)s RETURNING *""",
                values,
            )
    assert row is not None
    return row


def record_duplicate(
    conn: psycopg.Connection,
    *,
    source: str,
    dataset: str,
    province: str | None,
    name: str,
    period: date | None,
    landing: str,
    location: str,
    manifest_name: str | None,
    manifest_location: str | None,
    size: int,
    sha256: str,
    modified_at: datetime | None,
    now: datetime,
    duplicate_of: dict[str, Any],
    waited: dict[str, Any] | None,
) -> dict[str, Any]:
    """Record a delivery of bytes an earlier delivery already had: it loads nothing."""
    reason = (
        f"the same bytes as delivery {duplicate_of['file_no']} ({duplicate_of['name']}, "
        f"first seen {duplicate_of['first_seen']:%Y-%m-%d %H:%M} UTC, "
        f"{duplicate_of['outcome']}): loads nothing (exactly once per file content)"
    )
    values = {
        "source": source,
        "dataset": dataset,
        "province": province,
        "name": name,
        "period": period,
        "landing": landing,
        "location": location,
        "manifest_name": manifest_name,
        "manifest_location": manifest_location,
        "size": size,
        "sha256": sha256,
        "modified_at": modified_at,
        "now": now,
        "duplicate_of": duplicate_of["file_no"],
        "reason": reason,
        "file_no": waited["file_no"] if waited else None,
    }
    with conn.transaction():
        if waited is None:
            row = _one(
                conn,
                """INSERT INTO audit.landing_files (source, dataset, province, name, period,
                       landing, location, manifest_name, manifest_location, size, sha256,
                       modified_at, first_seen, last_seen, outcome, duplicate_of, reason)
                   VALUES (%(source)s, %(dataset)s, %(province)s, %(name)s, %(period)s,
                           %(landing)s, %(location)s, %(manifest_name)s, %(manifest_location)s,
                           %(size)s, %(sha256)s, %(modified_at)s, %(now)s, %(now)s,
                           'duplicate', %(duplicate_of)s, %(reason)s)
                   RETURNING *""",
                values,
            )
        else:
            row = _one(
                conn,
                """UPDATE audit.landing_files SET outcome = 'duplicate',
                       duplicate_of = %(duplicate_of)s, location = %(location)s,
                       manifest_name = %(manifest_name)s,
                       manifest_location = %(manifest_location)s, size = %(size)s,
                       sha256 = %(sha256)s, modified_at = %(modified_at)s, last_seen = %(now)s,
                       reason = %(reason)s, updated_at = now()
                   WHERE file_no = %(file_no)s RETURNING *""",
                values,
            )
    assert row is not None
    return row


def attach_batch(
    conn: psycopg.Connection, file_no: int, batch_key: str, facts: dict[str, Any]
) -> int:
    """Bind a taken delivery to the batch its run opened, with what reading it established
    (in the staging transaction, so the facts are there exactly when the rows are); return
    the batch number."""
    row = conn.execute(
        """UPDATE audit.landing_files l
           SET batch_key = b.batch_key, batch_no = b.batch_no, facts = %s, updated_at = now()
           FROM audit.batches b
           WHERE l.file_no = %s AND b.batch_key = %s
           RETURNING b.batch_no""",
        (Jsonb(json_ready(facts), dumps=_dumps), file_no, batch_key),
    ).fetchone()
    if row is None:
        raise LookupError(f"landing file {file_no}: no batch {batch_key!r} to attach it to")
    return row[0]


def json_ready(value: Any) -> Any:
    """Facts (dataclass dicts, dates, tuples) as plain JSON data."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


def _dumps(value: Any) -> str:
    text = storable_json(value)
    if text is None:
        raise ValueError("file facts cannot be stored as JSON")
    return text


def settle(
    conn: psycopg.Connection,
    file_no: int,
    *,
    outcome: str,
    location: str | None,
    manifest_location: str | None,
    reason: str | None,
) -> None:
    """Record where a delivery went with its batch's outcome (its own transaction)."""
    with conn.transaction():
        conn.execute(
            """UPDATE audit.landing_files SET outcome = %s, location = %s,
                   manifest_location = %s, reason = %s, updated_at = now()
               WHERE file_no = %s""",
            (outcome, location, manifest_location, reason, file_no),
        )


def move_recorded(
    conn: psycopg.Connection, file_no: int, *, location: str | None, manifest_location: str | None
) -> None:
    """Record a delivery's files where they are now (its own transaction)."""
    with conn.transaction():
        conn.execute(
            """UPDATE audit.landing_files SET location = %s, manifest_location = %s,
                   updated_at = now() WHERE file_no = %s""",
            (location, manifest_location, file_no),
        )
