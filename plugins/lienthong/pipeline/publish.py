"""Publish: in one transaction, valid rows into core, failing rows into quarantine, counts
into the audit log, and the watermark forward. Publishing a published batch changes nothing."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import psycopg
from psycopg import sql

from lienthong.pipeline import batches, watermark
from lienthong.pipeline.dataset import Dataset

log = logging.getLogger(__name__)

#: Rows stamped later than the extraction plus this are in the future (rule P-L2) and must not
#: move the watermark.
CLOCK_SKEW = timedelta(minutes=5)

COUNTS = ("received", "fixed", "published", "quarantined", "collapsed", "applied")


def publish(conn: psycopg.Connection, dataset: Dataset, batch_no: int) -> dict[str, int]:
    """Publish a validated batch; return its counts."""
    started = time.monotonic()
    table = sql.Identifier(*dataset.staging_table.split("."))
    key = sql.Identifier(dataset.key_column)
    version = sql.Identifier(dataset.version_column)
    with conn.transaction():
        batch = conn.execute(
            "SELECT status, extracted_at, hold_reason FROM audit.batches WHERE batch_no = %s FOR UPDATE",
            (batch_no,),
        ).fetchone()
        if batch is None:
            raise batches.BatchError(f"no {dataset.name} batch {batch_no}")
        status, extracted_at, hold_reason = batch
        if status == "published":
            log.info("%s batch %s is already published; nothing to do", dataset.name, batch_no)
            return counts(conn, batch_no)
        if status == "held":
            raise batches.BatchHeld(f"{dataset.name} batch {batch_no} is on hold:\n{hold_reason}")
        if status != "validated":
            raise batches.BatchError(f"{dataset.name} batch {batch_no} is {status}, not validated")

        conn.execute(
            sql.SQL(
                """INSERT INTO quarantine.records (batch_no, row_no, dataset, record_key, rule_ids, payload)
                   SELECT s.batch_no, s.row_no, %(dataset)s, s.{key},
                          array_agg(f.rule_id ORDER BY f.rule_id), s.payload
                   FROM {table} s
                   JOIN audit.findings f ON f.batch_no = s.batch_no AND f.row_no = s.row_no
                   WHERE s.batch_no = %(b)s AND s.collapsed IS NULL AND f.action = 'quarantine'
                   GROUP BY s.batch_no, s.row_no, s.{key}, s.payload"""
            ).format(table=table, key=key),
            {"b": batch_no, "dataset": dataset.name},
        )
        applied = conn.execute(dataset.publish_sql, {"batch_no": batch_no}).rowcount
        # Each outcome is counted from the rows themselves, so the table's check that they
        # add up to what was received is a real check.
        received, collapsed, published, fixed = conn.execute(
            sql.SQL(
                """SELECT count(*), count(collapsed),
                          count(*) FILTER (WHERE collapsed IS NULL AND NOT EXISTS (
                              SELECT 1 FROM quarantine.records q WHERE q.batch_no = s.batch_no AND q.row_no = s.row_no)),
                          count(*) FILTER (WHERE collapsed IS NULL AND EXISTS (
                              SELECT 1 FROM audit.fixes x WHERE x.batch_no = s.batch_no AND x.row_no = s.row_no)
                              AND NOT EXISTS (
                              SELECT 1 FROM quarantine.records q WHERE q.batch_no = s.batch_no AND q.row_no = s.row_no))
                   FROM {table} s WHERE s.batch_no = %s"""
            ).format(table=table),
            (batch_no,),
        ).fetchone()
        quarantined = conn.execute(
            "SELECT count(*) FROM quarantine.records WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
        newest = conn.execute(
            sql.SQL(
                "SELECT max({version}) FROM {table} WHERE batch_no = %s AND {version} <= %s"
            ).format(version=version, table=table),
            (batch_no, extracted_at + CLOCK_SKEW),
        ).fetchone()[0]
        if newest is not None:
            watermark.advance(conn, dataset.name, newest, batch_no)
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
    log.info("%s batch %s published: %s", dataset.name, batch_no, result)
    return result


def counts(conn: psycopg.Connection, batch_no: int) -> dict[str, int]:
    """A batch's outcome counts."""
    row = conn.execute(
        f"SELECT {', '.join(COUNTS)} FROM audit.batches WHERE batch_no = %s", (batch_no,)
    ).fetchone()
    return dict(zip(COUNTS, row, strict=True))
