"""The dossier export row contract (SOURCES.md §3) and its staging form.

A row arrives as the reader (``export_file.DossierExportReader``) read it: every value NFC
text or None, in whatever encoding, delimiter and column order the file had (rule D-K1 is
applied by the reader). ``Preparer.prepare`` turns it into one staging row: values trimmed
(names and procedure names in the canonical form of ``text.vietnamese.normalise_text``), each
change recorded as a D-K1 fix with the value as received, timestamps parsed where they are
RFC 3339, and the row kept as read in ``payload``. What keeps a row from the contract (the
reader's defects: a wrong number of fields, bytes not in the file's encoding, the file cut off
inside it; text over its limit; a timestamp that is not RFC 3339 with a zone) is named in
``item_defect`` for rule D-K1 to quarantine. Nothing here decides an outcome: the rules are the
suites in ``expectations/dossiers``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from itertools import chain

import orjson

from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS, DossierRow
from lienthong.pipeline.contract import (
    Contract,
    Field,
    is_storable_text,
    parse_rfc3339,
    received_text,
    storable_text,
    text_json,
)
from lienthong.pipeline.dataset import Fix
from lienthong.population.personal_id import birth_province
from lienthong.text.vietnamese import normalise_text

#: The row's documented fields and their types (SOURCES.md §3; limits as rule P-K5's).
CONTRACT = (
    Field("dossier_id"),
    Field("procedure_code"),
    Field("procedure_name"),
    Field("applicant_personal_id"),
    Field("applicant_name", max_length=200),
    Field("commune_code"),
    Field("channel"),
    Field("received_at", "rfc3339"),
    Field("due_at", "rfc3339"),
    Field("completed_at", "rfc3339"),
    Field("status"),
)
# Compiled once: the common case is checked without the thorough walk.
_CONTRACT = Contract(CONTRACT)

#: Text in canonical form (NFC, trimmed, inner spaces collapsed, one tone-mark placement).
CANONICAL_TEXT = ("procedure_name", "applicant_name")

#: Staging columns filled by ``prepare``, in COPY order.
STAGING_COLUMNS = (
    "row_no",
    "line_no",
    "file_day",
    "dossier_id",
    "procedure_code",
    "procedure_name",
    "applicant_personal_id",
    "pid_birth_province",
    "applicant_name",
    "commune_code",
    "channel",
    "received_at",
    "received_ts",
    "due_at",
    "due_ts",
    "completed_at",
    "completed_ts",
    "status",
    "missing_fields",
    "extra",
    "item_defect",
    "payload",
    "payload_text",
    "content_hash",
)


@dataclass(frozen=True)
class DossierItem:
    """One row of an export file, with what the whole file says about it.

    Attributes:
        row: the row as the reader read it.
        file_day: the export day of the file's name.
        missing_columns: documented columns the file's header lacks (for every row).
    """

    row: DossierRow
    file_day: date
    missing_columns: tuple[str, ...] = ()


class Preparer:
    """Prepares the rows of one dossier file."""

    def prepare(self, row_no: int, item: DossierItem) -> tuple[tuple, list[Fix]]:
        """One row → (staging row in ``STAGING_COLUMNS`` order, fixes applied)."""
        row = item.row
        fixes: list[Fix] = []
        values: dict[str, str | None] = {}
        # Text a reader could not store as it is (U+0000, a lone surrogate) is rare: looked for
        # once in the whole row rather than value by value.
        scrub = not is_storable_text(
            "".join(
                v
                for v in chain(row.values.values(), row.received.values(), row.extra.values())
                if v is not None
            )
        )
        for column in DOCUMENTED_COLUMNS:
            read = row.values.get(column)
            if read is None:
                values[column] = None
                continue
            if scrub:
                read = storable_text(read)
            fixed = normalise_text(read) if column in CANONICAL_TEXT else read.strip()
            # The value as it arrived: before NFC when the reader composed it.
            original = row.received.get(column, read)
            if scrub:
                original = storable_text(original)
            if fixed != original:
                fixes.append(Fix("D-K1", column, original, fixed))
            values[column] = fixed or None
        extra = row.extra
        if scrub:
            extra = {k: (None if v is None else storable_text(v)) for k, v in extra.items()}
        defects = [row.defect] if row.defect else []
        defects += _CONTRACT.check(values)[0]
        payload_item = {
            **{c: row.values.get(c) for c in DOCUMENTED_COLUMNS if c not in item.missing_columns},
            **row.extra,
        }
        payload = text_json(payload_item)
        pid = values["applicant_personal_id"]
        # Identical copies (D-K2) are found by this hash of the fixed row, within the batch.
        content_hash = hashlib.md5(
            orjson.dumps([values, extra], option=orjson.OPT_SORT_KEYS)
        ).hexdigest()
        staged = (
            row_no,
            row.line,
            item.file_day,
            values["dossier_id"],
            values["procedure_code"],
            values["procedure_name"],
            pid,
            birth_province(pid),
            values["applicant_name"],
            values["commune_code"],
            values["channel"],
            values["received_at"],
            parse_rfc3339(values["received_at"]),
            values["due_at"],
            parse_rfc3339(values["due_at"]),
            values["completed_at"],
            parse_rfc3339(values["completed_at"]),
            values["status"],
            list(item.missing_columns),
            text_json(extra) if extra else None,
            "; ".join(defects) or None,
            payload,
            None if payload is not None else received_text(payload_item),
            content_hash,
        )
        return staged, fixes
