"""The civil_events row contract (SOURCES.md §2) and its staging form.

A registry row arrives typed by its database driver. It is first put in its *received form*,
the JSON an operator sees and a release re-reads: dates as ``YYYY-MM-DD``, timestamps as RFC
3339 in UTC, ``CHAR`` columns without the padding the type adds. What the database let
through that the contract does not allow (a zero date, a flag that is not a boolean, text
over its width in a looser table, invalid Unicode) is named in ``item_defect`` (rule E-K3);
the name gets the population's canonical form (E-K1 fix) or its defect (E-K1 quarantine).

Columns beyond the contract are carried as they are, except that a value JSON has no type for
(a ``NUMERIC``, ``TIME``, ``UUID`` or ``INTERVAL`` column) becomes its text: it is not the
contract's to judge, and left as it came it made the row's extra columns unstorable, so that
they were dropped from core and the batch recorded no new field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import compress, repeat
from operator import ne
from typing import Any

from lienthong.pipeline.columns import PlainColumns, prepare_by_column, read_texts
from lienthong.pipeline.contract import (
    Contract,
    Field,
    checked_text,
    parse_iso_date,
    parse_rfc3339,
    read_iso_dates,
    received_text,
    storable_json,
    text_value,
)
from lienthong.pipeline.dataset import Fix
from lienthong.population.personal_id import birth_province
from lienthong.text.vietnamese import name_defect, normalise_text

#: The registry table's documented columns, types and widths (SOURCES.md §2).
CONTRACT = (
    Field("event_id", max_length=32, nullable=False),
    Field("event_type", max_length=10, nullable=False),
    Field("personal_id", max_length=12),
    Field("full_name", max_length=200),
    Field("event_date", "iso_date"),
    Field("commune_code", max_length=5),
    Field("registered_at", "rfc3339", nullable=False),
    Field("updated_at", "rfc3339", nullable=False),
    Field("is_deleted", "boolean", nullable=False),
)
# Compiled once: the common case is checked without the thorough walk.
_CONTRACT = Contract(CONTRACT)
DOCUMENTED_FIELDS = tuple(field.name for field in CONTRACT)

#: CHAR columns: PostgreSQL hands them back padded to their width.
_CHAR_COLUMNS = ("personal_id", "commune_code")

_DOCUMENTED = frozenset(DOCUMENTED_FIELDS)

#: Values JSON encodes as they are.
_JSON_SCALARS = (str, int, float, bool, type(None))

STAGING_COLUMNS = (
    "row_no",
    "event_id",
    "event_type",
    "personal_id",
    "pid_birth_province",
    "full_name",
    "full_name_defect",
    "event_date",
    "event_day",
    "commune_code",
    "registered_at",
    "registered_ts",
    "updated_at",
    "updated_ts",
    "is_deleted",
    "missing_fields",
    "extra",
    "item_defect",
    "payload",
    "payload_text",
    "content_hash",
)


def received_form(row: Mapping[str, Any]) -> dict[str, Any]:
    """A registry row as JSON-able values (idempotent: a received form stays as it is)."""
    return {column: _received_value(column, value) for column, value in row.items()}


def _received_value(column: str, value: Any) -> Any:
    """A value of ``column`` in its received form (`received_form`)."""
    kind = type(value)
    if kind is str:  # most values: looked at first
        return value.rstrip(" ") if column in _CHAR_COLUMNS else value
    if value is None or kind is bool:
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if column in _CHAR_COLUMNS and isinstance(value, str):
        return value.rstrip(" ")
    if column not in _DOCUMENTED:
        return _extra_value(value)
    return value


class ReceivedForms(list):
    """A chunk's rows already in their received form (`received_forms`), which
    `Preparer.prepare_many` takes as they are."""


def received_forms(keys: Sequence[str], rows: Sequence[Sequence[Any]]) -> ReceivedForms:
    """The received forms of a chunk of driver rows whose values come in the order of
    ``keys``: ``received_form`` of each row's item (`registry_items`), made a column at a time.

    A column of text and nulls (most of a registry's) needs nothing done to it but the
    padding taken off a CHAR column's values; a column of booleans and nulls, nothing at
    all; any other column is put in its form value by value. Each row's dict is then made
    from its values in C. (Row by row, the item and then its form each cost a dict, a call
    per value and a branch per type.)"""
    # Here, not at the top: the registry's module brings SQLAlchemy, which a DAG file's
    # import of this dataset need not load.
    from lienthong.registry.extraction import normalise_value

    columns = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    formed = []
    for key, values in zip(keys, columns, strict=True):
        kinds = set(map(type, values))
        if kinds <= _TEXT_OR_NULL:
            if key in _CHAR_COLUMNS:
                values = [None if value is None else value.rstrip(" ") for value in values]
        elif not kinds <= _BOOLEAN_OR_NULL:
            values = [_received_value(key, normalise_value(key, value)) for value in values]
        formed.append(values)
    return ReceivedForms(map(dict, map(zip, repeat(keys), zip(*formed, strict=True))))


_TEXT_OR_NULL = frozenset({str, type(None)})
_BOOLEAN_OR_NULL = frozenset({bool, type(None)})


def _extra_value(value: Any) -> Any:
    """A value of a column beyond the contract as JSON can hold it: a driver's type JSON has
    no place for (``Decimal``, ``time``, ``timedelta``, ``UUID``, an address) as its text,
    inside arrays and objects too. A documented column's value is left alone: a wrong type
    there is the contract check's to name (rule E-K3)."""
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        # MySQL's TIME (and PostgreSQL's INTERVAL) as MySQL writes a TIME: [-]HH:MM:SS[.ffffff].
        sign, value = ("-", -value) if value < timedelta(0) else ("", value)
        minutes, seconds = divmod(value.seconds, 60)
        text = f"{sign}{value.days * 24 + minutes // 60:02}:{minutes % 60:02}:{seconds:02}"
        return text + (f".{value.microseconds:06}" if value.microseconds else "")
    if isinstance(value, Mapping):
        return {str(key): _extra_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_extra_value(item) for item in value]
    return str(value)


def _content_hash(form: Mapping[str, Any]) -> str:
    """The hash identical copies of a row share (rule E-K2): of its received form."""
    return hashlib.md5(
        json.dumps(form, sort_keys=True, default=str).encode("utf-8", "replace")
    ).hexdigest()


class Preparer:
    """Prepares the rows of one batch."""

    def prepare(self, row_no: int, item: Any) -> tuple[tuple, list[Fix]]:
        """One registry row → (staging row in ``STAGING_COLUMNS`` order, fixes applied)."""
        return self._prepared(row_no, received_form(item) if isinstance(item, Mapping) else item)

    def prepare_many(self, start: int, items: Sequence[Any]) -> list[tuple[tuple, list[Fix]]]:
        """``prepare`` of each row of a chunk, numbered from ``start``: the same rows and
        fixes, the plain rows' received forms read by column (`lienthong.pipeline.columns`),
        the others one by one."""
        if isinstance(items, ReceivedForms):
            forms: Sequence[Any] = items
        else:
            forms = [received_form(item) if isinstance(item, Mapping) else item for item in items]
        return prepare_by_column(
            start,
            forms,
            _CONTRACT,
            lambda first, plain: self._plain_rows(first, plain, forms),
            self._prepared,
        )

    def _plain_rows(
        self, start: int, plain: PlainColumns, forms: Sequence[Any]
    ) -> list[tuple[tuple, list[Fix]]]:
        """The rows and fixes of a chunk's plain rows, by column (see ``_prepared``)."""
        columns, count = plain.columns, len(plain.positions)
        fixes: list[list[Fix]] = [[] for _ in range(count)]
        name = read_texts(columns["full_name"])
        canonical = list(map(normalise_text, name))
        for j in compress(range(count), map(ne, canonical, name)):
            fixes[j].append(Fix("E-K1", "full_name", name[j], canonical[j]))
        personal_id = read_texts(columns["personal_id"])
        event_date = read_texts(columns["event_date"])
        rows = zip(
            [start + position for position in plain.positions],
            read_texts(columns["event_id"]),
            read_texts(columns["event_type"]),
            personal_id,
            map(birth_province, personal_id),
            canonical,
            map(name_defect, canonical),
            event_date,
            read_iso_dates(event_date),
            read_texts(columns["commune_code"]),
            read_texts(columns["registered_at"]),
            plain.read["registered_at"],
            read_texts(columns["updated_at"]),
            plain.read["updated_at"],
            columns["is_deleted"],
            [[] for _ in range(count)],  # missing_fields: a plain row has every column
            repeat(None),  # extra
            repeat(None),  # item_defect
            plain.payloads,
            repeat(None),  # payload_text
            [_content_hash(forms[position]) for position in plain.positions],
        )
        return list(zip(rows, fixes, strict=True))

    def _prepared(self, row_no: int, form: Any) -> tuple[tuple, list[Fix]]:
        """A row's received form (or what came instead of a row) → ``prepare``'s result."""
        if not isinstance(form, Mapping):
            return self._unreadable(row_no, form), []
        # The check encodes the form, which the payload is: once.
        defects, payload = _CONTRACT.check(form)
        # A form the check passed holds text or null where the contract wants text, and no
        # invalid Unicode: its text is read as it is.
        text = text_value if defects else checked_text
        fixes: list[Fix] = []
        raw_name = form.get("full_name")
        name = text(raw_name)
        canonical = normalise_text(name)
        if isinstance(raw_name, str) and canonical != name:
            fixes.append(Fix("E-K1", "full_name", name, canonical))
        personal_id = text(form.get("personal_id"))
        event_date = text(form.get("event_date"))
        registered_at = text(form.get("registered_at"))
        updated_at = text(form.get("updated_at"))
        is_deleted = form.get("is_deleted")
        extra = {k: v for k, v in form.items() if k not in DOCUMENTED_FIELDS}
        content_hash = _content_hash(form)
        row = (
            row_no,
            text(form.get("event_id")),
            text(form.get("event_type")),
            personal_id,
            birth_province(personal_id),
            canonical,
            name_defect(canonical) if canonical else None,
            event_date,
            parse_iso_date(event_date),
            text(form.get("commune_code")),
            registered_at,
            parse_rfc3339(registered_at),
            updated_at,
            parse_rfc3339(updated_at),
            is_deleted if isinstance(is_deleted, bool) else None,
            [f for f in DOCUMENTED_FIELDS if f not in form],
            storable_json(extra) if extra else None,
            "; ".join(defects) or None,
            payload,
            None if payload is not None else received_text(form),
            content_hash,
        )
        return row, fixes

    @staticmethod
    def _unreadable(row_no: int, item: Any) -> tuple:
        text = received_text(item)
        columns = dict.fromkeys(STAGING_COLUMNS)
        columns.update(
            row_no=row_no,
            missing_fields=[],
            item_defect=f"the row is {type(item).__name__}, not a mapping of columns",
            payload_text=text,
            content_hash=hashlib.md5(text.encode()).hexdigest(),
        )
        return tuple(columns[name] for name in STAGING_COLUMNS)
