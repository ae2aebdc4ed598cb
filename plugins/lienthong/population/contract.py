"""The population item contract (SOURCES.md §1) and its staging form.

``prepare`` turns one API item into one staging row: automatic fixes applied
(P-K1 canonical text, P-K4 padded codes, P-L3 whole remaps) and recorded with
their original values, typed columns parsed where the text is valid, and the
item kept exactly as received. Whatever the item holds it becomes a row: what
keeps it from the contract's types (rule P-K5) is named in ``item_defect``, and
a value of the wrong type is never turned into text. Rules that quarantine or
hold are not decided here: they are the Great Expectations suites in
``expectations/population``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from itertools import compress, repeat
from operator import ne
from typing import Any

import orjson

from lienthong.pipeline.columns import PlainColumns, per_distinct, prepare_by_column, read_texts
from lienthong.pipeline.contract import (
    Contract,
    Field,
    checked_text,
    parse_iso_date,
    parse_rfc3339,
    read_iso_dates,
    received_text,
    storable_json,
    storable_text,
    text_value,
)
from lienthong.pipeline.dataset import Fix
from lienthong.population.personal_id import birth_province
from lienthong.reference.address_codes import AddressCodes, address_codes
from lienthong.text.vietnamese import name_defect, normalise_text

ADDRESS_FIELDS = ("province_code", "commune_code", "detail")

_ADDRESS = tuple(Field(name) for name in ADDRESS_FIELDS)

#: The citizen item's documented fields and types (SOURCES.md §1; limits from rule P-K5).
#: Presence is the sufficiency rules' business (P-S1, P-S3), so null passes the type check,
#: except for updated_at, which every version of a record must carry.
CONTRACT = (
    Field("personal_id"),
    Field("full_name", max_length=200),
    Field("date_of_birth"),
    Field("sex"),
    Field("ethnicity_code"),
    Field("nationality"),
    Field("permanent_address", "object", fields=_ADDRESS),
    Field("current_address", "object", fields=_ADDRESS),
    Field("household_id"),
    Field("marital_status"),
    Field("date_of_death"),
    Field("updated_at", "rfc3339", nullable=False),
)
_CONTRACT = Contract(CONTRACT)

#: Every documented field of a citizen item.
DOCUMENTED_FIELDS = (
    "personal_id",
    "full_name",
    "date_of_birth",
    "sex",
    "ethnicity_code",
    "nationality",
    "permanent_address",
    "current_address",
    "household_id",
    "marital_status",
    "date_of_death",
    "updated_at",
)

_DOCUMENTED = frozenset(DOCUMENTED_FIELDS)
_ADDRESS_KEYS = frozenset(ADDRESS_FIELDS)

#: Staging columns filled by ``prepare``, in COPY order.
STAGING_COLUMNS = (
    "row_no",
    "personal_id",
    "pid_birth_province",
    "full_name",
    "full_name_defect",
    "date_of_birth",
    "dob",
    "sex",
    "ethnicity_code",
    "nationality",
    "perm_province_code",
    "perm_commune_code",
    "perm_detail",
    "cur_province_code",
    "cur_commune_code",
    "cur_detail",
    "household_id",
    "marital_status",
    "date_of_death",
    "dod",
    "updated_at",
    "updated_ts",
    "missing_fields",
    "extra",
    "item_defect",
    "payload",
    "payload_text",
    "content_hash",
)

_CODE_WIDTH = {"province_code": 2, "commune_code": 5}


def _pad(value: str | None, width: int) -> str | None:
    """P-K4: a numeric code shorter than its width, zero-padded; anything else unchanged."""
    if value is not None and value.isdigit() and len(value) < width:
        return value.zfill(width)
    return value


def _code(value: Any, width: int, text: Callable[[Any], str | None]) -> str | None:
    """An address code as staged: its text (read by ``text``), trimmed, P-K4 padded."""
    if type(value) is str and len(value) == width and value.isdigit():
        return value  # the common code, already canonical
    value = text(value)
    return _pad(value.strip() if value else value, width)


def _province_code(value: Any) -> str | None:
    return _code(value, 2, checked_text)


def _commune_code(value: Any) -> str | None:
    return _code(value, 5, checked_text)


def _fix(fixes: list[Fix], field: str, value: Any, rule_id: str, repaired: str | None) -> None:
    """Record a fix of ``field`` from ``value`` as received to ``repaired`` by ``rule_id``."""
    if value is not None and type(value) is not str:
        return  # a wrong type is never repaired into text: rule P-K5 names it
    # The original as received, but storable (audit.fixes is text).
    original = None if value is None else storable_text(value)
    if repaired != original:
        fixes.append(Fix(rule_id, field, original, repaired))


def parse_timestamp(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp with a zone, else None."""
    return parse_rfc3339(value)


def _content_hash(fixed_record: tuple) -> str:
    """The hash identical copies of a record share (rule P-K3): of its fixed values."""
    return hashlib.md5(orjson.dumps(fixed_record)).hexdigest()


class Preparer:
    """Prepares items of one batch; holds the reference lookups it needs."""

    def __init__(self, codes: AddressCodes | None = None) -> None:
        self.codes = codes or address_codes()
        # A batch's codes and places as kept, each worked out once (`per_distinct`): a
        # province holds a few thousand communes, and each chunk names most of them again.
        self._provinces: dict[Any, str | None] = {}
        self._communes: dict[Any, str | None] = {}
        self._places: dict[tuple[Any, Any], tuple[Any, Any, str]] = {}

    def prepare(self, row_no: int, item: Any) -> tuple[tuple, list[Fix]]:
        """One item → (staging row in ``STAGING_COLUMNS`` order, fixes applied)."""
        defects, payload = _CONTRACT.check(item)
        if not isinstance(item, Mapping):
            return self._unreadable(row_no, item, defects, payload), []
        # An item the check passed holds text or null where the contract wants text, and no
        # invalid Unicode: its text is read as it is, by one positional call.
        text = text_value if defects else checked_text
        fixes: list[Fix] = []

        raw_name = item.get("full_name")
        full_name = text(raw_name)
        canonical_name = normalise_text(full_name)
        if canonical_name != raw_name:
            _fix(fixes, "full_name", raw_name, "P-K1", canonical_name)
        ethnicity = text(item.get("ethnicity_code"))
        padded = _pad(ethnicity, 2)
        if padded != ethnicity:
            _fix(fixes, "ethnicity_code", ethnicity, "P-K4", padded)
        addresses = []
        # An address's fields are documented too (SOURCES.md §1): one gone is missing (P-S3),
        # one new is recorded and kept, both named by their path ("permanent_address.geo").
        address_missing: list[str] = []
        address_extra: dict[str, Any] = {}
        for key in ("permanent_address", "current_address"):
            raw = item.get(key)
            address = raw if type(raw) is dict or isinstance(raw, Mapping) else {}
            if address is raw and not (len(raw) == 3 and _ADDRESS_KEYS.issuperset(raw)):
                address_missing += [f"{key}.{f}" for f in ADDRESS_FIELDS if f not in raw]
                address_extra.update(
                    (f"{key}.{k}", v) for k, v in raw.items() if k not in _ADDRESS_KEYS
                )
            raw_detail = address.get("detail")
            detail = normalise_text(text(raw_detail))
            if detail != raw_detail:
                _fix(fixes, f"{key}.detail", raw_detail, "P-K1", detail)
            raw_province, raw_commune = address.get("province_code"), address.get("commune_code")
            province = _code(raw_province, 2, text)
            commune = _code(raw_commune, 5, text)
            province, commune, rule = self._placed(province, commune)
            # One fix per field: the value as received, the value kept, the rule that decided it.
            if province != raw_province:
                _fix(fixes, f"{key}.province_code", raw_province, rule, province)
            if commune != raw_commune:
                _fix(fixes, f"{key}.commune_code", raw_commune, rule, commune)
            addresses += (province, commune, detail)

        personal_id = text(item.get("personal_id"))
        date_of_birth = text(item.get("date_of_birth"))
        date_of_death = text(item.get("date_of_death"))
        updated_at = text(item.get("updated_at"))
        sex, nationality = text(item.get("sex")), text(item.get("nationality"))
        household, marital = text(item.get("household_id")), text(item.get("marital_status"))
        if (
            len(item) == len(DOCUMENTED_FIELDS)
            and _DOCUMENTED.issuperset(item)
            and not (address_missing or address_extra)
        ):
            extra, missing = None, []  # the common item: every field, and nothing else
        else:
            extra = {k: v for k, v in item.items() if k not in _DOCUMENTED} | address_extra
            missing = [f for f in DOCUMENTED_FIELDS if f not in item] + address_missing
        extra_json = storable_json(extra) if extra else None
        # Identical copies of a record (P-K3) are found by this hash of the fixed values.
        fixed_record = (
            personal_id,
            canonical_name,
            date_of_birth,
            sex,
            padded,
            nationality,
            *addresses,
            household,
            marital,
            date_of_death,
            updated_at,
            extra_json if extra_json is not None else (received_text(extra) if extra else None),
        )
        content_hash = _content_hash(fixed_record)
        row = (
            row_no,
            personal_id,
            birth_province(personal_id),
            canonical_name,
            name_defect(canonical_name) if canonical_name else None,
            date_of_birth,
            parse_iso_date(date_of_birth),
            sex,
            padded,
            nationality,
            *addresses,
            household,
            marital,
            date_of_death,
            parse_iso_date(date_of_death),
            updated_at,
            parse_rfc3339(updated_at),
            missing,
            extra_json,
            "; ".join(defects) or None,
            payload,
            None if payload is not None else received_text(item),
            content_hash,
        )
        return row, fixes

    def prepare_many(self, start: int, items: Sequence[Any]) -> list[tuple[tuple, list[Fix]]]:
        """``prepare`` of each item of a chunk, numbered from ``start``: the same rows and fixes,
        the plain items read by column (`lienthong.pipeline.columns`), the others one by one.

        What ``prepare`` decides per item is decided here per column, in the same order, by
        the same functions: canonical text (P-K1) and codes (P-K4) once per distinct value, a
        remap (P-L3) once per distinct pair, each fix only where a value changed."""
        return prepare_by_column(start, items, _CONTRACT, self._plain_rows, self.prepare)

    def _plain_rows(self, start: int, plain: PlainColumns) -> list[tuple[tuple, list[Fix]]]:
        """The rows and fixes of a chunk's plain items, by column (see ``prepare``)."""
        columns, count = plain.columns, len(plain.positions)
        fixes: list[list[Fix]] = [[] for _ in range(count)]

        def fix_changed(field: str, received: Any, kept: Any, rule: Any) -> None:
            # Only where a value changed: `_fix` decides as ``prepare`` has it decide.
            rules = repeat(rule) if isinstance(rule, str) else rule
            for j, rule_id in compress(enumerate(rules), map(ne, kept, received)):
                _fix(fixes[j], field, received[j], rule_id, kept[j])

        raw_name = columns["full_name"]
        canonical_name = list(map(normalise_text, read_texts(raw_name)))
        fix_changed("full_name", raw_name, canonical_name, "P-K1")
        ethnicity = read_texts(columns["ethnicity_code"])
        padded = per_distinct(ethnicity, lambda value: _pad(value, 2))
        fix_changed("ethnicity_code", ethnicity, padded, "P-K4")
        addresses: list[Sequence[Any]] = []
        for key in ("permanent_address", "current_address"):
            raw_detail = columns[f"{key}.detail"]
            detail = list(map(normalise_text, read_texts(raw_detail)))
            fix_changed(f"{key}.detail", raw_detail, detail, "P-K1")
            raw_province = columns[f"{key}.province_code"]
            raw_commune = columns[f"{key}.commune_code"]
            pairs = list(
                zip(
                    per_distinct(raw_province, _province_code, self._provinces),
                    per_distinct(raw_commune, _commune_code, self._communes),
                    strict=True,
                )
            )
            placed = per_distinct(pairs, self._place, self._places)
            province, commune, rule = zip(*placed, strict=True)
            fix_changed(f"{key}.province_code", raw_province, province, rule)
            fix_changed(f"{key}.commune_code", raw_commune, commune, rule)
            addresses += (province, commune, detail)

        personal_id = read_texts(columns["personal_id"])
        date_of_birth = read_texts(columns["date_of_birth"])
        date_of_death = read_texts(columns["date_of_death"])
        updated_at = read_texts(columns["updated_at"])
        sex, nationality = read_texts(columns["sex"]), read_texts(columns["nationality"])
        household = read_texts(columns["household_id"])
        marital = read_texts(columns["marital_status"])
        fixed_records = zip(
            personal_id,
            canonical_name,
            date_of_birth,
            sex,
            padded,
            nationality,
            *addresses,
            household,
            marital,
            date_of_death,
            updated_at,
            repeat(None),  # a plain item has no extra field
        )
        content_hash = list(map(_content_hash, fixed_records))
        rows = zip(
            [start + position for position in plain.positions],
            personal_id,
            map(birth_province, personal_id),
            canonical_name,
            map(name_defect, canonical_name),
            date_of_birth,
            read_iso_dates(date_of_birth),
            sex,
            padded,
            nationality,
            *addresses,
            household,
            marital,
            date_of_death,
            read_iso_dates(date_of_death),
            updated_at,
            plain.read["updated_at"],
            [[] for _ in range(count)],  # missing_fields: a plain item has every field
            repeat(None),  # extra
            repeat(None),  # item_defect
            plain.payloads,
            repeat(None),  # payload_text
            content_hash,
        )
        return list(zip(rows, fixes, strict=True))

    def _place(self, pair: tuple[str | None, str | None]) -> tuple[Any, Any, str]:
        return self._placed(*pair)

    def _placed(self, province: str | None, commune: str | None) -> tuple[Any, Any, str]:
        """An address's codes as kept, and the rule that decided them: a pre-2025 commune
        that went whole is remapped (P-L3); a current one (nearly every one) needs no remap
        lookup."""
        if (province, commune) in self.codes.current:
            return province, commune, "P-K4"
        remap = self.codes.legacy_remap(province, commune)
        if remap is not None and remap.whole:
            return *remap.targets[0], "P-L3"
        return province, commune, "P-K4"

    @staticmethod
    def _unreadable(row_no: int, item: Any, defects: list[str], payload: str | None) -> tuple:
        """The row of an item that is not an object: nothing to read from it but itself."""
        text = received_text(item)
        columns = dict.fromkeys(STAGING_COLUMNS)
        columns.update(
            row_no=row_no,
            # Not "fields missing" (P-S3, which holds the batch): an item that is not an
            # object is one poison item, quarantined by P-K5 alone.
            missing_fields=[],
            item_defect="; ".join(defects),
            payload=payload,
            payload_text=None if payload is not None else text,
            content_hash=hashlib.md5(text.encode()).hexdigest(),
        )
        return tuple(columns[name] for name in STAGING_COLUMNS)
