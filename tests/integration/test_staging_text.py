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


def test_copy_binary_is_what_psycopgs_own_binary_formatter_writes():
    """Rows in the binary format, header and end of data included, are what psycopg's own
    formatter writes for them (ours calls its row formatter without the class around it)."""
    import psycopg
    from psycopg._copy_base import BinaryFormatter
    from psycopg.adapt import Transformer

    from lienthong.pipeline.staging import _COPY_CONTEXT, _TEXT_OID, copy_binary

    names = ("int8", "int4", "text", "date", "timestamptz", "bool", "json")
    types = [psycopg.adapters.types[name].oid for name in names]
    rows = [
        (
            7,
            1,
            "Nguyễn Thị\tHoa",
            date(1990, 2, 28),
            datetime(2026, 11, 29, 8, 30, tzinfo=UTC),
            True,
            '{"a": [1, "é"]}',
        ),
        (7, 2, None, None, None, None, None),
        (
            7,
            3,
            "",
            date(2000, 1, 1),
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=7))),
            False,
            "[]",
        ),
    ]
    for chunk in (rows, rows[:1], []):
        transformer = Transformer(_COPY_CONTEXT)
        transformer.set_dumper_types(
            [_TEXT_OID if name == "json" else oid for name, oid in zip(names, types, strict=True)],
            psycopg.pq.Format.BINARY,
        )
        formatter = BinaryFormatter(transformer)
        expected = b"".join(bytes(formatter.write_row(row)) for row in chunk)
        assert copy_binary(chunk, types) == expected + bytes(formatter.end())


#: A batch number no test's batch reaches (these tests roll back what they stage).
BATCH = 2_000_000_007


def _staged(conn, dataset, chunk) -> list[tuple]:
    from lienthong.pipeline.staging import copy_staged

    conn.execute(f"TRUNCATE {dataset.staging_table}")
    for table in ("audit.fixes", "staging.payloads"):
        conn.execute(f"DELETE FROM {table} WHERE batch_no = %s", (BATCH,))
    copy_staged(conn, dataset, chunk)
    return conn.execute(
        f"""SELECT to_jsonb(s), p.payload::text, p.payload_text FROM {dataset.staging_table} s
            JOIN staging.payloads p USING (batch_no, row_no) ORDER BY row_no"""
    ).fetchall()


def test_binary_chunks_stage_what_text_chunks_stage(warehouse_conn):
    """Prepared population rows of every kind (defects, fixes, extra fields, missing ones,
    items that are not objects) staged by COPY's binary format and by its text format: the
    same rows, JSON columns holding the JSON as sent (objects, not strings)."""
    import dataclasses

    from lienthong.pipeline.staging import chunk_layout, format_chunk
    from lienthong.population.contract import Preparer
    from lienthong.population.dataset import POPULATION
    from lienthong_demo.citizens import generate_citizens

    conn = warehouse_conn
    conn.execute("CREATE TEMPORARY TABLE staged (LIKE staging.population)")
    dataset = dataclasses.replace(POPULATION, staging_table="pg_temp.staged")
    items = [c.item for c in generate_citizens(300, seed=5, defect_rate=0.5)]
    items[1] = {**items[1], "blood_type": "O", "tags": ["a"]}
    items[2] = {k: v for k, v in items[2].items() if k != "household_id"}
    items[3] = ["not", "an", "object"]
    items[4] = {**items[4], "full_name": "Tab\tand\\backslash\nand new line"}
    preparer = Preparer()
    prepared = [preparer.prepare(row_no, item) for row_no, item in enumerate(items)]

    binary = format_chunk(BATCH, prepared, chunk_layout(dataset, conn))
    text = format_chunk(BATCH, prepared, chunk_layout(dataset))
    assert binary.binary and binary.payloads_binary
    assert not text.binary and not text.payloads_binary
    assert binary.fixes == text.fixes and binary.count == text.count == 300
    staged_binary = _staged(conn, dataset, binary)
    assert staged_binary == _staged(conn, dataset, text)
    assert len(staged_binary) == 300
    # The item as received is kept beside the row, not in it.
    assert "payload" not in staged_binary[0][0]
    assert json.loads(staged_binary[5][1]) == items[5]
    kinds = conn.execute(
        """SELECT DISTINCT json_typeof(p.payload), jsonb_typeof(s.extra) FROM pg_temp.staged s
           JOIN staging.payloads p USING (batch_no, row_no)"""
    ).fetchall()
    assert set(kinds) <= {("object", None), ("object", "object"), ("array", None)}
    assert ("object", "object") in kinds
    conn.rollback()


def test_a_value_not_of_its_columns_type_keeps_the_chunk_in_text(warehouse_conn):
    """A preparer may hand a column text the server reads (a date as text): the binary
    format cannot carry it, so that chunk goes as text, and stages the same."""
    import dataclasses

    from lienthong.pipeline.staging import chunk_layout, format_chunk
    from lienthong.population.contract import Preparer
    from lienthong.population.dataset import POPULATION
    from lienthong_demo.citizens import generate_citizens

    conn = warehouse_conn
    conn.execute("CREATE TEMPORARY TABLE staged (LIKE staging.population)")
    dataset = dataclasses.replace(POPULATION, staging_table="pg_temp.staged")
    preparer = Preparer()
    items = [c.item for c in generate_citizens(3, seed=5, defect_rate=0.0)]
    prepared = [preparer.prepare(row_no, item) for row_no, item in enumerate(items)]
    dob = POPULATION.staging_columns.index("dob")
    row, fixes = prepared[1]
    prepared[1] = ((*row[:dob], row[dob].isoformat(), *row[dob + 1 :]), fixes)

    chunk = format_chunk(BATCH, prepared, chunk_layout(dataset, conn))
    assert not chunk.binary and chunk.payloads_binary
    staged = _staged(conn, dataset, chunk)
    assert [row[0]["dob"] for row in staged] == [
        row[dob].isoformat() if hasattr(row[dob], "isoformat") else row[dob] for row, _ in prepared
    ]
    conn.rollback()


@pytest.mark.parametrize(
    ("value", "column", "binary"),
    [
        (2**31 - 1, "int4", True),
        (-(2**31), "int4", True),
        (2**31, "int4", False),  # psycopg's own dumper would stage -2**31
        (2**40, "int4", False),  # ... and this as 0
        (2**63, "int8", False),
        (True, "int4", False),
        ("5", "int4", False),
        ("2026-01-01", "date", False),
        ({"a": 1}, "json", False),
        (5, "int2", False),  # a type no staging table has: text, where the server checks
        ("x", "varchar", False),
    ],
)
def test_the_binary_format_carries_only_values_of_their_columns_type(value, column, binary):
    """A value that is not of its column's type, or does not fit it, sends its chunk as text,
    where the server reads it or names it; never a binary value that means something else."""
    import psycopg

    from lienthong.pipeline.staging import copy_binary

    formatted = copy_binary([(value,)], [psycopg.adapters.types[column].oid])
    assert (formatted is not None) == binary


def test_a_chunk_keeps_each_item_as_received_apart_and_a_dataset_must_have_one():
    """Every dataset's prepared rows split the same way: the items as received to
    ``staging.payloads`` (batch, row, payload columns), the rest to the staging table; a
    dataset whose rows do not keep the item is refused by name."""
    import dataclasses

    from lienthong.datasets import CATALOGUE, dataset
    from lienthong.pipeline.staging import PAYLOAD_COLUMNS, chunk_layout, format_chunk

    for name in CATALOGUE:
        columns = dataset(name).staging_columns
        layout = chunk_layout(dataset(name))
        assert [columns[i] for i in layout.payload_at] == list(PAYLOAD_COLUMNS)
        assert not set(PAYLOAD_COLUMNS) & set(layout.staged_columns(dataset(name)))
    population = dataset("population")
    row = tuple(f"v{i}" for i in range(len(population.staging_columns)))
    chunk = format_chunk(7, [(row, [])], chunk_layout(population))
    at = chunk_layout(population).payload_at
    assert chunk.payloads == copy_text([(7, row[0], *(row[i] for i in at))])
    assert chunk.rows == copy_text([(7, *(v for i, v in enumerate(row) if i not in at))])
    without = dataclasses.replace(population, staging_columns=population.staging_columns[:-3])
    with pytest.raises(ValueError, match=r"population: .* missing: payload, payload_text"):
        chunk_layout(without)
