"""Staging: a batch's rows land raw (after automatic fixes) by COPY, chunk by chunk."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Protocol

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lienthong.pipeline.dataset import Dataset


class FixLike(Protocol):
    rule_id: str
    field: str
    original: str | None
    fixed: str | None


def _storable_json(value: object) -> str:
    """JSON that jsonb accepts: PostgreSQL refuses the escape \\u0000, so it becomes \\ufffd."""
    return _JSON_NUL.sub(r"\1\\ufffd", json.dumps(value, ensure_ascii=False))


# \u0000 not preceded by an escaped backslash (an odd run of backslashes ends with the escape).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def _table(name: str) -> sql.Composable:
    return sql.Identifier(*name.split("."))


def clear(conn: psycopg.Connection, dataset: Dataset, batch_no: int) -> None:
    """Remove what an earlier attempt staged for this batch, so a rerun starts clean."""
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE batch_no = %s").format(_table(dataset.staging_table)),
        (batch_no,),
    )
    conn.execute("DELETE FROM audit.fixes WHERE batch_no = %s", (batch_no,))


def copy_chunk(
    conn: psycopg.Connection,
    dataset: Dataset,
    batch_no: int,
    prepared: Sequence[tuple[tuple, Iterable[FixLike]]],
) -> None:
    """COPY one chunk of prepared rows, then their fixes (one COPY stream at a time per connection)."""
    columns = sql.SQL(", ").join(map(sql.Identifier, ("batch_no", *dataset.staging_columns)))
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(_table(dataset.staging_table), columns)
    with conn.cursor() as cur:
        with cur.copy(statement) as copy:
            for row, _ in prepared:
                copy.write_row(
                    (
                        batch_no,
                        *(
                            Jsonb(v, dumps=_storable_json) if isinstance(v, dict) else v
                            for v in row
                        ),
                    )
                )
        with cur.copy(
            "COPY audit.fixes (batch_no, row_no, rule_id, field, original, fixed) FROM STDIN"
        ) as copy:
            for row, fixes in prepared:
                for fix in fixes:
                    copy.write_row(
                        (batch_no, row[0], fix.rule_id, fix.field, fix.original, fix.fixed)
                    )


def collapse_duplicates(conn: psycopg.Connection, dataset: Dataset, batch_no: int) -> None:
    """Rule P-K3 and its kin: identical copies of a key collapse into the first; older versions
    of a key that has a newer one in the batch (and copies whose version does not parse, when
    another copy's does) are superseded. Ties stay for the rules to catch."""
    table, key, version = (
        _table(dataset.staging_table),
        sql.Identifier(dataset.key_column),
        sql.Identifier(dataset.version_column),
    )
    conn.execute(
        sql.SQL(
            """UPDATE {table} t SET collapsed = 'identical'
               FROM (SELECT row_no,
                            row_number() OVER (PARTITION BY {key}, content_hash ORDER BY row_no) AS n
                     FROM {table} WHERE batch_no = %(b)s AND {key} IS NOT NULL) d
               WHERE t.batch_no = %(b)s AND t.row_no = d.row_no AND d.n > 1"""
        ).format(table=table, key=key),
        {"b": batch_no},
    )
    conn.execute(
        sql.SQL(
            """UPDATE {table} t SET collapsed = 'superseded'
               FROM (SELECT row_no,
                            -- a copy without a readable version yields to one that has it
                            coalesce({version} < max({version}) OVER w,
                                     max({version}) OVER w IS NOT NULL) AS older
                     FROM {table}
                     WHERE batch_no = %(b)s AND {key} IS NOT NULL AND collapsed IS NULL
                     WINDOW w AS (PARTITION BY {key})) d
               WHERE t.batch_no = %(b)s AND t.row_no = d.row_no AND d.older"""
        ).format(table=table, key=key, version=version),
        {"b": batch_no},
    )
