"""A source's item contract: its documented fields, their types and limits, and the check that
an item keeps to them (rules P-K5, E-K3 and their kin).

Every item received becomes one staged row whatever it holds. What the contract cannot vouch
for (an item that is not an object, a field of the wrong type, text over its limit, invalid
Unicode, NaN or Infinity, nesting beyond a sane depth, a key given twice, a timestamp that is
not RFC 3339 with a zone) is named in the row's ``item_defect`` and quarantined by the
dataset's rule; the item itself is kept as received (``payload``, or ``payload_text`` when it
cannot be stored as JSON).
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import orjson

#: How deep an item may nest objects and arrays (the contract's items nest two levels).
MAX_DEPTH = 32

#: Text limit of a field unless the contract says otherwise (names say 200).
TEXT_LIMIT = 1000

Kind = Literal["string", "object", "rfc3339", "iso_date", "date", "timestamp", "boolean"]

# RFC 3339 date-time with a zone (Z or ±hh:mm); Python's fromisoformat alone also takes ISO week
# dates and times without a zone, which the contract does not allow. The fraction may have any
# number of digits (RFC 3339's time-secfrac is "." 1*DIGIT); those past the sixth are dropped.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class RawItem:
    """An item that could not be decoded (e.g. nested too deep to parse): kept as the text
    received, and quarantined with ``reason``."""

    text: str
    reason: str


@dataclass(frozen=True)
class Field:
    """One documented field of an item.

    Attributes:
        name: the field's name in the item.
        kind: what the source sends: ``string``; ``object`` (with ``fields``); ``rfc3339``
            (a string holding an RFC 3339 timestamp with a zone); ``iso_date`` (a string
            holding a real ``YYYY-MM-DD`` date); ``date``, ``timestamp`` and ``boolean`` for
            values sent typed.
        nullable: whether null is of the contract's type. Whether a nullable value must be
            *present* is a sufficiency rule of its own, not a type question; a field that is
            not nullable may not be absent either.
        max_length: the longest text allowed (strings only).
        fields: an object's own fields.
    """

    name: str
    kind: Kind = "string"
    nullable: bool = True
    max_length: int = TEXT_LIMIT
    fields: tuple[Field, ...] = field(default=())


#: PostgreSQL text cannot hold U+0000: it becomes U+FFFD, which the rules on names reject.
NUL_REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    """Text PostgreSQL can hold: U+0000 and lone surrogates (which the contract check
    reports) become replacement characters."""
    if "\x00" in text:
        text = text.replace("\x00", NUL_REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def is_storable_text(text: str) -> bool:
    """Whether ``text`` is storable as it is (`storable_text` would keep it unchanged): no
    U+0000 and no lone surrogate."""
    return "\x00" not in text and not _has_surrogate(text)


def text_value(value: Any) -> str | None:
    """A string value as storable text; anything else (None, a number, an object: the contract
    check names wrong types) and blank strings as None. Never a value turned into text.

    For an item the contract check passed, `checked_text` reads the same, faster."""
    if type(value) is not str or not value or value.isspace():
        return None
    return storable_text(value)


def checked_text(value: str | None) -> str | None:
    """`text_value` of a documented text field of an item the contract check passed (a string
    with no lone surrogate, or None): one positional call, for preparers that read many."""
    if not value or value.isspace():
        return None
    return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value


def parse_rfc3339(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with a zone as an aware datetime, else None."""
    if not isinstance(value, str):
        return None
    return _parse_rfc3339_text(value)


# A preparer reads each timestamp twice in a row, checking the contract and then filling its
# column: the second reading is the first's (a tenth of a population item's preparation).
@functools.lru_cache(maxsize=16)
def _parse_rfc3339_text(value: str) -> datetime | None:
    if not _RFC3339.match(value):
        return None
    text = value
    if not ("T" in text and text[-1] != "z"):
        text = text.replace("z", "Z").replace("t", "T").replace(" ", "T", 1)
    if "." in text and len(text.split(".", 1)[1]) > 7:
        # Python 3.11 reads at most six fractional digits.
        text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_iso_date(value: Any) -> date | None:
    """A real calendar date written ``YYYY-MM-DD``, else None."""
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def read_rfc3339(values: Sequence[Any]) -> list[datetime | None]:
    """`parse_rfc3339` of each value (None stays None), a column at a time.

    Texts written the common way (ASCII digits, ``T``, at most six fractional digits, ``Z`` or
    an offset: what `parse_rfc3339` hands to ``datetime.fromisoformat`` as it is) are vouched
    for by one regular expression over the column and read by fromisoformat in C: a chunk's
    column of timestamps in a quarter of the time. Any other value is read on its own."""
    return _read_column(values, _COMMON_TIMESTAMPS, datetime.fromisoformat, parse_rfc3339)


def read_iso_dates(values: Sequence[Any]) -> list[date | None]:
    """`parse_iso_date` of each value (None stays None), a column at a time, as
    `read_rfc3339` reads timestamps."""
    return _read_column(values, _COMMON_DATES, date.fromisoformat, parse_iso_date)


def _lines_of(line: str) -> re.Pattern[str]:
    """As many texts of the form ``line`` as there are, each followed by a line break."""
    return re.compile(f"(?:{line}\n)*")


_COMMON_TIMESTAMPS = _lines_of(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_COMMON_DATES = _lines_of(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


#: Texts not of the common form that `_read_column` looks past, a run of common ones after
#: each, before it reads the rest of the column value by value.
_ODD_AT_MOST = 32


def _read_column(
    values: Sequence[Any],
    common: re.Pattern[str],
    read_common: Callable[[str], Any],
    read_one: Callable[[Any], Any],
) -> list[Any]:
    texts = values if None not in values else [value for value in values if value is not None]
    if not texts or set(map(type, texts)) != {str}:
        return list(map(read_one, values))
    joined = "\n".join(texts) + "\n"
    if joined.count("\n") != len(texts):  # a text holding a line break would pass for two
        return list(map(read_one, values))
    # The texts are read a run of common ones at a time, in C, and each other one on its
    # own: one odd or impossible date in a chunk (the population bench's defects put one in
    # nearly every chunk) left the whole column to be read value by value, at four times
    # the cost.
    read: list[Any] = []
    at, odd = 0, 0
    while len(read) < len(texts):
        if odd == _ODD_AT_MOST:  # a column of other forms: the rest value by value
            read += map(read_one, texts[len(read) :])
            break
        run = common.match(joined, at)
        end = len(read) + joined.count("\n", at, run.end())
        common_texts = iter(texts[len(read) : end])
        while True:
            try:
                # A list keeps what ``extend`` appended before an error: the run is resumed
                # past the text that raised it.
                read.extend(map(read_common, common_texts))
                break
            except ValueError:  # a day or an hour that does not exist: its own reading
                read.append(read_one(texts[len(read)]))
        if end < len(texts):  # else every text is read
            read.append(read_one(texts[end]))
            odd += 1
            at = run.end() + len(texts[end]) + 1
    if texts is values:
        return read
    found = iter(read)
    return [None if value is None else next(found) for value in values]


def item_defects(item: Any, fields: Sequence[Field], *, max_depth: int = MAX_DEPTH) -> list[str]:
    """What keeps ``item`` from the contract, each naming its field; empty when it keeps to it."""
    if isinstance(item, RawItem):
        return [f"the item cannot be read: {item.reason}"]
    if not isinstance(item, Mapping):
        return [f"the item is {_json_type(item)}, not an object"]
    defects: list[str] = []
    _check_object(item, fields, "", defects)
    _check_values(item, "", 1, max_depth, defects)
    return defects


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


def _check_object(
    item: Mapping[str, Any], fields: Sequence[Field], prefix: str, defects: list[str]
) -> None:
    # Set by JSON decoders that keep track of keys given twice (ministry.page.DuplicateKeys).
    duplicates = getattr(item, "duplicate_keys", ())
    defects += [f"{prefix}{key}: the key occurs more than once" for key in duplicates]
    for spec in fields:
        if spec.name not in item:
            # Absence is the sufficiency rules' business, but a field that may never be null
            # (core requires it) may not be absent either: the row could not be published,
            # not even in a batch an operator approves as it stands.
            if not spec.nullable:
                defects.append(f"{prefix}{spec.name}: absent where the contract wants {spec.kind}")
            continue
        name, value = prefix + spec.name, item[spec.name]
        if value is None:
            if not spec.nullable:
                defects.append(f"{name}: null where the contract wants {spec.kind}")
            continue
        problem = _type_problem(spec, value)
        if problem:
            defects.append(f"{name}: {problem}")
        elif spec.kind == "object":
            _check_object(value, spec.fields, name + ".", defects)


def _type_problem(spec: Field, value: Any) -> str | None:
    kind = spec.kind
    if kind in ("string", "rfc3339", "iso_date"):
        if not isinstance(value, str):
            return f"{_json_type(value)} where the contract wants a string"
        if len(value) > spec.max_length:
            return f"text of {len(value)} characters, over the limit of {spec.max_length}"
        if kind == "rfc3339" and parse_rfc3339(value) is None:
            return f"{_short(value)} is not an RFC 3339 timestamp with a zone"
        if kind == "iso_date" and parse_iso_date(value) is None:
            return f"{_short(value)} is not a real date (YYYY-MM-DD)"
        return None
    if kind == "object":
        return None if isinstance(value, Mapping) else f"{_json_type(value)}, not an object"
    if kind == "boolean":
        return None if isinstance(value, bool) else f"{_short(value)} is not a boolean"
    if kind == "timestamp":
        return None if isinstance(value, datetime) else f"{_short(value)} is not a timestamp"
    if kind == "date":
        ok = isinstance(value, date) and not isinstance(value, datetime)
        return None if ok else f"{_short(value)} is not a date"
    raise ValueError(f"unknown field kind {kind!r}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_values(value: Any, path: str, depth: int, max_depth: int, defects: list[str]) -> None:
    """Invalid Unicode, NaN/Infinity and excessive nesting anywhere in the item."""
    if isinstance(value, str):
        if _has_surrogate(value):
            defects.append(f"{path or 'the item'}: invalid Unicode (a lone surrogate)")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            defects.append(f"{path or 'the item'}: {value!r} is not a JSON number")
        return
    if isinstance(value, Mapping | list | tuple):
        if depth > max_depth:
            defects.append(f"{path or 'the item'}: nested deeper than {max_depth} levels")
            return
        children = value.items() if isinstance(value, Mapping) else enumerate(value)
        for key, child in children:
            if isinstance(key, str) and _has_surrogate(key):
                defects.append(f"{path or 'the item'}: a key holds invalid Unicode")
            child_path = f"{path}.{key}" if path and isinstance(key, str) else f"{path}[{key}]"
            if not path and isinstance(key, str):
                child_path = key
            _check_values(child, child_path, depth + 1, max_depth, defects)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def storable_json(item: Any) -> str | None:
    """The item as JSON text that PostgreSQL's jsonb accepts, or None when it cannot be
    (NaN, invalid Unicode, a RawItem, nesting jsonb refuses): then it is kept as text.

    U+0000, which jsonb refuses, becomes U+FFFD (rules on names reject it)."""
    if isinstance(item, RawItem):
        return None
    try:
        text = json.dumps(item, ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return None
    return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def text_json(item: Mapping[str, str | None]) -> str | None:
    """`storable_json` of an object whose values are text or None (a row read from a file),
    by orjson: for text alone its encoding is exact (the NaN it would write as null cannot
    occur) and several times faster than the standard library's."""
    return _fast_json(item)


class Contract:
    """A contract's fields, compiled for checking many items fast.

    The common case, an item that keeps to the contract, costs one JSON encoding (which the
    payload needs anyway) and a look at each documented field, by a function written for the
    contract's fields (`_compile_plain`); anything unusual (a subclass marking duplicate keys,
    a container among the undocumented fields, a value the encoder refuses) takes the
    thorough path of `item_defects`, which names every problem.
    """

    def __init__(self, fields: Sequence[Field], *, max_depth: int = MAX_DEPTH) -> None:
        self.fields = tuple(fields)
        self.max_depth = max_depth
        self._plain = _compile_plain(self.fields)

    def check(self, item: Any) -> tuple[list[str], str | None]:
        """(what keeps ``item`` from the contract, its payload as storable JSON text or None
        when it must be kept as text)."""
        payload = _fast_json(item)
        if payload is None or type(item) is not dict or not self._plain(item):
            # orjson writes NaN as null: the item as received is encoded again, strictly.
            return item_defects(item, self.fields, max_depth=self.max_depth), storable_json(item)
        return [], payload


def _compile_plain(fields: Sequence[Field]) -> Callable[[dict], bool]:
    """A function telling whether an item (a dict) is plain: every field of its type and within
    its limit, and nothing else in it that needs a closer look (so that the thorough check
    would find nothing).

    Written out field by field and compiled once per contract, as `dataclasses` writes a
    class's ``__init__``: a loop over the fields, unpacking each one's description for every
    item, cost a fifth of a population item's preparation, twice what the same tests cost
    written out."""
    lines = ["def plain(item):"]
    names: dict[str, Any] = {
        "_type_problem": _type_problem,
        "_unusual": _unusual,
        "_rfc3339": _parse_rfc3339_text,
        "_iso_date": parse_iso_date,
    }
    local_names = itertools.count()

    def name(value: Any) -> str:
        """A global name of the compiled function, bound to ``value``."""
        key = f"_c{len(names)}"
        names[key] = value
        return key

    def write(target: str, fields: Sequence[Field], indent: str) -> None:
        for spec in fields:
            value = f"_v{next(local_names)}"
            lines.append(f"{indent}{value} = {target}.get({spec.name!r})")
            text = f"type({value}) is not str or len({value}) > {int(spec.max_length)}"
            # The kinds items usually hold are tested here as `_type_problem` tests them; the
            # others (values sent typed) by calling it.
            if spec.kind == "string":
                wrong = text
            elif spec.kind == "rfc3339":
                wrong = f"{text} or _rfc3339({value}) is None"
            elif spec.kind == "iso_date":
                wrong = f"{text} or _iso_date({value}) is None"
            elif spec.kind == "boolean":
                wrong = f"type({value}) is not bool"
            elif spec.kind == "object":
                wrong = f"type({value}) is not dict"
            else:
                wrong = f"_type_problem({name(spec)}, {value}) is not None"
            if spec.nullable:
                lines.append(f"{indent}if {value} is not None:")
                inner = indent + "    "
            else:
                lines.append(f"{indent}if {value} is None:")
                lines.append(f"{indent}    return False")
                inner = indent
            lines.append(f"{inner}if {wrong}:")
            lines.append(f"{inner}    return False")
            if spec.kind == "object":
                write(value, spec.fields, inner)
        known = name(frozenset(spec.name for spec in fields))
        lines.append(
            f"{indent}if len({target}) > {len(fields)} or not {known}.issuperset({target}):"
        )
        lines.append(
            f"{indent}    if any(_unusual(v) for k, v in {target}.items() if k not in {known}):"
        )
        lines.append(f"{indent}        return False")

    write("item", fields, "    ")
    lines.append("    return True")
    exec("\n".join(lines), names)  # our own text, from the contract's fields
    return names["plain"]


def _unusual(value: Any) -> bool:
    """A value outside the documented fields that the thorough check must look at: a
    container (depth, duplicate keys inside) or a float that JSON cannot hold."""
    if isinstance(value, dict | list | tuple):
        return True
    return type(value) is float and not math.isfinite(value)


def _fast_json(item: Any) -> str | None:
    """orjson's encoding of an item, or None where it refuses it (invalid Unicode, a value it
    does not know). It writes NaN as null, which is why `Contract` looks at floats itself."""
    try:
        text = orjson.dumps(item).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None
    return _JSON_NUL.sub(r"\1\\ufffd", text) if "\\u0000" in text else text


def received_text(item: Any) -> str:
    """The item as received, as text, for ``payload_text`` when it cannot be stored as JSON:
    JSON with every non-ASCII character escaped (so lone surrogates survive), NaN as NaN."""
    if isinstance(item, RawItem):
        return (
            item.text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")
        )
    try:
        return json.dumps(item, ensure_ascii=True, allow_nan=True, default=str)
    except (ValueError, RecursionError):
        return repr(item)


# \u0000 not preceded by an escaped backslash (an odd run of backslashes ends with the escape).
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
