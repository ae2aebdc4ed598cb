"""A chunk's plain items read by column, for preparers that prepare a whole chunk at once.

Preparing items one by one costs mostly the interpreter's work per value: a call, a branch, a
tuple for each field of each item. Read by column (each documented field's values in one list),
a chunk's items are checked and read a step per column, in C where it can be done there
(``map``, ``zip``, a set of distinct values), and what must be computed in Python is computed
once per distinct value (codes, names repeat) or once per value where values do not repeat.

Only *plain* items are read so: a dict of exactly the documented fields (an object's too, or
null), each value of its kind and within its limit, and JSON that orjson encodes; for these
`Contract.check` finds nothing, and their payload is its payload (for items still in the JSON
their source sent, `json_columns`: that JSON, as sent). Every other item (a field missing or
added, a wrong type, invalid Unicode, a key given twice, an item that is not an object) goes
one by one through the preparer's own ``prepare``, which names what is wrong.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import add, attrgetter, is_, itemgetter
from typing import Annotated, Any

import msgspec

from lienthong.pipeline.contract import (
    Contract,
    Field,
    _fast_json,
    _parse_rfc3339_text,
    checked_text,
    parse_iso_date,
    read_iso_dates,
    read_rfc3339,
)
from lienthong.pipeline.dataset import Fix
from lienthong.pipeline.extraction import JsonItems

#: The kinds a column can be checked for; a contract with another (values sent typed, as a
#: date or a timestamp object) is prepared item by item.
_KINDS = frozenset({"string", "rfc3339", "iso_date", "boolean", "object"})

_NONE = type(None)
_READERS = {"rfc3339": _parse_rfc3339_text, "iso_date": parse_iso_date}
#: The same, a column of texts at a time.
_COLUMN_READERS = {"rfc3339": read_rfc3339, "iso_date": read_iso_dates}


@dataclass(frozen=True)
class PlainColumns:
    """A chunk's plain items, by column.

    Attributes:
        positions: where the plain items are in the chunk, in order.
        columns: each documented field's values, one per plain item, as received; an
            object's fields are named ``object.field`` (None where the object is null), and
            the object itself has no column.
        read: the values of ``rfc3339`` and ``iso_date`` fields as read (aware datetimes,
            dates; None for null), by the same functions the contract check uses.
        payloads: each plain item's payload (`Contract.check`'s).
    """

    positions: list[int]
    columns: dict[str, Sequence[Any]]
    read: dict[str, list[Any]]
    payloads: list[str]


def plain_columns(contract: Contract, items: Sequence[Any]) -> PlainColumns | None:
    """The items of ``items`` that keep plainly to ``contract``, by column; None when the
    contract has a kind a column cannot be checked for."""
    if not _columnar(contract.fields):
        return None
    names = frozenset(spec.name for spec in contract.fields)
    positions = [i for i, item in enumerate(items) if type(item) is dict and item.keys() == names]
    plain = [True] * len(positions)
    columns: dict[str, Sequence[Any]] = {}
    read: dict[str, list[Any]] = {}
    _read_fields(contract.fields, [items[i] for i in positions], "", plain, columns, read)
    payloads = [
        _fast_json(items[i]) if ok else None for i, ok in zip(positions, plain, strict=True)
    ]
    # orjson refuses what JSON cannot hold (a lone surrogate, an integer past 64 bits).
    plain = [ok and payload is not None for ok, payload in zip(plain, payloads, strict=True)]
    if not all(plain):
        kept = list(compress(range(len(plain)), plain))
        positions, payloads = _picked(positions, kept), _picked(payloads, kept)
        columns = {name: _picked(column, kept) for name, column in columns.items()}
        read = {name: _picked(column, kept) for name, column in read.items()}
    return PlainColumns(positions, columns, read, payloads)


def json_columns(contract: Contract, items: JsonItems) -> PlainColumns | None:
    """`plain_columns` of items still in their JSON array, read by msgspec into structs made
    from the contract (`_struct`), which check each value's type and limit in C, without
    building a dict for any item; a plain item's payload is its JSON text as sent. None when
    the contract has a kind a column cannot be checked for, or where the array's keys cannot
    be counted (see below): then every item is read by ``items``' careful decoder.

    msgspec keeps the last of a key given twice without a word, where the contract check
    names it (P-K5): each key written ``"name":`` is counted in the text, and an item with
    more than its struct's fields (or a ``\":`` inside a string: the count is only ever
    higher) is left to the careful decoder. A key written with space before its colon would
    escape the count: such an array is left to it whole."""
    data = items.data
    if not _columnar(contract.fields) or (
        # A quote before a space is rare outside text that starts with one: looked for in C
        # before the regular expression is asked.
        any(quote_space in data for quote_space in _QUOTE_SPACE) and _SPACED_KEY.search(data)
    ):
        return None
    whole, one = _decoders(tuple(contract.fields))
    texts = items.texts
    try:
        structs = whole.decode(data)
        positions = list(range(len(texts)))
    except (msgspec.ValidationError, RecursionError):  # some item is not plain: one by one
        positions, structs = [], []
        for position, text in enumerate(texts):
            try:
                structs.append(one.decode(text))
            except (msgspec.ValidationError, RecursionError):
                continue  # nested deeper than msgspec can walk here: the careful decoder's
            positions.append(position)
    plain = [True] * len(positions)
    columns: dict[str, Sequence[Any]] = {}
    read: dict[str, list[Any]] = {}
    keys = _read_fields(contract.fields, structs, "", plain, columns, read, typed=True)
    written = data.count(b'":') - sum(
        texts[i].count(b'":') for i in set(range(len(texts))).difference(positions)
    )
    if written != sum(keys):
        for j, position in enumerate(positions):
            if texts[position].count(b'":') != keys[j]:
                plain[j] = False
    if b"\\u0000" in data:
        # U+0000, which PostgreSQL's jsonb refuses: the payload is the contract check's.
        for j, position in enumerate(positions):
            if b"\\u0000" in texts[position]:
                plain[j] = False
    kept = list(compress(range(len(plain)), plain))
    if len(kept) < len(plain):
        positions = _picked(positions, kept)
        columns = {name: _picked(column, kept) for name, column in columns.items()}
        read = {name: _picked(column, kept) for name, column in read.items()}
    return PlainColumns(positions, columns, read, [texts[i].decode() for i in positions])


def prepare_by_column(
    start: int,
    items: Sequence[Any],
    contract: Contract,
    plain_rows: Callable[[int, PlainColumns], list[tuple[tuple, list[Fix]]]],
    prepare: Callable[[int, Any], tuple[tuple, Any]],
) -> list[tuple[tuple, Any]]:
    """A chunk's rows, numbered from ``start``: its plain items' by ``plain_rows`` (the
    preparer's reading of `PlainColumns`), every other item's by ``prepare``, in order."""
    plain = json_columns(contract, items) if isinstance(items, JsonItems) else None
    # The items left over are read one by one from their JSON; where the whole chunk had to
    # be decoded (`plain_columns`), they are taken from it.
    item = items.item if plain is not None else items.__getitem__
    if plain is None:
        plain = plain_columns(contract, items)
    prepared: list[Any] = [None] * len(items)
    if plain is not None and plain.positions:
        rows = plain_rows(start, plain)
        for position, row in zip(plain.positions, rows, strict=True):
            prepared[position] = row
    for position in compress(range(len(prepared)), map(is_, prepared, repeat(None))):
        prepared[position] = prepare(start + position, item(position))
    return prepared


#: Distinct values `per_distinct` remembers the outcome of in one ``known``.
REMEMBERED = 100_000


def per_distinct(
    values: Sequence[Any], outcome: Callable[[Any], Any], known: dict | None = None
) -> list[Any]:
    """``outcome`` of each of ``values``, worked out once per distinct value and looked up in
    C for the others. With ``known`` (a preparer's, kept for its batch), what earlier chunks
    worked out is looked up too, up to `REMEMBERED` values: codes and names come back in
    every chunk."""
    known = {} if known is None else known
    new = set(values).difference(known)
    if new:
        if len(known) + len(new) > REMEMBERED:
            known.clear()  # bounded: memory stays flat whatever the source sends
            new = set(values)
        for value in new:
            known[value] = outcome(value)
    return list(map(known.__getitem__, values))


def read_texts(column: Sequence[str | None]) -> Sequence[str | None]:
    """`checked_text` of each value of a plain column (blank text is None, U+0000 replaced):
    the column itself when no value needs it, as nearly every column."""
    present = column if None not in column else [value for value in column if value is not None]
    if all(present) and not any(map(str.isspace, present)) and "\x00" not in "".join(present):
        return column
    return [None if value is None else checked_text(value) for value in column]


def _columnar(fields: Sequence[Field]) -> bool:
    return all(spec.kind in _KINDS and _columnar(spec.fields) for spec in fields)


def _read_fields(
    fields: Sequence[Field],
    objects: Sequence[Any],
    prefix: str,
    plain: list[bool],
    columns: dict[str, Sequence[Any]],
    read: dict[str, list[Any]],
    typed: bool = False,
) -> list[int]:
    """Read ``fields`` of ``objects`` into ``columns``, marking in ``plain`` the items whose
    values are not of their kind; the number of keys each object holds (its fields and its
    objects' own; none for a null one). ``objects`` are dicts of exactly those fields, or
    None; or, ``typed``, the structs `_struct` made of them, or None."""
    if typed:
        getter = attrgetter(*_attributes(fields))
    else:
        getter = itemgetter(*(spec.name for spec in fields))
    nulls = (None,) * len(fields)
    if len(fields) == 1:
        rows = [nulls if obj is None else (getter(obj),) for obj in objects]
    else:
        rows = [nulls if obj is None else getter(obj) for obj in objects]
    values = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    keys = [0 if obj is None else len(fields) for obj in objects]
    for spec, column in zip(fields, values, strict=True):
        name = prefix + spec.name
        if spec.kind != "object":
            # msgspec has checked a typed value's type and limit; what it cannot check is
            # whether a timestamp or a date reads.
            if not typed or spec.kind in _READERS:
                for j in _unfit(spec, column, read, name):
                    plain[j] = False
            columns[name] = column
            continue
        if not typed:
            # An object's fields are read where it is a dict of exactly them (or null);
            # elsewhere as null, the item already being left to ``prepare``.
            inner = frozenset(field.name for field in spec.fields)
            for j, value in enumerate(column):
                if value is None:
                    if not spec.nullable:
                        plain[j] = False
                elif type(value) is not dict or value.keys() != inner:
                    plain[j] = False
        objects_here = [value if ok else None for value, ok in zip(column, plain, strict=True)]
        inner = _read_fields(spec.fields, objects_here, name + ".", plain, columns, read, typed)
        keys = list(map(add, keys, inner))
    return keys


def _unfit(
    spec: Field, column: Sequence[Any], read: dict[str, list[Any]], name: str
) -> Sequence[int]:
    """Where ``column``'s values are not of ``spec``'s kind or over its limit, as the contract
    check's `_compile_plain` tests them (null only where the field is nullable); the values
    of a field that must be read are read into ``read``."""
    if spec.kind in _READERS:
        limit, reader = spec.max_length, _READERS[spec.kind]
        if set(map(type, column)) == {str} and max(map(len, column)) <= limit:
            values = _COLUMN_READERS[spec.kind](column)
        else:
            values = [
                reader(value) if type(value) is str and len(value) <= limit else None
                for value in column
            ]
        read[name] = values
        unread = compress(range(len(values)), map(is_, values, repeat(None)))
        return [j for j in unread if column[j] is not None or not spec.nullable]
    kind = {"string": str, "boolean": bool}[spec.kind]
    allowed = {kind, _NONE} if spec.nullable else {kind}
    types = set(map(type, column))
    if types <= allowed and (
        kind is not str or max(map(len, filter(None, column)), default=0) <= spec.max_length
    ):
        return ()
    return [
        j
        for j, value in enumerate(column)
        if not (
            (value is None and spec.nullable)
            or (type(value) is kind and (kind is not str or len(value) <= spec.max_length))
        )
    ]


def _picked(column: Sequence[Any], kept: list[int]) -> list[Any]:
    return [column[j] for j in kept]


#: A key with space before its colon, which the count of ``":`` would miss.
_SPACED_KEY = re.compile(rb'"[ \t\n\r]+:')
_QUOTE_SPACE = (b'" ', b'"\t', b'"\n', b'"\r')


def _attributes(fields: Sequence[Field]) -> tuple[str, ...]:
    """The attribute names of `_struct`'s fields (a field's name need not be one)."""
    return tuple(f"f{index}" for index in range(len(fields)))


def _struct(fields: Sequence[Field], name: str) -> type:
    """A msgspec struct of exactly ``fields``: every field required, none other allowed, each
    of its kind (text within its limit, a boolean, an object of its own fields), null only
    where nullable. What it accepts `_compile_plain` finds plain but for the readings of
    timestamps and dates, which `_unfit` makes."""
    members = []
    for index, spec in enumerate(fields):
        if spec.kind == "object":
            kind: Any = _struct(spec.fields, f"{name}_{index}")
        elif spec.kind == "boolean":
            kind = bool
        else:
            kind = Annotated[str, msgspec.Meta(max_length=spec.max_length)]
        members.append((f"f{index}", kind | None if spec.nullable else kind))
    return msgspec.defstruct(
        name,
        members,
        rename={f"f{index}": spec.name for index, spec in enumerate(fields)},
        forbid_unknown_fields=True,
    )


@functools.cache
def _decoders(fields: tuple[Field, ...]) -> tuple[msgspec.json.Decoder, msgspec.json.Decoder]:
    """Decoders of an array of items of ``fields``, and of one item, made once per contract."""
    struct = _struct(fields, "Item")
    return msgspec.json.Decoder(list[struct]), msgspec.json.Decoder(struct)
