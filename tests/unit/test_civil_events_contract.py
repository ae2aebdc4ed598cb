"""A registry chunk prepared by column has the rows and fixes ``prepare`` gives each row."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

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
