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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain, compress, repeat
from operator import ne

import orjson

from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS, DossierRow
from lienthong.pipeline.columns import PlainColumns, per_distinct, prepare_by_column
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

_LIMITS = {spec.name: spec.max_length for spec in CONTRACT}
_TIMESTAMPS = tuple(spec.name for spec in CONTRACT if spec.kind == "rfc3339")

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
        content_hash = _content_hash(values, extra)
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

    def prepare_many(
        self, start: int, items: Sequence[DossierItem]
    ) -> list[tuple[tuple, list[Fix]]]:
        """``prepare`` of each row of a chunk, numbered from ``start``: the same rows and
        fixes, the plain rows read by column (`lienthong.pipeline.columns`), the others one by
        one.

        A row is read by column when the reader found nothing to say of it (no defect, no
        extra column, nothing renormalised, no column missing from the file, no U+0000) and
        its values as read keep plainly to the contract. Its fixes are then made a column at
        a time: canonical text once per distinct value, trimming in C."""
        forms = [_plain_form(item) for item in items]
        values = chain.from_iterable(form.values() for form in forms if type(form) is dict)
        if "\x00" in "".join(filter(None, values)):
            # U+0000, made storable by ``prepare`` (everywhere in its row): rare, one by one.
            forms = [
                form
                if type(form) is not dict or "\x00" not in "".join(filter(None, form.values()))
                else item
                for form, item in zip(forms, items, strict=True)
            ]
        return prepare_by_column(
            start,
            forms,
            _CONTRACT,
            lambda first, plain: self._plain_rows(first, plain, items),
            lambda row_no, _form: self.prepare(row_no, items[row_no - start]),
        )

    def _plain_rows(
        self, start: int, plain: PlainColumns, items: Sequence[DossierItem]
    ) -> list[tuple[tuple, list[Fix]]]:
        """The rows and fixes of a chunk's plain rows, by column (see ``prepare``)."""
        count = len(plain.positions)
        fixes: list[list[Fix]] = [[] for _ in range(count)]
        fixed: dict[str, Sequence[str | None]] = {}
        # Rows whose fixed values the contract check would still name (text that NFC made
        # longer than its limit): left to ``prepare``, which names them.
        again: set[int] = set()
        for column in DOCUMENTED_COLUMNS:
            read = plain.columns[column]
            if column in CANONICAL_TEXT:
                kept = per_distinct(read, normalise_text)
            elif None in read:
                kept = [None if value is None else value.strip() for value in read]
            else:
                kept = list(map(str.strip, read))
            for j in compress(range(count), map(ne, kept, read)):
                if read[j] is not None:
                    fixes[j].append(Fix("D-K1", column, read[j], kept[j]))
                    if column in _TIMESTAMPS:
                        again.add(j)  # never: a timestamp that reads has no space around it
            limit = _LIMITS[column]
            if max(map(len, filter(None, kept)), default=0) > limit:
                again.update(j for j, value in enumerate(kept) if value and len(value) > limit)
            fixed[column] = kept if all(kept) else [value or None for value in kept]
        values = list(zip(*(fixed[column] for column in DOCUMENTED_COLUMNS), strict=True))
        pid = fixed["applicant_personal_id"]
        rows = zip(
            [start + position for position in plain.positions],
            [items[position].row.line for position in plain.positions],
            [items[position].file_day for position in plain.positions],
            fixed["dossier_id"],
            fixed["procedure_code"],
            fixed["procedure_name"],
            pid,
            map(birth_province, pid),
            fixed["applicant_name"],
            fixed["commune_code"],
            fixed["channel"],
            fixed["received_at"],
            plain.read["received_at"],
            fixed["due_at"],
            plain.read["due_at"],
            fixed["completed_at"],
            plain.read["completed_at"],
            fixed["status"],
            [[] for _ in range(count)],  # missing_fields: a plain row's file has every column
            repeat(None),  # extra
            repeat(None),  # item_defect
            plain.payloads,
            repeat(None),  # payload_text
            [_content_hash(dict(zip(DOCUMENTED_COLUMNS, row, strict=True)), {}) for row in values],
        )
        prepared = list(zip(rows, fixes, strict=True))
        for j in again:
            position = plain.positions[j]
            prepared[j] = self.prepare(start + position, items[position])
        return prepared


def _plain_form(item: DossierItem) -> dict[str, str | None] | DossierItem:
    """A row's documented values as the payload holds them, where the reader found nothing
    to say of the row; else the item itself (prepared one by one)."""
    row = item.row
    if row.defect or row.extra or row.renormalised or row.received or item.missing_columns:
        return item
    if tuple(row.values) == DOCUMENTED_COLUMNS:
        return row.values  # as the reader makes it: every column, in documented order
    return {column: row.values.get(column) for column in DOCUMENTED_COLUMNS}


def _content_hash(values: dict[str, str | None], extra: dict[str, str | None]) -> str:
    """Identical copies (D-K2) are found by this hash of the fixed row, within the batch."""
    return hashlib.md5(orjson.dumps([values, extra], option=orjson.OPT_SORT_KEYS)).hexdigest()
