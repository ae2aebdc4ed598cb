"""Operators' decisions on data that failed validation, each recorded in ``audit.decisions``.

- ``release_rows``: quarantined rows go through the dataset's contract and suites again, as a
  batch of their own (mode ``release``), optionally with corrected values; the rows that now
  pass are published by the same publishing step, the rest go back to quarantine under the
  rules they now fail. Each correction is recorded in ``audit.fixes`` as a fix by the operator
  (rule ``OPERATOR``), with the value as received.
- ``reject_rows``: quarantined rows are kept, marked rejected, never published.
- ``approve_batch``: a held batch is published as it stands (its failing rows quarantined).
- ``reject_batch``: a held batch is marked rejected; nothing of it is published.

Approving or rejecting a held batch also lets its dataset act on the outcome
(``Dataset.after_outcome``: a file source moves the batch's file to its archive, or to its
rejected folder with a reason file naming the rules and the operator's reason).

Every decision names its user and reason and is taken once: deciding rows that are no longer
held, or a batch that is no longer held, raises ``AlreadyDecided`` and changes nothing. The
decisions table is append-only in the database itself (triggers refuse UPDATE, DELETE and
TRUNCATE).

Each function but ``release_rows`` is one transaction. A release is the decision and the
staging of its batch in one transaction, then validation (Great Expectations reads the staged
rows through its own connection, so they must be committed first) and publication, each its
own transaction as in the pipeline. If the process stops in between, the decision stands and
``complete_release`` finishes the release batch (``pending_releases`` lists them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from lienthong.landing import ledger
from lienthong.pipeline import batches, staging, validation
from lienthong.pipeline import publish as publishing
from lienthong.pipeline.dataset import DIMENSIONS, Fix
from lienthong.pipeline.sync import after_outcome
from lienthong.review import datasets

log = logging.getLogger(__name__)

#: The rule id of a value corrected by an operator, in ``audit.fixes``.
OPERATOR_RULE = "OPERATOR"

VIA = ("review", "required_action")


class DecisionError(RuntimeError):
    """A decision that cannot be taken as asked; nothing was changed."""


class AlreadyDecided(DecisionError):
    """The rows or the batch were decided before (or are not waiting for a decision)."""


class NothingToDecide(DecisionError):
    """The rows asked for are not in the batch's quarantine."""


@dataclass(frozen=True)
class Decision:
    """One recorded decision (a row of ``audit.decisions``)."""

    decision_id: int
    decided_at: datetime
    decided_by: str
    action: str
    dataset: str
    batch_no: int
    rule_id: str | None
    row_nos: list[int]
    corrections: dict[str, dict[str, str | None]]
    reason: str
    via: str
    release_batch_no: int | None


@dataclass(frozen=True)
class ReleaseOutcome:
    """What became of released rows once their release batch was validated and published."""

    decision: Decision
    release_batch_no: int
    status: str  # of the release batch: "published" once complete
    published: list[int]  # row_nos (of the quarantined batch) now published
    quarantined: dict[int, list[str]]  # row_no → the rules it now fails
    collapsed: list[int]  # row_nos released twice over (identical copies), kept once


#: The largest row number (``row_no`` is an integer column): a larger one is in no quarantine.
ROW_NO_MAX = 2**31 - 1


def check_text(value: str, what: str) -> str:
    """``value`` if the warehouse can keep it as text, else ``DecisionError`` naming ``what``.

    PostgreSQL text holds no NUL character and UTF-8 no lone surrogate (which JSON's
    ``\\u0000`` and ``\\ud800`` escapes let through): refused here, before anything is
    written, rather than failing the decision's transaction halfway with a database error.
    """
    if "\x00" in value:
        raise DecisionError(f"{what} contains a NUL character (U+0000), which cannot be kept")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise DecisionError(
            f"{what} contains a lone surrogate (invalid Unicode), which cannot be kept"
        ) from None
    return value


def _check_decider(user: str, reason: str, via: str) -> None:
    if not user or not user.strip():
        raise DecisionError("a decision needs the user who takes it")
    if not reason or not reason.strip():
        raise DecisionError("a decision needs a reason")
    check_text(user, "the user")
    check_text(reason, "the reason")
    if via not in VIA:
        raise DecisionError(f"via must be one of {VIA}, not {via!r}")


def _as_text(value: Any) -> str | None:
    """A payload value as ``audit.fixes`` keeps it (text)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _lookup(payload: Mapping[str, Any], field: str) -> Any:
    parent, _, child = field.partition(".")
    value = payload.get(parent)
    if child:
        return value.get(child) if isinstance(value, Mapping) else None
    return value


def apply_corrections(
    payload: Mapping[str, Any], corrections: Mapping[str, str | None]
) -> dict[str, Any]:
    """The payload with corrected fields (``name`` or ``object.name``) set; the input is unchanged.

    Raises:
        DecisionError: a field path is malformed or goes through a value that is not an object.
    """
    corrected = json.loads(json.dumps(payload))
    for field, value in corrections.items():
        parts = field.split(".")
        if len(parts) > 2 or not all(parts):
            raise DecisionError(f"cannot correct field {field!r}: use 'name' or 'object.name'")
        if value is not None and not isinstance(value, str):
            raise DecisionError(f"the corrected value of {field!r} must be text or null")
        check_text(field, f"the corrected field {field!r}")
        if value is not None:
            check_text(value, f"the corrected value of {field!r}")
        if len(parts) == 1:
            corrected[field] = value
            continue
        parent = corrected.get(parts[0])
        if parent is None:
            parent = corrected[parts[0]] = {}
        if not isinstance(parent, dict):
            raise DecisionError(f"cannot correct {field!r}: {parts[0]!r} is not an object")
        parent[parts[1]] = value
    return corrected


def _decision(row: Mapping[str, Any]) -> Decision:
    return Decision(**{f.name: row[f.name] for f in dataclasses.fields(Decision)})


def decisions_of(conn: psycopg.Connection, batch_no: int) -> list[Decision]:
    """Every decision about a batch or its rows, oldest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT * FROM audit.decisions WHERE batch_no = %s ORDER BY decision_id", (batch_no,)
        ).fetchall()
    return [_decision(r) for r in rows]


def batch_decision(conn: psycopg.Connection, batch_no: int) -> Decision | None:
    """The decision that approved or rejected a held batch, if one did."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """SELECT * FROM audit.decisions
               WHERE batch_no = %s AND action IN ('approve_batch', 'reject_batch')""",
            (batch_no,),
        ).fetchone()
    return _decision(row) if row else None


def _record(
    conn: psycopg.Connection,
    *,
    action: str,
    dataset: str,
    batch_no: int,
    user: str,
    reason: str,
    via: str,
    rule_id: str | None = None,
    row_nos: Sequence[int] = (),
    corrections: Mapping[int, Mapping[str, str | None]] | None = None,
    release_batch_no: int | None = None,
    decision_id: int | None = None,
) -> Decision:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            """INSERT INTO audit.decisions (decision_id, decided_by, action, dataset, batch_no,
                   rule_id, row_nos, corrections, reason, via, release_batch_no)
               OVERRIDING SYSTEM VALUE
               VALUES (coalesce(%(id)s, nextval(pg_get_serial_sequence('audit.decisions',
                       'decision_id'))), %(user)s, %(action)s, %(dataset)s, %(batch_no)s,
                       %(rule_id)s, %(row_nos)s, %(corrections)s, %(reason)s, %(via)s,
                       %(release)s)
               RETURNING *""",
            {
                "id": decision_id,
                "user": user.strip(),
                "action": action,
                "dataset": dataset,
                "batch_no": batch_no,
                "rule_id": rule_id,
                "row_nos": list(row_nos),
                "corrections": Jsonb({str(k): dict(v) for k, v in (corrections or {}).items()}),
                "reason": reason.strip(),
                "via": via,
                "release": release_batch_no,
            },
        ).fetchone()
    decision = _decision(row)
    log.info(
        "%s batch %s: %s by %s (decision %s, rows %s)",
        dataset,
        batch_no,
        action,
        decision.decided_by,
        decision.decision_id,
        decision.row_nos or "all",
    )
    return decision


def _held_rows(
    conn: psycopg.Connection,
    batch_no: int,
    row_nos: Iterable[int] | None,
    rule_id: str | None,
) -> tuple[str, list[dict[str, Any]]]:
    """Lock and return the quarantined rows asked for (dataset, rows); every one must be held."""
    if row_nos is None and rule_id is None:
        raise DecisionError("choose the rows: give row numbers, a rule, or both")
    wanted = None if row_nos is None else sorted({int(r) for r in row_nos})
    if wanted == []:
        raise NothingToDecide("no rows chosen")
    if rule_id is not None:
        check_text(rule_id, "the rule")
    beyond = [r for r in wanted or () if not -ROW_NO_MAX - 1 <= r <= ROW_NO_MAX]
    if beyond:
        # The query would fail on them (integer out of range): no quarantine has such rows.
        raise NothingToDecide(
            f"batch {batch_no} has no quarantined rows {beyond}; nothing was changed"
        )
    dataset = conn.execute(
        "SELECT dataset FROM audit.batches WHERE batch_no = %s", (batch_no,)
    ).fetchone()
    if dataset is None:
        raise NothingToDecide(f"no batch {batch_no}")
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT row_no, payload, status, rule_ids, decided_by, decided_at
               FROM quarantine.records
               WHERE batch_no = %(b)s
                 AND (%(rows)s::int[] IS NULL OR row_no = ANY(%(rows)s::int[]))
                 AND (%(rule)s::text IS NULL OR %(rule)s::text = ANY(rule_ids))
               ORDER BY row_no FOR UPDATE""",
            {"b": batch_no, "rows": wanted, "rule": rule_id},
        ).fetchall()
    if wanted is not None:
        missing = sorted(set(wanted) - {r["row_no"] for r in rows})
        if missing:
            scope = f" under rule {rule_id}" if rule_id else ""
            raise NothingToDecide(
                f"batch {batch_no} has no quarantined rows {missing}{scope}; nothing was changed"
            )
    if rule_id is not None and wanted is None:
        # "All of a rule" means the rows of that rule still waiting for a decision.
        rows = [r for r in rows if r["status"] == "held"]
    if not rows:
        scope = f" under rule {rule_id}" if rule_id else ""
        raise NothingToDecide(f"batch {batch_no} has no held quarantined rows{scope}")
    decided = [r for r in rows if r["status"] != "held"]
    if decided:
        shown = ", ".join(
            f"row {r['row_no']} {r['status']} by {r['decided_by']} at {r['decided_at']:%Y-%m-%d %H:%M}"
            for r in decided[:5]
        )
        raise AlreadyDecided(f"batch {batch_no}: already decided: {shown}; nothing was changed")
    return dataset[0], rows


def _mark(
    conn: psycopg.Connection, batch_no: int, row_nos: list[int], status: str, decision: Decision
) -> None:
    conn.execute(
        """UPDATE quarantine.records
           SET status = %s, decided_by = %s, decided_at = %s, decision_reason = %s
           WHERE batch_no = %s AND row_no = ANY(%s)""",
        (status, decision.decided_by, decision.decided_at, decision.reason, batch_no, row_nos),
    )


def reject_rows(
    conn: psycopg.Connection,
    batch_no: int,
    *,
    row_nos: Iterable[int] | None = None,
    rule_id: str | None = None,
    user: str,
    reason: str,
    via: str = "review",
) -> Decision:
    """Reject quarantined rows (chosen by number, by rule, or both): kept, never published.

    Raises:
        DecisionError: no user or reason, or no rows chosen.
        NothingToDecide: a chosen row is not in the batch's quarantine.
        AlreadyDecided: a chosen row was released or rejected before.
    """
    _check_decider(user, reason, via)
    with conn.transaction():
        dataset, rows = _held_rows(conn, batch_no, row_nos, rule_id)
        numbers = [r["row_no"] for r in rows]
        decision = _record(
            conn,
            action="reject_rows",
            dataset=dataset,
            batch_no=batch_no,
            user=user,
            reason=reason,
            via=via,
            rule_id=rule_id,
            row_nos=numbers,
        )
        _mark(conn, batch_no, numbers, "rejected", decision)
    return decision


def release_rows(
    conn: psycopg.Connection,
    batch_no: int,
    *,
    row_nos: Iterable[int] | None = None,
    rule_id: str | None = None,
    corrections: Mapping[int, Mapping[str, str | None]] | None = None,
    user: str,
    reason: str,
    via: str = "review",
    warehouse_url: str | None = None,
    now: datetime | None = None,
) -> ReleaseOutcome:
    """Release quarantined rows: validate them again, publish those that pass.

    Args:
        conn: an autocommit connection (``warehouse.connection.connect``), as validation needs.
        batch_no: the batch whose quarantined rows are released.
        row_nos: the rows to release; with ``rule_id``, only those of that rule.
        rule_id: release every held row of this rule (or narrow ``row_nos`` to it).
        corrections: per row number, ``{field: value}`` to set in the payload before it is
            prepared again (``field`` is a payload field, ``object.field`` inside an object).
        user: who decides. reason: why.
        via: ``review`` (the view) or ``required_action`` (Airflow's Required Action).
        warehouse_url: the libpq URL Great Expectations validates through (default: the
            configured warehouse).
        now: the release's clock, by which the liveness rules judge the rows (default: now).

    Raises:
        DecisionError, NothingToDecide, AlreadyDecided: as ``reject_rows``; a correction for a
            row not released, or a malformed field. Nothing is changed.
    """
    _check_decider(user, reason, via)
    if not conn.autocommit:
        raise DecisionError(
            "release_rows needs an autocommit connection (validation reads "
            "the staged rows through its own connection)"
        )
    corrections = {int(k): dict(v) for k, v in (corrections or {}).items() if v}
    now = now or datetime.now(UTC)
    with conn.transaction():
        dataset_name, rows = _held_rows(conn, batch_no, row_nos, rule_id)
        reviewed = datasets.get(dataset_name)
        numbers = [r["row_no"] for r in rows]
        stray = sorted(set(corrections) - set(numbers))
        if stray:
            raise DecisionError(f"corrections for rows {stray}, which are not being released")
        decision_id = conn.execute(
            "SELECT nextval(pg_get_serial_sequence('audit.decisions', 'decision_id'))"
        ).fetchone()[0]
        release_no = _open_release_batch(conn, batch_no, f"release:{decision_id}", now)
        preparer = reviewed.preparer()
        prepared = []
        unreadable = [r["row_no"] for r in rows if not isinstance(r["payload"], dict)]
        if unreadable:
            raise DecisionError(
                f"batch {batch_no}: rows {unreadable} were not received as JSON objects and "
                "cannot be prepared again; reject them, or have the source send them again"
            )
        staged_rows = _staged(conn, reviewed, batch_no, numbers)
        for release_row_no, row in enumerate(rows):
            fixes_by_operator = corrections.get(row["row_no"], {})
            payload = apply_corrections(row["payload"], fixes_by_operator)
            item = reviewed.release_item(payload, staged_rows[row["row_no"]])
            staged, fixes = preparer.prepare(release_row_no, item)
            final = {f.field: f.fixed for f in fixes}
            # One fix per field: a corrected field records the value as received and the value
            # kept, by the operator, even where the contract then normalised the correction.
            kept = [f for f in fixes if f.field not in fixes_by_operator]
            operator = [
                Fix(
                    OPERATOR_RULE,
                    field,
                    _as_text(_lookup(row["payload"], field)),
                    final.get(field, value),
                )
                for field, value in fixes_by_operator.items()
            ]
            prepared.append((staged, [*kept, *operator]))
        staging.copy_chunk(conn, reviewed.dataset, release_no, prepared)
        staging.collapse_duplicates(conn, reviewed.dataset, release_no)
        batches.update(
            conn, release_no, status="staged", received=len(rows), announced_total=len(rows)
        )
        decision = _record(
            conn,
            action="release_rows",
            dataset=dataset_name,
            batch_no=batch_no,
            user=user,
            reason=reason,
            via=via,
            rule_id=rule_id,
            row_nos=numbers,
            corrections=corrections,
            release_batch_no=release_no,
            decision_id=decision_id,
        )
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO audit.released_rows (decision_id, batch_no, row_no,
                       release_batch_no, release_row_no) VALUES (%s, %s, %s, %s, %s)""",
                [(decision_id, batch_no, n, release_no, i) for i, n in enumerate(numbers)],
            )
        _mark(conn, batch_no, numbers, "released", decision)
    return complete_release(conn, release_no, warehouse_url=warehouse_url)


def _staged(
    conn: psycopg.Connection, reviewed, batch_no: int, row_nos: list[int]
) -> dict[int, dict[str, Any]]:
    """The released rows as they were staged (a preparer may need more than the payload, such
    as the day of the file a row came in)."""
    table = staging.qualified(reviewed.dataset.staging_table)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql.SQL("SELECT * FROM {} WHERE batch_no = %s AND row_no = ANY(%s)").format(table),
            (batch_no, row_nos),
        ).fetchall()
    return {row["row_no"]: row for row in rows}


def _open_release_batch(
    conn: psycopg.Connection, batch_no: int, batch_key: str, extracted_at: datetime
) -> int:
    """A new batch for a release of ``batch_no``'s rows: the same dataset, source and province
    (a release takes no part in its source's one-run-at-a-time: it reads no source)."""
    return conn.execute(
        """INSERT INTO audit.batches (batch_key, mode, extracted_at, status, dataset, source,
               province)
           SELECT %s, 'release', %s, 'extracting', dataset, source, province
           FROM audit.batches WHERE batch_no = %s
           RETURNING batch_no""",
        (batch_key, extracted_at, batch_no),
    ).fetchone()[0]


def complete_release(
    conn: psycopg.Connection, release_batch_no: int, *, warehouse_url: str | None = None
) -> ReleaseOutcome:
    """Validate and publish a release batch (again): a published one is left as it is.

    Batch-level rules do not apply to a release (its suites' ``meta.modes`` leave them out),
    nor do pass-rate thresholds: a release is a handful of rows an operator chose, and each row
    is published or quarantined on its own rules.
    """
    from lienthong.warehouse.connection import sqlalchemy_url
    from lienthong.warehouse.connection import warehouse_url as configured_url

    batch = batches.get(conn, batch_no=release_batch_no)
    if batch["mode"] != "release":
        raise DecisionError(f"batch {release_batch_no} is not a release")
    reviewed = datasets.get(batch["dataset"])
    if batch["status"] != "published":
        dataset = dataclasses.replace(reviewed.dataset, thresholds=dict.fromkeys(DIMENSIONS, 0.0))
        validation.validate(
            conn, sqlalchemy_url(warehouse_url or configured_url()), dataset, release_batch_no
        )
        _publish_keeping_watermark(conn, dataset, release_batch_no)
    return release_outcome(conn, release_batch_no)


def _publish_keeping_watermark(conn: psycopg.Connection, dataset, batch_no: int) -> None:
    """Publish a release batch; the dataset's watermark stays where it was.

    Released rows were not read from the source's window: a released row stamped later than
    the watermark (a future-stamped row released once its time came, or a corrected
    ``updated_at``) must not move it past rows the source has not been asked for yet.
    """
    with conn.transaction():
        before = conn.execute(
            """SELECT scope, watermark, batch_no, updated_at FROM audit.watermarks
               WHERE dataset = %s FOR UPDATE""",
            (dataset.name,),
        ).fetchall()
        publishing.publish(conn, dataset, batch_no)
        conn.execute(
            "DELETE FROM audit.watermarks WHERE dataset = %s AND NOT (scope = ANY(%s))",
            (dataset.name, [scope for scope, *_ in before]),
        )
        for scope, mark, mark_batch, updated_at in before:
            conn.execute(
                """UPDATE audit.watermarks SET watermark = %s, batch_no = %s, updated_at = %s
                   WHERE dataset = %s AND scope = %s""",
                (mark, mark_batch, updated_at, dataset.name, scope),
            )


def release_outcome(conn: psycopg.Connection, release_batch_no: int) -> ReleaseOutcome:
    """What a release decided and what became of each released row."""
    with conn.cursor(row_factory=dict_row) as cur:
        decision = cur.execute(
            "SELECT * FROM audit.decisions WHERE release_batch_no = %s", (release_batch_no,)
        ).fetchone()
    if decision is None:
        raise NothingToDecide(f"batch {release_batch_no} is not a release")
    status = batches.get(conn, batch_no=release_batch_no)["status"]
    reviewed = datasets.get(decision["dataset"])
    rows = conn.execute(
        sql.SQL(
            """SELECT r.row_no, q.rule_ids, s.collapsed
               FROM audit.released_rows r
               JOIN {staging} s ON s.batch_no = r.release_batch_no AND s.row_no = r.release_row_no
               LEFT JOIN quarantine.records q
                 ON q.batch_no = r.release_batch_no AND q.row_no = r.release_row_no
               WHERE r.release_batch_no = %s ORDER BY r.row_no"""
        ).format(staging=staging.qualified(reviewed.dataset.staging_table)),
        (release_batch_no,),
    ).fetchall()
    published, quarantined, collapsed = [], {}, []
    if status == "published":
        for row_no, rule_ids, was_collapsed in rows:
            if was_collapsed:
                collapsed.append(row_no)
            elif rule_ids:
                quarantined[row_no] = list(rule_ids)
            else:
                published.append(row_no)
    return ReleaseOutcome(
        _decision(decision), release_batch_no, status, published, quarantined, collapsed
    )


def pending_releases(conn: psycopg.Connection) -> list[int]:
    """Release batches decided but not yet published (their process stopped midway)."""
    return [
        r[0]
        for r in conn.execute(
            """SELECT batch_no FROM audit.batches WHERE mode = 'release' AND status <> 'published'
               ORDER BY batch_no"""
        )
    ]


def _lock_held_batch(conn: psycopg.Connection, batch_no: int) -> str:
    row = conn.execute(
        "SELECT dataset, status FROM audit.batches WHERE batch_no = %s FOR UPDATE", (batch_no,)
    ).fetchone()
    if row is None:
        raise NothingToDecide(f"no batch {batch_no}")
    dataset, status = row
    if status != "held":
        earlier = batch_decision(conn, batch_no)
        if earlier is not None:
            raise AlreadyDecided(
                f"{dataset} batch {batch_no} was already decided: {earlier.action} by "
                f"{earlier.decided_by} at {earlier.decided_at:%Y-%m-%d %H:%M:%S %Z}; "
                "nothing was changed"
            )
        raise AlreadyDecided(
            f"{dataset} batch {batch_no} is {status}, not held; nothing was changed"
        )
    return dataset


def refuse_if_corrected(conn: psycopg.Connection, dataset: str, batch_no: int) -> None:
    """Refuse (`DecisionError`) to approve a held file delivery that a published correction has
    replaced: publishing it then would bring back the rows the correction withdrew."""
    correction = ledger.published_correction(conn, batch_no)
    if correction is not None:
        raise DecisionError(
            f"{dataset} batch {batch_no}: its file was corrected by delivery "
            f"{correction['file_no']} ({correction['name']}, batch {correction['batch_no']}, "
            "published): approving it would bring back rows the correction withdrew; reject "
            "it instead; nothing was changed"
        )


def approve_batch(
    conn: psycopg.Connection, batch_no: int, *, user: str, reason: str, via: str = "review"
) -> Decision:
    """Approve a held batch: publish it as it stands, its failing rows still quarantined;
    then the dataset acts on the outcome (a file source archives the batch's file).

    Raises:
        DecisionError: no user or reason.
        AlreadyDecided: the batch is not held (decided before, or never held).
    """
    _check_decider(user, reason, via)
    with conn.transaction():
        dataset = _lock_held_batch(conn, batch_no)
        refuse_if_corrected(conn, dataset, batch_no)
        decision = _record(
            conn,
            action="approve_batch",
            dataset=dataset,
            batch_no=batch_no,
            user=user,
            reason=reason,
            via=via,
        )
        _note_on_batch(conn, batch_no, decision)
        publishing.publish(conn, datasets.get(dataset).dataset, batch_no, approved=True)
    after_outcome(conn, datasets.get(dataset).dataset, batch_no, _note(decision))
    return decision


def _note(decision: Decision) -> str:
    verb = "approved" if decision.action == "approve_batch" else "rejected"
    return (
        f"{verb} by {decision.decided_by} at {decision.decided_at:%Y-%m-%d %H:%M:%S %Z}: "
        f"{decision.reason}"
    )


def _note_on_batch(conn: psycopg.Connection, batch_no: int, decision: Decision) -> None:
    """The decision, after the reasons the batch was held, in the batch's own record."""
    conn.execute(
        """UPDATE audit.batches SET hold_reason = concat_ws(E'\\n', hold_reason, %s::text)
           WHERE batch_no = %s""",
        (_note(decision), batch_no),
    )


def reject_batch(
    conn: psycopg.Connection, batch_no: int, *, user: str, reason: str, via: str = "review"
) -> Decision:
    """Reject a held batch: it is marked rejected and nothing of it is ever published.

    Raises:
        DecisionError: no user or reason.
        AlreadyDecided: the batch is not held (decided before, or never held).
    """
    _check_decider(user, reason, via)
    with conn.transaction():
        dataset = _lock_held_batch(conn, batch_no)
        decision = _record(
            conn,
            action="reject_batch",
            dataset=dataset,
            batch_no=batch_no,
            user=user,
            reason=reason,
            via=via,
        )
        _note_on_batch(conn, batch_no, decision)
        batches.update(conn, batch_no, status="rejected")
    after_outcome(conn, datasets.get(dataset).dataset, batch_no, _note(decision))
    return decision
