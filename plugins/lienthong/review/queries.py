"""What the review view reads: batches, their rules, quarantined rows, fixes, decisions, trends.

Every function reads the audit, quarantine and staging schemas that the pipeline writes and
knows no dataset: what differs between datasets comes from ``review.datasets``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from lienthong.pipeline import province_scores
from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.pipeline.staging import PAYLOADS_TABLE, qualified
from lienthong.pipeline.validation import SUITES, rule_queries
from lienthong.review import datasets
from lienthong.review.datasets import ReviewedDataset

#: Status filters of the batch list: a batch's own status, or "quarantined" for batches with
#: quarantined rows still waiting for a decision.
STATUS_FILTERS = ("published", "held", "rejected", "quarantined")

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Columns every staging table has, or that say nothing to a person.
_NOT_SHOWN = {"batch_no", "row_no", "payload", "content_hash", "collapsed", "extracted_at"}


@dataclass(frozen=True)
class Page:
    """One page of a longer list."""

    items: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    #: rows failing rules of a batch not published (yet): not in quarantine
    pending: bool = False

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _staging(reviewed: ReviewedDataset) -> sql.Composable:
    return qualified(reviewed.dataset.staging_table)


@cache
def rule_fields(name: str) -> dict[str, list[str]]:
    """For each rule of a dataset, the staging columns it reads (what a person checks first).

    A column expectation reads its ``column``; an SQL rule, the staging columns its query names.
    An expectation may say so itself with ``meta.fields``.
    """
    reviewed = datasets.get(name)
    columns = set(reviewed.dataset.staging_columns) - _NOT_SHOWN
    fields: dict[str, list[str]] = {}
    for suite in SUITES:
        path = reviewed.dataset.suites_dir / f"{suite}.json"
        spec = json.loads(path.read_text("utf-8"))
        queries = rule_queries(path)
        for number, item in enumerate(spec["expectations"]):
            meta, kwargs = item["meta"], item["kwargs"]
            if "fields" in meta:
                read = list(meta["fields"])
            elif "column" in kwargs:
                read = [kwargs["column"]]
            else:
                query = queries.get(number, "")
                read = [c for c in dict.fromkeys(_IDENTIFIER.findall(query)) if c in columns]
            known = fields.setdefault(meta["rule_id"], [])
            known += [c for c in read if c not in known]
    return fields


def _dag_of_batch(reviewable: Sequence[ReviewedDataset]) -> sql.Composable:
    """SQL for the DAG of batch ``b``: its source, where batches name one (one DAG per source),
    else its dataset's DAG."""
    cases = sql.SQL(" ").join(
        sql.SQL("WHEN {} THEN {}").format(sql.Literal(r.name), sql.Literal(r.dag_id))
        for r in reviewable
    )
    return sql.SQL("coalesce(to_jsonb(b) ->> 'source', CASE b.dataset {} END)").format(cases)


def batch_dags(conn: psycopg.Connection, reviewable: Sequence[ReviewedDataset]) -> set[str]:
    """Every DAG that batches of these datasets came from."""
    return {
        dag
        for (dag,) in conn.execute(
            sql.SQL("SELECT DISTINCT {} FROM audit.batches b WHERE b.dataset = ANY(%s)").format(
                _dag_of_batch(reviewable)
            ),
            ([r.name for r in reviewable],),
        )
        if dag
    }


def dag_of(found: dict[str, Any], reviewed: ReviewedDataset) -> str:
    """The DAG a batch (a row of ``audit.batches``) came from."""
    return found.get("source") or reviewed.dag_id


def _batch_filters(
    reviewable: Sequence[ReviewedDataset],
    *,
    dags: Iterable[str],
    dataset: str | None,
    province: str | None,
    status: str | None,
    since: date | None,
    until: date | None,
) -> tuple[sql.Composable, dict[str, Any]]:
    names = [r.name for r in reviewable if dataset is None or r.name == dataset]
    clauses = [
        sql.SQL("b.dataset = ANY(%(datasets)s)"),
        sql.SQL("{} = ANY(%(dags)s)").format(_dag_of_batch(reviewable)),
    ]
    params: dict[str, Any] = {"datasets": names, "dags": sorted(dags)}
    if status == "quarantined":
        clauses.append(
            sql.SQL(
                "EXISTS (SELECT 1 FROM quarantine.records q"
                " WHERE q.batch_no = b.batch_no AND q.status = 'held')"
            )
        )
    elif status:
        clauses.append(sql.SQL("b.status = %(status)s"))
        params["status"] = status
    if since:
        clauses.append(sql.SQL("b.created_at >= %(since)s"))
        params["since"] = since
    if until and until < date.max:  # the last day there is bounds nothing (and has no next)
        clauses.append(sql.SQL("b.created_at < %(until)s"))
        params["until"] = until + timedelta(days=1)
    if province:
        # A batch is in a province when its source is the province's, or it received rows
        # of that province.
        per_dataset = [sql.SQL("to_jsonb(b) ->> 'province' = %(province)s")] + [
            sql.SQL(
                "(b.dataset = {name} AND EXISTS (SELECT 1 FROM {table} s"
                " WHERE s.batch_no = b.batch_no AND s.{column} = %(province)s))"
            ).format(
                name=sql.Literal(r.name),
                table=_staging(r),
                column=sql.Identifier(r.province_column),
            )
            for r in reviewable
            if r.province_column and r.name in names
        ]
        if len(per_dataset) > 1:
            # A batch whose staged rows the retention deleted keeps its provinces here.
            per_dataset.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM audit.province_scores ps"
                    " WHERE ps.batch_no = b.batch_no AND ps.province_code = %(province)s)"
                )
            )
        clauses.append(
            sql.SQL("({})").format(sql.SQL(" OR ").join(per_dataset or [sql.SQL("FALSE")]))
        )
        params["province"] = province
    return sql.SQL(" AND ").join(clauses), params


def list_batches(
    conn: psycopg.Connection,
    reviewable: Sequence[ReviewedDataset],
    *,
    dags: Iterable[str],
    dataset: str | None = None,
    province: str | None = None,
    status: str | None = None,
    since: date | None = None,
    until: date | None = None,
    page: int = 1,
    page_size: int = 25,
) -> Page:
    """Batches of the given datasets from the given DAGs (those the reader may read), newest
    first, with counts and pass rates per dimension."""
    where, params = _batch_filters(
        reviewable,
        dags=dags,
        dataset=dataset,
        province=province,
        status=status,
        since=since,
        until=until,
    )
    query = sql.SQL(
        """SELECT b.batch_no, b.dataset, b.mode, b.status, b.created_at, b.extracted_at,
                  b.received, b.published, b.quarantined, b.collapsed, b.fixed,
                  b.announced_total, b.hold_reason,
                  (SELECT coalesce(jsonb_object_agg(d.dimension, d.pass_rate), '{{}}')
                   FROM audit.dimension_scores d WHERE d.batch_no = b.batch_no) AS pass_rates,
                  (SELECT count(*) FROM quarantine.records q
                   WHERE q.batch_no = b.batch_no AND q.status = 'held') AS awaiting,
                  count(*) OVER () AS total_rows
           FROM audit.batches b
           WHERE {where}
           ORDER BY b.batch_no DESC
           LIMIT %(limit)s OFFSET %(offset)s"""
    ).format(where=where)
    params.update(limit=page_size, offset=(page - 1) * page_size)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query, params).fetchall()
    total = rows[0]["total_rows"] if rows else _count(conn, where, params)
    for row in rows:
        row["pass_rates"] = {k: float(v) for k, v in row["pass_rates"].items()}
    return Page(rows, total, page, page_size)


def _count(conn: psycopg.Connection, where: sql.Composable, params: dict) -> int:
    return conn.execute(
        sql.SQL("SELECT count(*) FROM audit.batches b WHERE {}").format(where), params
    ).fetchone()[0]


def batch(conn: psycopg.Connection, batch_no: int) -> dict[str, Any] | None:
    """One batch: its audit row, pass rates, its Required Action, and how it relates to releases."""
    with conn.cursor(row_factory=dict_row) as cur:
        found = cur.execute(
            "SELECT * FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone()
        if found is None:
            return None
        found["scores"] = cur.execute(
            """SELECT dimension, rows_checked, rows_failed, pass_rate, threshold
               FROM audit.dimension_scores WHERE batch_no = %s
               ORDER BY array_position(%s::text[], dimension)""",
            (batch_no, list(DIMENSIONS)),
        ).fetchall()
        found["required_action"] = cur.execute(
            "SELECT * FROM audit.batch_reviews WHERE batch_no = %s", (batch_no,)
        ).fetchone()
        # A release batch names the decision that made it; a batch names its releases.
        found["released_by"] = cur.execute(
            "SELECT * FROM audit.decisions WHERE release_batch_no = %s", (batch_no,)
        ).fetchone()
        found["quarantine_counts"] = dict(
            (status, n)
            for status, n in conn.execute(
                "SELECT status, count(*) FROM quarantine.records WHERE batch_no = %s GROUP BY 1",
                (batch_no,),
            )
        )
    return found


def rules(conn: psycopg.Connection, batch_no: int) -> list[dict[str, Any]]:
    """Every rule that ran on a batch (batch-level first), with its dimension, action, outcome,
    how many rows failed it, its checks (one per expectation, with its description), and how
    many of the batch's quarantined rows it caught and how many of those still wait."""
    with conn.cursor(row_factory=dict_row) as cur:
        checks = cur.execute(
            """SELECT r.suite, r.expectation_no, r.rule_id, r.dimension, r.level, r.action,
                      r.expectation, r.description, r.success, r.element_count,
                      r.unexpected_count, r.observed_value
               FROM audit.rule_results r WHERE r.batch_no = %s
               ORDER BY r.level, r.rule_id, r.suite, r.expectation_no""",
            (batch_no,),
        ).fetchall()
    failing = dict(
        conn.execute(
            """SELECT rule_id, count(DISTINCT row_no) FROM audit.findings
               WHERE batch_no = %s GROUP BY rule_id""",
            (batch_no,),
        ).fetchall()
    )
    caught: dict[str, tuple[int, int]] = {
        rule: (total, held)
        for rule, total, held in conn.execute(
            """SELECT rule, count(*), count(*) FILTER (WHERE q.status = 'held')
               FROM quarantine.records q, unnest(q.rule_ids) AS rule
               WHERE q.batch_no = %s GROUP BY rule""",
            (batch_no,),
        )
    }
    grouped: dict[str, dict[str, Any]] = {}
    for check in checks:
        rule = grouped.setdefault(
            check["rule_id"],
            {
                "rule_id": check["rule_id"],
                "dimension": check["dimension"],
                "level": check["level"],
                "action": check["action"],
                "success": True,
                "failing": failing.get(check["rule_id"], 0),
                "checks": [],
            },
        )
        rule["success"] = rule["success"] and check["success"]
        rule["checks"].append(check)
    for rule in grouped.values():
        rule["quarantined"], rule["awaiting"] = caught.get(rule["rule_id"], (0, 0))
    return list(grouped.values())


def _findings(row: str) -> sql.Composable:
    """The quarantine findings of the row aliased ``row`` (staging's, or quarantine's: a row
    whose staged values the retention deleted keeps its findings)."""
    return sql.SQL(
        """(SELECT coalesce(jsonb_agg(jsonb_build_object(
                      'rule_id', f.rule_id, 'dimension', f.dimension, 'reason', f.reason)
                      ORDER BY f.rule_id), '[]')
                 FROM audit.findings f
                 WHERE f.batch_no = {row}.batch_no AND f.row_no = {row}.row_no
                   AND f.action = 'quarantine')"""
    ).format(row=sql.Identifier(row))


_QUARANTINED = """
SELECT q.row_no, q.record_key, q.rule_ids, q.status, q.decided_by, q.decided_at,
       q.decision_reason, q.payload, to_jsonb(s) AS staged, {findings} AS findings,
       (SELECT jsonb_build_object('decision_id', r.decision_id,
                   'release_batch_no', r.release_batch_no, 'status', rb.status,
                   'rule_ids', rq.rule_ids)
        FROM audit.released_rows r
        JOIN audit.batches rb ON rb.batch_no = r.release_batch_no
        LEFT JOIN quarantine.records rq
          ON rq.batch_no = r.release_batch_no AND rq.row_no = r.release_row_no
        WHERE r.batch_no = q.batch_no AND r.row_no = q.row_no) AS release,
       (SELECT coalesce(array_agg(DISTINCT o.batch_no ORDER BY o.batch_no), '{{}}')
        FROM quarantine.records o
        WHERE o.dataset = q.dataset AND o.record_key = q.record_key AND o.status = 'held'
          AND o.batch_no <> q.batch_no) AS held_elsewhere,
       count(*) OVER () AS total_rows
FROM quarantine.records q
LEFT JOIN {staging} s ON s.batch_no = q.batch_no AND s.row_no = q.row_no
WHERE q.batch_no = %(b)s
  AND (%(rule)s::text IS NULL OR %(rule)s::text = ANY(q.rule_ids))
  AND (%(status)s::text IS NULL OR q.status = %(status)s::text)
ORDER BY q.row_no
LIMIT %(limit)s OFFSET %(offset)s"""

# A batch not published has no quarantine yet: its rows that fail quarantine rules.
_PENDING = """
SELECT s.row_no, s.{key}::text AS record_key,
       (SELECT array_agg(f.rule_id ORDER BY f.rule_id) FROM audit.findings f
        WHERE f.batch_no = s.batch_no AND f.row_no = s.row_no AND f.action = 'quarantine')
         AS rule_ids,
       'pending' AS status, NULL AS decided_by, NULL::timestamptz AS decided_at,
       NULL AS decision_reason, p.payload, to_jsonb(s) AS staged, {findings} AS findings,
       NULL::jsonb AS release, '{{}}'::bigint[] AS held_elsewhere, count(*) OVER () AS total_rows
FROM {staging} s
JOIN {payloads} p ON p.batch_no = s.batch_no AND p.row_no = s.row_no
WHERE s.batch_no = %(b)s AND s.collapsed IS NULL
  AND (%(status)s::text IS NULL OR %(status)s::text = 'pending')
  AND EXISTS (SELECT 1 FROM audit.findings f
              WHERE f.batch_no = s.batch_no AND f.row_no = s.row_no AND f.action = 'quarantine'
                AND (%(rule)s::text IS NULL OR f.rule_id = %(rule)s::text))
ORDER BY s.row_no
LIMIT %(limit)s OFFSET %(offset)s"""


def quarantined_rows(
    conn: psycopg.Connection,
    reviewed: ReviewedDataset,
    batch_no: int,
    *,
    rule_id: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 25,
    pending: bool = False,
) -> Page:
    """A batch's quarantined rows, by row number: each rule's reason beside the values it
    read, the payload as received, and the decision taken on the row, if any. With
    ``pending``, for a batch not published: the rows that fail its quarantine rules."""
    query = sql.SQL(_PENDING if pending else _QUARANTINED).format(
        staging=_staging(reviewed),
        key=sql.Identifier(reviewed.dataset.key_column),
        findings=_findings("s" if pending else "q"),
        payloads=qualified(PAYLOADS_TABLE),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            query,
            {
                "b": batch_no,
                "rule": rule_id or None,
                "status": status or None,
                "limit": page_size,
                "offset": (page - 1) * page_size,
            },
        ).fetchall()
    fields = rule_fields(reviewed.name)
    for row in rows:
        # A row whose staged values the retention deleted shows none, rather than nulls.
        staged = row.pop("staged")
        for finding in row["findings"]:
            finding["values"] = (
                {column: staged.get(column) for column in fields.get(finding["rule_id"], [])}
                if staged is not None
                else {}
            )
    total = rows[0]["total_rows"] if rows else 0
    return Page(rows, total, page, page_size, pending=pending)


def fixes(conn: psycopg.Connection, batch_no: int, *, page: int = 1, page_size: int = 25) -> Page:
    """A batch's fixes (automatic, and by operators in a release), with original and fixed values."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT row_no, rule_id, field, original, fixed, count(*) OVER () AS total_rows
               FROM audit.fixes WHERE batch_no = %s ORDER BY row_no, field
               LIMIT %s OFFSET %s""",
            (batch_no, page_size, (page - 1) * page_size),
        ).fetchall()
    return Page(rows, rows[0]["total_rows"] if rows else 0, page, page_size)


def trend(
    conn: psycopg.Connection,
    reviewed: ReviewedDataset,
    *,
    dags: Iterable[str],
    province: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Pass rate per dimension of a dataset's batches over time, oldest first; for one province,
    computed from that province's rows. Releases are left out: an operator chose their rows."""
    if province and not reviewed.province_column:
        return []
    if not province:
        query = sql.SQL(
            """SELECT b.batch_no, b.created_at, d.dimension, d.rows_checked AS checked,
                      d.rows_failed AS failed
               FROM (SELECT b.batch_no, b.created_at FROM audit.batches b
                     WHERE b.dataset = %(d)s AND b.mode <> 'release' AND {dag} = ANY(%(dags)s)
                       AND EXISTS (SELECT 1 FROM audit.dimension_scores x
                                   WHERE x.batch_no = b.batch_no)
                     ORDER BY b.batch_no DESC LIMIT %(limit)s) b
               JOIN audit.dimension_scores d USING (batch_no)"""
        ).format(dag=_dag_of_batch([reviewed]))
    else:
        # From the staged rows of the province; a batch whose staged rows the retention
        # deleted, from what it kept of them (`lienthong.pipeline.province_scores`).
        staged = province_scores.staged(
            reviewed.dataset,
            sql.SQL("s.batch_no IN (SELECT batch_no FROM b) AND s.{} = %(province)s").format(
                sql.Identifier(reviewed.province_column)
            ),
        )
        query = sql.SQL(
            """WITH b AS (SELECT b.batch_no, b.created_at FROM audit.batches b
                          WHERE b.dataset = %(d)s AND b.mode <> 'release'
                            AND {dag} = ANY(%(dags)s)
                            AND EXISTS (SELECT 1 FROM audit.dimension_scores x
                                        WHERE x.batch_no = b.batch_no)
                          ORDER BY b.batch_no DESC LIMIT %(limit)s)
               SELECT b.batch_no, b.created_at, p.dimension, p.rows_checked, p.rows_failed
               FROM b
               JOIN ({staged}
                     UNION ALL
                     SELECT batch_no, province_code, dimension, rows_checked, rows_failed
                     FROM audit.province_scores
                     WHERE province_code = %(province)s
                       AND batch_no IN (SELECT batch_no FROM b)) p USING (batch_no)
               WHERE p.rows_checked > 0"""
        ).format(staged=staged, dag=_dag_of_batch([reviewed]))
    points: dict[int, dict[str, Any]] = {}
    for batch_no, created_at, dimension, checked, failed in conn.execute(
        query,
        {
            "d": reviewed.name,
            "dags": sorted(dags),
            "limit": limit,
            "province": province,
            "dimensions": list(DIMENSIONS),
        },
    ):
        point = points.setdefault(
            batch_no, {"batch_no": batch_no, "at": created_at, "rates": {}, "checked": checked}
        )
        point["rates"][dimension] = 1.0 if not checked else 1 - failed / checked
    return [points[k] for k in sorted(points)]


def provinces(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """The current provinces (code, name), for filters."""
    return [
        tuple(r) for r in conn.execute("SELECT province_code, name FROM ref.provinces ORDER BY 1")
    ]


def decisions(conn: psycopg.Connection, batch_no: int) -> list[dict[str, Any]]:
    """Every decision about a batch, newest first, with the release batch's outcome."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT d.*, rb.status AS release_status, rb.published AS release_published,
                      rb.quarantined AS release_quarantined
               FROM audit.decisions d
               LEFT JOIN audit.batches rb ON rb.batch_no = d.release_batch_no
               WHERE d.batch_no = %s ORDER BY d.decision_id DESC""",
            (batch_no,),
        ).fetchall()
