"""A dossier chunk prepared by column has the rows and fixes ``prepare`` gives each row."""

from __future__ import annotations

import io
import random
import unicodedata
from datetime import date

from lienthong.dossiers.contract import DossierItem, Preparer, _plain_form
from lienthong.dossiers.export_file import DossierExportReader, DossierRow
from lienthong_demo.dossier_files import DeliveryOptions, generate_dossier_delivery
from tests.unit.test_dossier_contract import VALUES

DAY = date(2026, 11, 20)


def _items_of_every_kind() -> list[DossierItem]:
    """Rows of generated exports (every planted defect, every encoding and layout a province
    sends), beside rows only a hand can make."""
    items = []
    for options in (
        DeliveryOptions(),
        DeliveryOptions(encoding="windows-1258", decompose_all=True, delimiter=";"),
        DeliveryOptions(encoding="tcvn3", shuffle_columns=True),
        DeliveryOptions(extra_column=True, truncate=True),
        DeliveryOptions(drop_column="due_at"),
    ):
        delivery = generate_dossier_delivery(
            "40", DAY, count=300, seed=3, defect_rate=0.3, options=options
        )
        reader = DossierExportReader(io.BytesIO(delivery.csv), name=delivery.csv_name)
        rows = list(reader)
        items += [DossierItem(row, DAY, reader.facts.missing_columns) for row in rows]
    hand_made = [
        {**VALUES, "applicant_name": "  lê   văn  an "},
        {**VALUES, "procedure_name": "   "},
        {**VALUES, "dossier_id": " HS-0002\t", "status": ""},
        {**VALUES, "applicant_name": "Lê Văn An\x00"},
        {**VALUES, "applicant_name": "Lê Văn \ud800An"},
        {**VALUES, "applicant_name": "x" * 201},
        {**VALUES, "applicant_name": "\u0958" * 150},  # NFC makes it 300 characters
        {**VALUES, "received_at": "2026-11-20 08:15:00"},
        {**VALUES, "received_at": "2026-11-20T08:15:00Z\n"},
        {**VALUES, "due_at": " 2026-11-25T17:00:00+07:00"},
        {**VALUES, "completed_at": "2026-11-21T09:00:00.1234567890Z"},
        {column: None for column in VALUES},
        dict(reversed(VALUES.items())),  # a row not made by the reader: another order
    ]
    items += [DossierItem(DossierRow(2, values, {}), DAY) for values in hand_made]
    items += [DossierItem(DossierRow(3, dict(VALUES), {}, "wrong number of fields"), DAY)]
    # Received decomposed, read composed (the reader's own fix, whose original is received).
    decomposed = {"applicant_name": unicodedata.normalize("NFD", VALUES["applicant_name"])}
    items += [DossierItem(DossierRow(4, dict(VALUES), {}, received=decomposed), DAY)]
    random.Random(2).shuffle(items)
    return items


def test_a_chunk_prepared_by_column_has_each_row_and_fix_that_prepare_gives():
    items = _items_of_every_kind()
    preparer = Preparer()
    by_column = preparer.prepare_many(10, items)
    one_by_one = [preparer.prepare(10 + i, item) for i, item in enumerate(items)]
    for (row, fixes), (expected_row, expected_fixes) in zip(by_column, one_by_one, strict=True):
        assert (row, list(fixes)) == (expected_row, list(expected_fixes))
    # Most rows went by column, some of them with the D-K1 fix; rows the reader marked did not.
    plain = [i for i, item in enumerate(items) if type(_plain_form(item)) is dict]
    assert len(plain) > len(items) * 0.4
    assert {fix.rule_id for i in plain for fix in by_column[i][1]} == {"D-K1"}
    assert all(items[i].row.defect is None and not items[i].row.extra for i in plain)


def test_a_chunk_without_empty_values_is_trimmed_as_prepare_trims():
    items = [
        DossierItem(DossierRow(2 + i, {**VALUES, **values}, {}), DAY)
        for i, values in enumerate(
            [
                {"dossier_id": " HS-0002\t", "completed_at": "2026-11-21T09:00:00Z"},
                {"procedure_code": "1.001 ", "completed_at": "2026-11-21T09:00:00Z"},
                {"completed_at": "2026-11-21T09:00:00Z"},
            ]
        )
    ]
    preparer = Preparer()
    by_column = preparer.prepare_many(1, items)
    assert by_column == [preparer.prepare(1 + i, item) for i, item in enumerate(items)]
    assert [[(f.field, f.original, f.fixed) for f in fixes] for _, fixes in by_column] == [
        [("dossier_id", " HS-0002\t", "HS-0002")],
        [("procedure_code", "1.001 ", "1.001")],
        [],
    ]
