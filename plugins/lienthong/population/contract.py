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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from lienthong.pipeline.contract import (
    Contract,
    Field,
    parse_iso_date,
    parse_rfc3339,
    received_text,
    storable_json,
)
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

_TWELVE_DIGITS = re.compile(r"^\d{12}$")
_CODE_WIDTH = {"province_code": 2, "commune_code": 5}


@dataclass(frozen=True)
class Fix:
    """One automatic repair of one field, with the value as received."""

    rule_id: str
    field: str
    original: str | None
    fixed: str | None


#: PostgreSQL text cannot hold U+0000; it becomes U+FFFD, which the text rules (P-K2) reject.
NUL_REPLACEMENT = "\ufffd"


def _storable(text: str) -> str:
    """Text PostgreSQL can hold: U+0000 and lone surrogates (which rule P-K5 reports) become
    replacement characters."""
    text = text.replace("\x00", NUL_REPLACEMENT)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _text(value: Any) -> str | None:
    """A string as storable text; anything else (None, a number, an object: rule P-K5 names
    the wrong types), and empty or blank strings, as None. Never a value turned into text.
    For items that passed the contract's check: no invalid Unicode to scrub."""
    if type(value) is not str or not value or value.isspace():
        return None
    return value.replace("\x00", NUL_REPLACEMENT) if "\x00" in value else value


def _scrubbed_text(value: Any) -> str | None:
    """`_text` for items that broke the contract: their text may hold lone surrogates."""
    if not isinstance(value, str) or not value.strip():
        return None
    return _storable(value)


def _stripped(value: str | None) -> str | None:
    return value.strip() if value else value


def _pad(value: str | None, width: int) -> str | None:
    """P-K4: a numeric code shorter than its width, zero-padded; anything else unchanged."""
    if value is not None and value.isdigit() and len(value) < width:
        return value.zfill(width)
    return value


def parse_timestamp(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp with a zone, else None."""
    return parse_rfc3339(value)


class Preparer:
    """Prepares items of one batch; holds the reference lookups it needs."""

    def __init__(self, codes: AddressCodes | None = None) -> None:
        self.codes = codes or address_codes()

    def prepare(self, row_no: int, item: Any) -> tuple[tuple, list[Fix]]:
        """One item → (staging row in ``STAGING_COLUMNS`` order, fixes applied)."""
        defects, payload = _CONTRACT.check(item)
        if not isinstance(item, Mapping):
            return self._unreadable(row_no, item, defects, payload), []
        # An item the fast check passed holds no invalid Unicode: its text needs no scrubbing.
        text = _text if not defects else _scrubbed_text
        fixes: list[Fix] = []

        def fix_text(field: str, value: Any, rule_id: str, repaired: str | None) -> str | None:
            if value is not None and type(value) is not str:
                return None  # a wrong type is never repaired into text: rule P-K5 names it
            # The original as received, but storable (audit.fixes is text).
            original = None if value is None else _storable(value)
            if repaired != original:
                fixes.append(Fix(rule_id, field, original, repaired))
            return repaired

        raw_name = item.get("full_name")
        full_name = text(raw_name)
        canonical_name = normalise_text(full_name)
        if canonical_name != raw_name:
            fix_text("full_name", raw_name, "P-K1", canonical_name)
        ethnicity = text(item.get("ethnicity_code"))
        padded = _pad(ethnicity, 2)
        if padded != ethnicity:
            fix_text("ethnicity_code", ethnicity, "P-K4", padded)
        addresses = []
        for key in ("permanent_address", "current_address"):
            raw = item.get(key)
            address = raw if type(raw) is dict or isinstance(raw, Mapping) else {}
            raw_detail = address.get("detail")
            detail = normalise_text(text(raw_detail))
            if detail != raw_detail:
                fix_text(f"{key}.detail", raw_detail, "P-K1", detail)
            raw_province, raw_commune = address.get("province_code"), address.get("commune_code")
            province = _pad(_stripped(text(raw_province)), 2)
            commune = _pad(_stripped(text(raw_commune)), 5)
            rule = "P-K4"
            remap = self.codes.legacy_remap(province, commune)
            if remap is not None and remap.whole:
                province, commune = remap.targets[0]
                rule = "P-L3"
            # One fix per field: the value as received, the value kept, the rule that decided it.
            if province != raw_province:
                fix_text(f"{key}.province_code", raw_province, rule, province)
            if commune != raw_commune:
                fix_text(f"{key}.commune_code", raw_commune, rule, commune)
            addresses += (province, commune, detail)

        personal_id = text(item.get("personal_id"))
        date_of_birth = text(item.get("date_of_birth"))
        date_of_death = text(item.get("date_of_death"))
        updated_at = text(item.get("updated_at"))
        sex, nationality = text(item.get("sex")), text(item.get("nationality"))
        household, marital = text(item.get("household_id")), text(item.get("marital_status"))
        if len(item) > len(DOCUMENTED_FIELDS) or not _DOCUMENTED.issuperset(item):
            extra = {k: v for k, v in item.items() if k not in _DOCUMENTED}
        else:
            extra = None
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
        content_hash = hashlib.md5(orjson.dumps(fixed_record)).hexdigest()
        row = (
            row_no,
            personal_id,
            personal_id[:3] if personal_id and _TWELVE_DIGITS.match(personal_id) else None,
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
            [f for f in DOCUMENTED_FIELDS if f not in item],
            extra_json,
            "; ".join(defects) or None,
            payload,
            None if payload is not None else received_text(item),
            content_hash,
        )
        return row, fixes

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
