"""A dossier row prepared for staging: text a reader could not store (U+0000) is made storable
wherever it stands, in the columns, the fixes, the payload and the extra columns; identical
rows share a hash, different ones do not."""

from __future__ import annotations

import json
from datetime import date

from lienthong.dossiers.contract import STAGING_COLUMNS, DossierItem, Preparer
from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS, DossierRow

VALUES = {
    "dossier_id": "HS-0001",
    "procedure_code": "1.001",
    "procedure_name": "Đăng ký khai sinh",
    "applicant_personal_id": "001203012345",
    "applicant_name": "Nguyễn Thị Lan",
    "commune_code": "00004",
    "channel": "online",
    "received_at": "2026-11-20T08:15:00+07:00",
    "due_at": "2026-11-25T17:00:00+07:00",
    "completed_at": None,
    "status": "received",
}


def _prepare(values: dict, extra: dict | None = None, received: dict | None = None):
    row = DossierRow(line=2, values=values, extra=extra or {}, received=received or {})
    staged, fixes = Preparer().prepare(1, DossierItem(row, date(2026, 11, 20)))
    return dict(zip(STAGING_COLUMNS, staged, strict=True)), fixes


def test_a_clean_row_is_staged_as_read():
    staged, fixes = _prepare(VALUES, extra={"note": "ưu tiên"})

    assert fixes == []
    assert [staged[c] for c in DOCUMENTED_COLUMNS] == list(VALUES.values())
    assert json.loads(staged["payload"]) == {**VALUES, "note": "ưu tiên"}
    assert json.loads(staged["extra"]) == {"note": "ưu tiên"}
    assert staged["item_defect"] is None and staged["payload_text"] is None


def test_text_with_u0000_is_stored_with_a_replacement_character_everywhere():
    values = {**VALUES, "applicant_name": " Nguyễn\x00Lan "}
    staged, fixes = _prepare(values, extra={"note": "a\x00b"})

    assert staged["applicant_name"] == "Nguyễn\ufffdLan"
    assert [(f.rule_id, f.field, f.original, f.fixed) for f in fixes] == [
        ("D-K1", "applicant_name", " Nguyễn\ufffdLan ", "Nguyễn\ufffdLan")
    ]
    assert json.loads(staged["extra"]) == {"note": "a\ufffdb"}
    payload = json.loads(staged["payload"])
    assert payload["applicant_name"] == " Nguyễn\ufffdLan " and payload["note"] == "a\ufffdb"
    assert "\x00" not in staged["payload"] + staged["extra"]


def test_u0000_only_in_the_text_as_received_is_made_storable_in_the_fix():
    # The reader composed the name (NFC); the text as received held U+0000.
    staged, fixes = _prepare(VALUES, received={"applicant_name": "Nguye\u0302\u0303n\x00"})

    assert staged["applicant_name"] == "Nguyễn Thị Lan"
    assert [f.original for f in fixes] == ["Nguye\u0302\u0303n\ufffd"]


def test_identical_rows_share_a_hash_and_different_rows_do_not():
    first, _ = _prepare(VALUES, extra={"note": "x"})
    again, _ = _prepare(dict(reversed(list(VALUES.items()))), extra={"note": "x"})
    other, _ = _prepare({**VALUES, "status": "done"}, extra={"note": "x"})
    other_extra, _ = _prepare(VALUES, extra={"note": "y"})

    assert first["content_hash"] == again["content_hash"]
    assert len({first["content_hash"], other["content_hash"], other_extra["content_hash"]}) == 3
