"""A chunk's plain items read by column, for preparers that prepare a whole chunk at once.

Preparing items one by one costs mostly the interpreter's work per value: a call, a branch, a
tuple for each field of each item. Read by column (each documented field's values in one list),
a chunk's items are checked and read a step per column, in C where it can be done there
(``map``, ``zip``, a set of distinct values), and what must be computed in Python is computed
once per distinct value (codes, names repeat) or once per value where values do not repeat.

Only *plain* items are read so: a dict of exactly the documented fields (an object's too, or
null), each value of its kind and within its limit, and JSON that orjson encodes; for these
`Contract.check` finds nothing, and their payload is its payload. Every other item (a field
missing or added, a wrong type, invalid Unicode, a key given twice, an item that is not an
object) goes one by one through the preparer's own ``prepare``, which names what is wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_, itemgetter
from typing import Any

from lienthong.pipeline.contract import (
    Contract,
    Field,
    _fast_json,
    _parse_rfc3339_text,
    checked_text,
    parse_iso_date,
)

#: The kinds a column can be checked for; a contract with another (values sent typed, as a
#: date or a timestamp object) is prepared item by item.
_KINDS = frozenset({"string", "rfc3339", "iso_date", "boolean", "object"})

_NONE = type(None)
_READERS = {"rfc3339": _parse_rfc3339_text, "iso_date": parse_iso_date}


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
    objects: Sequence[dict | None],
    prefix: str,
    plain: list[bool],
    columns: dict[str, Sequence[Any]],
    read: dict[str, list[Any]],
) -> None:
    """Read ``fields`` of ``objects`` (dicts of exactly those fields, or None) into
    ``columns``, marking in ``plain`` the items whose values are not of their kind."""
    getter = itemgetter(*(spec.name for spec in fields))
    nulls = (None,) * len(fields)
    if len(fields) == 1:
        rows = [nulls if obj is None else (getter(obj),) for obj in objects]
    else:
        rows = [nulls if obj is None else getter(obj) for obj in objects]
    values = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    for spec, column in zip(fields, values, strict=True):
        name = prefix + spec.name
        for j in _unfit(spec, column, read, name):
            plain[j] = False
        if spec.kind != "object":
            columns[name] = column
            continue
        inner = frozenset(field.name for field in spec.fields)
        # An object's fields are read where the object is plain so far (a dict of exactly
        # them); elsewhere as null, the item already being left to ``prepare``.
        for j, value in enumerate(column):
            if value is not None and (type(value) is not dict or value.keys() != inner):
                plain[j] = False
        objects_here = [value if ok else None for value, ok in zip(column, plain, strict=True)]
        _read_fields(spec.fields, objects_here, name + ".", plain, columns, read)


def _unfit(
    spec: Field, column: Sequence[Any], read: dict[str, list[Any]], name: str
) -> Sequence[int]:
    """Where ``column``'s values are not of ``spec``'s kind or over its limit, as the contract
    check's `_compile_plain` tests them (null only where the field is nullable); the values
    of a field that must be read are read into ``read``."""
    if spec.kind in _READERS:
        limit, reader = spec.max_length, _READERS[spec.kind]
        values = [
            reader(value) if type(value) is str and len(value) <= limit else None
            for value in column
        ]
        read[name] = values
        unread = compress(range(len(values)), map(is_, values, repeat(None)))
        return [j for j in unread if column[j] is not None or not spec.nullable]
    kind = {"string": str, "boolean": bool, "object": dict}[spec.kind]
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
