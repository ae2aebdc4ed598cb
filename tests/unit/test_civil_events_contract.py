"""A registry chunk prepared by column has the rows and fixes ``prepare`` gives each row."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from lienthong.civil_events.contract import Preparer
from lienthong.pipeline.columns import plain_columns
from lienthong_demo.registry import driver_values, generate_registry
from tests.unit.test_contract import EVENT, FORMS


def _rows_of_every_kind() -> list:
    """Driver rows of generated registries (strict and loose tables, every planted defect),
    beside every form the contract's test names and rows only a driver hands over."""
    rows = []
    for loose, mysql in ((False, False), (True, False), (False, True)):
        registry = generate_registry(
            count=400,
            seed=4,
            defect_rate=0.3,
            loose=loose,
            mysql=mysql,
            now=datetime(2026, 11, 30, tzinfo=UTC),
        )
        rows += [driver_values(v.values, loose=loose) for v in registry.versions]
    rows += FORMS
    rows += [
        {**EVENT, "personal_id": "001226012345", "commune_code": "00004   "},  # CHAR padding
        {**EVENT, "event_date": date(2026, 10, 20)},
        {**EVENT, "registered_at": datetime(2026, 10, 30, 2, 4, 25)},
        {**EVENT, "full_name": "  lê   văn an "},
        {**EVENT, "full_name": "Lê Văn An\x00"},
        {**EVENT, "fee": Decimal("1.50")},
        {**EVENT, "full_name": None, "personal_id": None, "event_date": None},
        "not a row",
        None,
    ]
    random.Random(2).shuffle(rows)
    return rows


def test_a_chunk_prepared_by_column_has_each_row_and_fix_that_prepare_gives():
    from lienthong.civil_events.contract import _CONTRACT, received_form

    rows = _rows_of_every_kind()
    preparer = Preparer()
    by_column = preparer.prepare_many(10, rows)
    one_by_one = [preparer.prepare(10 + i, row) for i, row in enumerate(rows)]
    for (row, fixes), (expected_row, expected_fixes) in zip(by_column, one_by_one, strict=True):
        assert (row, list(fixes)) == (expected_row, list(expected_fixes))
    # Most rows went by column, some of them with the E-K1 fix.
    forms = [received_form(row) if isinstance(row, dict) else row for row in rows]
    plain = plain_columns(_CONTRACT, forms).positions
    assert len(plain) > len(rows) * 0.6
    assert {fix.rule_id for position in plain for fix in by_column[position][1]} == {"E-K1"}


def test_a_chunk_of_driver_rows_takes_each_rows_received_form_by_column():
    """`received_forms` of a chunk of driver rows is ``received_form`` of each row's item, and
    a chunk of them prepares as its rows do one by one."""
    from lienthong.civil_events.contract import ReceivedForms, received_form, received_forms
    from lienthong.registry.extraction import registry_items

    keys = (*EVENT, "fee", "note")
    by_driver = [
        row for row in _rows_of_every_kind() if isinstance(row, dict) and set(row) <= set(keys)
    ]
    hand_made = [
        {**EVENT, "is_deleted": 1},  # MySQL's BOOLEAN
        {**EVENT, "is_deleted": b"\x01"},  # BIT(1)
        {**EVENT, "is_deleted": 2},
        {**EVENT, "full_name": b"L\xc3\xaa V\xc4\x83n An"},  # a BLOB where text is due
        {**EVENT, "full_name": memoryview(b"L\xff")},  # not UTF-8
        {**EVENT, "personal_id": "001226012345", "commune_code": "00004   "},
        {**EVENT, "updated_at": datetime(2026, 10, 30, 2, 4, 25)},  # naive: UTC
        {
            **EVENT,
            "updated_at": datetime(2026, 10, 30, 9, 4, 25, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh")),
        },
        {**EVENT, "event_date": date(2026, 10, 20), "fee": Decimal("1.50"), "note": ["a", 1]},
        {**EVENT, "personal_id": None, "full_name": None, "event_date": None},
    ]
    rows = [tuple(row.get(key) for key in keys) for row in by_driver + hand_made]
    assert len(rows) > 1000
    forms = received_forms(keys, rows)
    assert isinstance(forms, ReceivedForms)
    assert forms == [received_form(item) for item in registry_items(keys, rows)]
    # Column by column the kinds differ: every column of text, of booleans and of anything
    # else meets its own way in one chunk and another.
    for chunk in (rows[:3], rows[-len(hand_made) :], rows):
        assert received_forms(keys, chunk) == [
            received_form(item) for item in registry_items(keys, chunk)
        ]
    assert received_forms(keys, []) == []
    preparer = Preparer()
    assert preparer.prepare_many(7, forms) == [
        preparer.prepare(7 + i, item) for i, item in enumerate(registry_items(keys, rows))
    ]
