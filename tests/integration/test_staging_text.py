"""COPY text formatted without a connection (in a preparation worker) reads back as the values
that were formatted: every kind a preparer hands over, escapes and all."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from lienthong.pipeline.staging import copy_text

pytestmark = pytest.mark.integration

ROWS = [
    (
        1,
        "plain",
        date(1990, 2, 28),
        datetime(2026, 11, 29, 8, 30, 1, 123456, tzinfo=UTC),
        ["province_code", "commune_code"],
        '{"full_name": "Nguyễn Thị\\tHoa", "path": "C:\\\\x"}',
        True,
    ),
    (
        2,
        "tab\tnewline\ncarriage\rbackslash\\ end",
        None,
        datetime(2026, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=7))),
        [],
        None,
        False,
    ),
    (
        3,
        'Đặng Thuỳ \ufffd, \\N and a quote " and braces {x}',
        date(2000, 1, 1),
        None,
        ["a,b", 'say "hi"', "back\\slash", "{brace}", "NULL", ""],
        "[]",
        None,
    ),
    (4, "", None, None, None, '"\\u00e9"', None),
]


def test_copy_text_reads_back_as_the_values_formatted(warehouse_conn):
    conn = warehouse_conn
    conn.execute(
        """CREATE TEMPORARY TABLE copied (n int, t text, d date, ts timestamptz, a text[],
                                          j jsonb, b boolean)"""
    )
    with conn.cursor() as cur, cur.copy("COPY copied FROM STDIN") as copy:
        copy.write(copy_text(ROWS))
    back = conn.execute("SELECT n, t, d, ts, a, j, b FROM copied ORDER BY n").fetchall()
    expected = [(*row[:5], None if row[5] is None else json.loads(row[5]), row[6]) for row in ROWS]
    assert back == expected
    assert back[1][1] == "tab\tnewline\ncarriage\rbackslash\\ end"
    assert back[2][4][-2:] == ["NULL", ""]  # a text "NULL" is not a null


def test_copy_text_is_what_psycopgs_own_adapters_write():
    """Lists of words are written without psycopg's list adapter: the same bytes, word lists,
    empty lists and lists that need quotes alike."""
    from psycopg._copy_base import TextFormatter
    from psycopg.adapt import Transformer

    rows = [
        *ROWS,
        (5, ["household_id"], ["a.b-c_1"], ["null"], [" x"], ["é"], [1, 2], ["x", None]),
    ]
    formatter = TextFormatter(Transformer())
    expected = b"".join(bytes(formatter.write_row(row)) for row in rows) + bytes(formatter.end())
    assert copy_text(rows) == expected
