"""Staging: a batch's rows land raw (after automatic fixes) by COPY, chunk by chunk, formatted
where they were prepared (`lienthong.pipeline.preparation`): in COPY's binary format where
every value is of its column's type, else as text.

Each item as received (``payload``, or ``payload_text``) goes to a table of its own,
`PAYLOADS_TABLE`, read by row only (to quarantine a row, to show it to an operator), so that
the scans of validation and publication read narrow rows (`ChunkLayout`).

Preparers hand JSON columns (``payload``, ``extra``) over as JSON text already checked to be
storable (`lienthong.pipeline.contract.Contract.check`, `storable_json`).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

import psycopg
from psycopg import sql
from psycopg._copy_base import (
    _binary_signature,
    _binary_trailer,
    format_row_binary,
    format_row_text,
)
from psycopg.adapt import AdaptersMap, Dumper, PyFormat, Transformer

from lienthong.pipeline.dataset import Dataset, Fix


def qualified(name: str) -> sql.Composable:
    """A schema-qualified table or index name (``schema.name``) as an SQL identifier."""
    return sql.Identifier(*name.split("."))


#: Where each staged row's item is kept as received, by ``batch_no`` and ``row_no``.
PAYLOADS_TABLE = "staging.payloads"

#: The columns of a prepared row that go to `PAYLOADS_TABLE`, not to the dataset's staging
#: table: the item as JSON, or as text where it is not JSON that can be stored.
PAYLOAD_COLUMNS = ("payload", "payload_text")


def clear(conn: psycopg.Connection, dataset: Dataset, batch_no: int) -> None:
    """Remove what an earlier attempt staged for this batch, so a rerun starts clean."""
    for table in (dataset.staging_table, PAYLOADS_TABLE):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE batch_no = %s").format(qualified(table)), (batch_no,)
        )
    conn.execute("DELETE FROM audit.fixes WHERE batch_no = %s", (batch_no,))


@dataclass(frozen=True)
class StagedChunk:
    """A chunk of prepared rows formatted for COPY, ready for the warehouse.

    Attributes:
        rows: the staging rows (``batch_no`` first, then the dataset's staging columns but
            the payload's), in COPY's binary format when ``binary``, else its text format.
        fixes: their ``audit.fixes`` rows (text format).
        count: how many rows ``rows`` holds.
        binary: whether ``rows`` is in COPY's binary format.
        payloads: their `PAYLOADS_TABLE` rows (``batch_no``, ``row_no``, then
            `PAYLOAD_COLUMNS`), binary when ``payloads_binary``; empty for a layout without
            payload columns.
    """

    rows: bytes
    fixes: bytes
    count: int
    binary: bool = False
    payloads: bytes = b""
    payloads_binary: bool = False


@dataclass(frozen=True)
class ChunkLayout:
    """How `format_chunk` splits a prepared row (``row_no`` first, then the dataset's staging
    columns) between the staging table and `PAYLOADS_TABLE`, and the two tables' column
    types for COPY's binary format (None: text).

    Attributes:
        payload_at: where `PAYLOAD_COLUMNS` are in a prepared row (none: nothing is split).
        types: type OIDs of ``batch_no`` and the staging table's columns a chunk fills.
        payload_types: type OIDs of `PAYLOADS_TABLE`'s ``batch_no``, ``row_no``, payload
            columns.
    """

    payload_at: tuple[int, ...] = ()
    types: tuple[int, ...] | None = None
    payload_types: tuple[int, ...] | None = None

    def staged_columns(self, dataset: Dataset) -> tuple[str, ...]:
        """The dataset's staging columns that go to its staging table."""
        return tuple(c for i, c in enumerate(dataset.staging_columns) if i not in self.payload_at)


#: Rows as prepared: nothing split, in the text format (a preparer's rows looked at alone).
AS_PREPARED = ChunkLayout()


def chunk_layout(dataset: Dataset, conn: psycopg.Connection | None = None) -> ChunkLayout:
    """The layout of the dataset's chunks; with ``conn``, the columns' types read from the
    warehouse, for the binary format."""
    columns = dataset.staging_columns
    missing = [column for column in PAYLOAD_COLUMNS if column not in columns]
    if missing:
        raise ValueError(
            f"{dataset.name}: its staging columns must keep the item as received "
            f"({', '.join(PAYLOAD_COLUMNS)}); missing: {', '.join(missing)}"
        )
    layout = ChunkLayout(payload_at=tuple(columns.index(c) for c in PAYLOAD_COLUMNS))
    if conn is None:
        return layout
    return ChunkLayout(
        payload_at=layout.payload_at,
        types=_column_types(
            conn, dataset.staging_table, ("batch_no", *layout.staged_columns(dataset))
        ),
        payload_types=_column_types(conn, PAYLOADS_TABLE, ("batch_no", "row_no", *PAYLOAD_COLUMNS)),
    )


def _column_types(conn: psycopg.Connection, table: str, columns: Sequence[str]) -> tuple[int, ...]:
    """The type OIDs of ``table``'s ``columns``, in their order."""
    found = dict(
        conn.execute(
            """SELECT attname, atttypid::int FROM pg_attribute
               WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped""",
            (table,),
        ).fetchall()
    )
    missing = [column for column in columns if column not in found]
    if missing:
        raise ValueError(f"{table} has no column {', '.join(missing)}")
    return tuple(found[column] for column in columns)


def copy_text(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows in COPY's text format, formatted by psycopg without a connection (UTF-8).

    A preparation worker (`lienthong.pipeline.preparation`) formats its own chunks, so that
    the staging loop only writes bytes. psycopg's row formatter, though internal, is the one
    its ``Copy.write_row`` uses (in C with psycopg-binary), called here as its formatter
    class calls it, without the class's Python method around each row (a fifth of a
    population row's formatting): writing our own escaping would be a second, weaker copy of
    it. Pinned with psycopg; ``tests/integration/test_staging_text.py`` reads every kind of
    value back, and holds the text to what psycopg's own adapters and formatter write.
    """
    transformer = Transformer(_COPY_CONTEXT)
    out = bytearray()
    for row in rows:
        format_row_text(row, transformer, out)
    return bytes(out)


class _WordListDumper(Dumper):
    """A list as a text array, as psycopg writes it, without looking for its element type
    first: preparers hand over lists of field names (``missing_fields``), one in every row,
    and psycopg's list adapter, written in Python, walked each list to choose a dumper before
    dumping it (a sixth of a population row's formatting). A list of anything but plain words
    goes to psycopg's own adapter."""

    oid = psycopg.adapters.types["text"].array_oid

    def dump(self, obj: list) -> bytes:
        for element in obj:
            if (
                type(element) is not str
                or not _PLAIN_WORD.fullmatch(element)
                or (element.upper() == "NULL")
            ):
                return _DEFAULT_TRANSFORMER.get_dumper(obj, PyFormat.TEXT).dump(obj)
        return ("{" + ",".join(obj) + "}").encode()


#: An array element written without quotes: no space, quote, comma, brace or backslash.
_PLAIN_WORD = re.compile(r"[A-Za-z0-9_.-]+")

_DEFAULT_TRANSFORMER = Transformer()


@dataclass(frozen=True)
class _CopyContext:
    """psycopg's adapters, with ours for lists of words (text), JSON text and whole numbers
    (binary) (an ``AdaptContext``)."""

    adapters: AdaptersMap
    connection: None = None


class _JsonbTextDumper(Dumper):
    """JSON text (what preparers hand over for JSON columns) as the binary format's ``jsonb``
    value: a version byte, then the text. psycopg's own would encode a str as a JSON string.
    (A ``json`` value's binary form is the text alone: `copy_binary` has psycopg's text
    dumper write it.)"""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.adapters.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


class _Int4Dumper(Dumper):
    """A whole number as the binary format's ``integer``, refused (so that the chunk goes as
    text, and the server names the value) where it does not fit: psycopg's own writes the
    low 32 bits of any int, so that 2**31 would be staged as -2**31."""

    format = psycopg.pq.Format.BINARY
    oid = psycopg.adapters.types["int4"].oid
    _struct = struct.Struct("!i")

    def dump(self, obj: int) -> bytes:
        if type(obj) is not int:
            raise TypeError(f"{obj!r} is not a whole number")
        try:
            return self._struct.pack(obj)
        except struct.error as exc:
            raise OverflowError(f"{obj} does not fit the column") from exc


class _Int8Dumper(_Int4Dumper):
    """A whole number as the binary format's ``bigint``, refused where it does not fit."""

    oid = psycopg.adapters.types["int8"].oid
    _struct = struct.Struct("!q")


_COPY_CONTEXT = _CopyContext(AdaptersMap(psycopg.adapters))
_COPY_CONTEXT.adapters.register_dumper(list, _WordListDumper)
for _dumper in (_JsonbTextDumper, _Int4Dumper, _Int8Dumper):
    _COPY_CONTEXT.adapters.register_dumper(None, _dumper)

#: The same, with psycopg's own whole-number dumpers (in C), for a chunk whose whole numbers
#: have been seen to fit their columns (`_fitting`): two Python calls a row fewer.
_FITTING_CONTEXT = _CopyContext(AdaptersMap(_COPY_CONTEXT.adapters))
for _dumper in (_Int4Dumper, _Int8Dumper):
    _FITTING_CONTEXT.adapters.register_dumper(
        None, psycopg.adapters.get_dumper_by_oid(_dumper.oid, psycopg.pq.Format.BINARY)
    )

_TEXT_OID, _JSON_OID = psycopg.adapters.types["text"].oid, psycopg.adapters.types["json"].oid
_INT_LIMITS = {_Int4Dumper.oid: 2**31, _Int8Dumper.oid: 2**63}


def format_chunk(
    batch_no: int,
    prepared: Sequence[tuple[tuple, Iterable[Fix]]],
    layout: ChunkLayout = AS_PREPARED,
) -> StagedChunk:
    """A chunk of prepared rows (each with its fixes) formatted for COPY for ``batch_no``, the
    payload columns apart (`ChunkLayout`): each table's rows in the binary format given its
    columns' types where every value is of its column's type, else as text."""
    fixes = copy_text(
        (batch_no, row[0], fix.rule_id, fix.field, fix.original, fix.fixed)
        for row, row_fixes in prepared
        for fix in row_fixes
    )
    payloads: bytes = b""
    payloads_binary = False
    if layout.payload_at and prepared:
        # Split by column: the chunk's columns once (zip, in C), then each table's rows from
        # its own (0.7 us a population row, against 1.3 picking and joining each row's).
        columns = list(zip(*map(itemgetter(0), prepared), strict=True))
        batch = repeat(batch_no)
        payloads, payloads_binary = _formatted(
            list(zip(batch, columns[0], *(columns[i] for i in layout.payload_at), strict=False)),
            layout.payload_types,
        )
        rows = list(
            zip(
                batch,
                *(c for i, c in enumerate(columns) if i not in layout.payload_at),
                strict=False,  # against the batch number's endless repeat
            )
        )
    else:
        rows = [(batch_no, *row) for row, _ in prepared]
    formatted, binary = _formatted(rows, layout.types)
    return StagedChunk(formatted, fixes, len(prepared), binary, payloads, payloads_binary)


def _formatted(rows: Sequence[Sequence[Any]], types: Sequence[int] | None) -> tuple[bytes, bool]:
    """Rows for COPY, binary (True) where ``types`` are given and every value is of its
    column's type, else text (False)."""
    if types is not None:
        formatted = copy_binary(rows, types)
        if formatted is not None:
            return formatted, True
    return copy_text(rows), False


#: Column types a chunk may be sent in the binary format for: those staging tables use, each
#: held by a test to what the text format stores (psycopg's binary dumpers for other types,
#: such as ``smallint``, may not refuse what does not fit).
BINARY_TYPES = frozenset(
    psycopg.adapters.types[name].oid
    for name in ("bool", "int4", "int8", "text", "date", "timestamptz", "json", "jsonb")
) | {psycopg.adapters.types["text"].array_oid}


def copy_binary(rows: Iterable[Sequence[Any]], types: Sequence[int]) -> bytes | None:
    """Rows in COPY's binary format for columns of ``types``, by psycopg's formatter, or None
    where a value is not of its column's type (a text of a date, say, which only the text
    format lets the server read).

    The binary format spares the server the parsing of every value and the preparer the
    escaping of every text (a population row: 5.8 us formatting and 6.8 us on the server as
    text, 4.5 and 5.9 binary). JSON columns take the preparers' JSON text as it is
    (psycopg's text dumper), never encoded again as a JSON string. Columns of a type outside
    `BINARY_TYPES`, whose binary dumpers have not been held to what the text format stores,
    keep the chunk in text."""
    if not BINARY_TYPES.issuperset(types):
        return None
    rows = rows if isinstance(rows, Sequence) else list(rows)
    transformer = Transformer(_FITTING_CONTEXT if _fitting(rows, types) else _COPY_CONTEXT)
    # A json value's binary form is its text, which psycopg's text dumper (in C) writes as
    # it is (COPY's binary rows carry no type), never encoded again as a JSON string.
    dumpers = [_TEXT_OID if oid == _JSON_OID else oid for oid in types]
    transformer.set_dumper_types(dumpers, psycopg.pq.Format.BINARY)
    out = bytearray(_binary_signature)
    try:
        for row in rows:
            format_row_binary(row, transformer, out)
    except (TypeError, ValueError, AttributeError, OverflowError, psycopg.DataError):
        return None
    out += _binary_trailer
    return bytes(out)


def _fitting(rows: Sequence[Sequence[Any]], types: Sequence[int]) -> bool:
    """Whether every value of the whole-number columns is a whole number that fits its
    column, so that psycopg's dumpers (which write the low bits of any int) may write them."""
    for index, oid in enumerate(types):
        limit = _INT_LIMITS.get(oid)
        if limit is None or not rows:
            continue
        column = list(map(itemgetter(index), rows))
        if set(map(type, column)) != {int} or not -limit <= min(column) <= max(column) < limit:
            return False
    return True


def copy_chunk(
    conn: psycopg.Connection,
    dataset: Dataset,
    batch_no: int,
    prepared: Sequence[tuple[tuple, Iterable[Fix]]],
) -> None:
    """COPY one chunk of prepared rows, their payloads, then their fixes."""
    copy_staged(conn, dataset, format_chunk(batch_no, prepared, chunk_layout(dataset)))


def copy_staged(conn: psycopg.Connection, dataset: Dataset, chunk: StagedChunk) -> None:
    """COPY a formatted chunk's rows, their payloads, then their fixes (one COPY stream at a
    time per connection)."""
    if conn.info.encoding != "utf-8":
        # The chunk's text is UTF-8 whatever the connection's client encoding was.
        conn.execute("SET client_encoding TO 'UTF8'")
    staged = chunk_layout(dataset).staged_columns(dataset)
    with conn.cursor() as cur:
        for table, columns, rows, binary in (
            (dataset.staging_table, ("batch_no", *staged), chunk.rows, chunk.binary),
            (
                PAYLOADS_TABLE,
                ("batch_no", "row_no", *PAYLOAD_COLUMNS),
                chunk.payloads,
                chunk.payloads_binary,
            ),
        ):
            if not rows:
                continue
            statement = sql.SQL("COPY {} ({}) FROM STDIN {}").format(
                qualified(table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL("(FORMAT BINARY)" if binary else ""),
            )
            with cur.copy(statement) as copy:
                copy.write(rows)
        if chunk.fixes:
            with cur.copy(
                "COPY audit.fixes (batch_no, row_no, rule_id, field, original, fixed) FROM STDIN"
            ) as copy:
                copy.write(chunk.fixes)


#: Planner settings for queries that read a whole batch (validation's, the collapse of copies).
#: Planner costs: a rule's query returns few rows, but the planner, which cannot estimate a
#: regular expression or a lookup in the reference codes, expects most rows back and keeps the
#: scan on one core while the task only waits: rows handed over cheaply let it scan a large
#: batch on every core (a million rows: validation 50 s, then 39 s). The number of workers
#: stays the server's own (``max_parallel_workers_per_gather``). No JIT: each query compiled
#: its expressions in the leader and in every parallel worker (some 50 ms a process), more than
#: compiled code saves on a scan of a million rows (the SQL rules of a million population rows,
#: 6.3 s -> 5.4 s).
BATCH_SCAN_SETTINGS = {"parallel_setup_cost": "100", "parallel_tuple_cost": "0.001", "jit": "off"}


def scan_batches(conn: psycopg.Connection) -> None:
    """`BATCH_SCAN_SETTINGS` for the rest of ``conn``'s transaction."""
    for name, value in BATCH_SCAN_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, true)", (name, value))


def collapse_duplicates(
    conn: psycopg.Connection, dataset: Dataset, batch_no: int, *, rows: int | None = None
) -> None:
    """Rule P-K3 and its kin (E-K2, D-K2, T-K1): identical copies of a key collapse into the
    first; older versions of a key that has a newer one in the batch (and copies whose version
    does not parse, when another copy's does) are superseded. Ties stay for the rules to catch.
    An item that breaks the contract (``item_defect``) takes no part: it is quarantined.

    ``rows``, the batch's count, lets a small batch beside a large table be analysed by its
    own columns alone (`analyse_batch`)."""
    table, key, version = (
        qualified(dataset.staging_table),
        sql.Identifier(dataset.key_column),
        sql.Identifier(dataset.version_column),
    )
    read = sql.SQL(", ").join(
        map(
            sql.Identifier,
            dict.fromkeys(("row_no", dataset.key_column, "content_hash", dataset.version_column)),
        )
    )
    analyse_batch(conn, dataset, rows)
    # Only a key received more than once can collapse: the batch's rows are counted by key
    # first (a sort of the key alone, in parallel: `BATCH_SCAN_SETTINGS`), and the windows
    # that decide run on those few rows. Sorting every row by key, copy and row, on one core,
    # cost 0.6-0.8 s at 300k population rows; 0.3-0.4 s so.
    # Both deciding windows share one sort (key, content_hash, row_no). Identical copies of
    # a version share its version, so the newest version of a key is the same with or without
    # them; an identical copy stays "identical" even where its version is an older one.
    # Partitions by bytes (COLLATE "C"): the same groups under any deterministic collation, and
    # a sort that compares memory, not locale rules. The few rows that collapse are found
    # first and updated by their key: the planner, unable to estimate how few they are, joined
    # the whole batch again to update them in one statement (a fifth of its time).
    scan_batches(conn)
    conn.execute("DROP TABLE IF EXISTS pg_temp.collapsing")
    conn.execute(
        sql.SQL(
            """CREATE TEMPORARY TABLE collapsing AS
               SELECT row_no, CASE WHEN n > 1 THEN 'identical' ELSE 'superseded' END AS collapsed
               FROM (SELECT row_no,
                            row_number() OVER (PARTITION BY {key} COLLATE "C",
                                                            content_hash COLLATE "C"
                                               ORDER BY row_no) AS n,
                            -- a copy without a readable version yields to one that has it
                            coalesce({version} < max({version}) OVER (PARTITION BY {key} COLLATE "C"),
                                     max({version}) OVER (PARTITION BY {key} COLLATE "C")
                                       IS NOT NULL)
                              AS older
                     FROM (SELECT {read},
                                  count(*) OVER (PARTITION BY {key} COLLATE "C") AS copies
                           FROM {table}
                           WHERE batch_no = %(b)s AND {key} IS NOT NULL AND item_defect IS NULL
                          ) keyed
                     WHERE copies > 1) d
               WHERE n > 1 OR older"""
        ).format(table=table, key=key, version=version, read=read),
        {"b": batch_no},
    )
    conn.execute(
        sql.SQL(
            """UPDATE {table} t SET collapsed = c.collapsed FROM collapsing c
               WHERE t.batch_no = %(b)s AND t.row_no = c.row_no"""
        ).format(table=table),
        {"b": batch_no},
    )
    conn.execute("DROP TABLE collapsing")


#: A batch this many times smaller than its staging table is analysed by its own columns alone.
SMALL_BATCH_RATIO = 10


def analyse_batch(conn: psycopg.Connection, dataset: Dataset, rows: int | None) -> None:
    """Statistics that know the batch just copied in, before it is read.

    Without them the planner takes a small batch beside a large table for nothing and joins
    it row by row against the whole table (seconds per thousand rows once staging holds a
    million). ANALYZE samples the whole table however small the batch: 0.6 s at 300k rows,
    a third of an incremental sync of 3,000. A batch of fewer than a tenth of the table's
    rows, once every column has statistics, changes little of what they say of its values:
    what the planner must learn is that the batch is there and how its keys group, so the
    columns that place and group rows are analysed alone (a quarter of the time).
    """
    table = qualified(dataset.staging_table)
    columns = (
        "batch_no",
        "row_no",
        dataset.key_column,
        dataset.version_column,
        "content_hash",
        "item_defect",
        "collapsed",
    )
    if rows is not None:
        size, described, total = conn.execute(
            """SELECT c.reltuples,
                      (SELECT count(*) FROM pg_stats s
                       WHERE s.schemaname = n.nspname AND s.tablename = c.relname),
                      (SELECT count(*) FROM pg_attribute a
                       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
               FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.oid = %s::regclass""",
            (dataset.staging_table,),
        ).fetchone()
        if described == total and size >= SMALL_BATCH_RATIO * max(rows, 1):
            conn.execute(
                sql.SQL("ANALYZE {} ({})").format(
                    table, sql.SQL(", ").join(map(sql.Identifier, columns))
                )
            )
            return
    conn.execute(sql.SQL("ANALYZE {}").format(table))


def new_fields(conn: psycopg.Connection, dataset: Dataset, batch_no: int) -> list[str]:
    """The fields of the batch's items that the contract does not document (recorded, not
    fatal)."""
    return conn.execute(
        sql.SQL(
            """SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{{}}')
               FROM {}, jsonb_object_keys(extra) AS k
               WHERE batch_no = %s AND jsonb_typeof(extra) = 'object'"""
        ).format(qualified(dataset.staging_table)),
        (batch_no,),
    ).fetchone()[0]
