"""The population item → staging row: fixes with originals, parsing, contract drift."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest

from lienthong.population.contract import DOCUMENTED_FIELDS, STAGING_COLUMNS, Preparer
from lienthong.reference.address_codes import address_codes
from lienthong.reference.admin_units import commune_conversion, current_communes, legacy_communes


def _item(**changes) -> dict:
    commune = current_communes()[0]
    item = {
        "personal_id": "001303012345",
        "full_name": "Nguyễn Thị Lan",
        "date_of_birth": "2003-04-15",
        "sex": "F",
        "ethnicity_code": "01",
        "nationality": "VN",
        "permanent_address": {
            "province_code": commune.province_code,
            "commune_code": commune.code,
            "detail": "Số 12 phố Trúc Bạch",
        },
        "current_address": None,
        "household_id": "HK0012345678",
        "marital_status": "single",
        "date_of_death": None,
        "updated_at": "2026-11-20T08:15:00Z",
    }
    item.update(changes)
    return item


def _row(item: dict) -> tuple[dict, list]:
    row, fixes = Preparer().prepare(7, item)
    return dict(zip(STAGING_COLUMNS, row, strict=True)), fixes


def test_a_clean_item_needs_no_fix_and_parses():
    row, fixes = _row(_item())
    assert fixes == []
    assert row["row_no"] == 7
    assert row["pid_birth_province"] == "001"
    assert row["dob"] == date(2003, 4, 15)
    assert row["updated_ts"] == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert row["full_name_defect"] is None
    assert row["missing_fields"] == []
    assert row["extra"] is None
    assert json.loads(row["payload"]) == _item()
    assert row["payload_text"] is None
    assert row["item_defect"] is None


def test_text_is_made_canonical_and_the_original_kept():
    raw = "  Nguyê\u0303n   Thi\u0323  Lan "
    row, fixes = _row(_item(full_name=raw))
    assert row["full_name"] == "Nguyễn Thị Lan"
    assert [(f.rule_id, f.field, f.original, f.fixed) for f in fixes] == [
        ("P-K1", "full_name", raw, "Nguyễn Thị Lan")
    ]
    assert json.loads(row["payload"])["full_name"] == raw


def test_codes_are_padded_under_p_k4():
    commune = next(c for c in current_communes() if c.code.startswith("000"))
    address = {
        "province_code": commune.province_code.lstrip("0"),
        "commune_code": commune.code.lstrip("0"),
        "detail": "Thôn Đông",
    }
    row, fixes = _row(_item(permanent_address=address, ethnicity_code="1"))
    assert (row["perm_province_code"], row["perm_commune_code"]) == (
        commune.province_code,
        commune.code,
    )
    assert row["ethnicity_code"] == "01"
    assert {f.field for f in fixes if f.rule_id == "P-K4"} == {
        "permanent_address.province_code",
        "permanent_address.commune_code",
        "ethnicity_code",
    }


def test_a_pre_2025_commune_that_went_whole_is_remapped_and_a_split_one_is_left():
    codes = address_codes()
    targets: dict[str, list[str]] = {}
    for legacy, new in commune_conversion():
        targets.setdefault(legacy, []).append(new)
    legacy_by_code = {c.code: c for c in legacy_communes()}
    whole = next(
        legacy_by_code[k]
        for k, v in targets.items()
        if len(v) == 1 and not codes.is_current(legacy_by_code[k].province_code, k)
    )
    row, fixes = _row(
        _item(
            permanent_address={
                "province_code": whole.province_code,
                "commune_code": whole.code,
                "detail": "x",
            }
        )
    )
    assert codes.is_current(row["perm_province_code"], row["perm_commune_code"])
    assert row["perm_commune_code"] == targets[whole.code][0]
    assert {(f.rule_id, f.original) for f in fixes} >= {("P-L3", whole.code)}

    split = next(
        legacy_by_code[k]
        for k, v in targets.items()
        if len(v) > 1 and not codes.is_current(legacy_by_code[k].province_code, k)
    )
    row, fixes = _row(
        _item(
            permanent_address={
                "province_code": split.province_code,
                "commune_code": split.code,
                "detail": "x",
            }
        )
    )
    assert row["perm_commune_code"] == split.code  # left for rule P-L3 to quarantine
    assert fixes == []


def test_missing_documented_fields_and_new_fields_are_recorded():
    item = _item(blood_type="O")
    del item["household_id"]
    row, _ = _row(item)
    assert row["missing_fields"] == ["household_id"]
    assert json.loads(row["extra"]) == {"blood_type": "O"}
    assert row["household_id"] is None


def test_fields_added_to_or_gone_from_an_address_are_recorded():
    # The addresses' fields are documented too: one that disappears is missing (rule P-S3
    # holds the batch), one that appears is recorded and kept, by its path.
    item = _item(current_address={"province_code": "79", "commune_code": "26734"})
    item["permanent_address"]["geo"] = [21.03, 105.85]
    row, _ = _row(item)
    assert row["missing_fields"] == ["current_address.detail"]
    assert json.loads(row["extra"]) == {"permanent_address.geo": [21.03, 105.85]}
    assert row["item_defect"] is None


def test_an_item_without_updated_at_is_named_by_rule_pk5():
    # Every version of a record carries updated_at (core requires it): an item lacking it is
    # quarantined like one whose updated_at is null, not published if its batch is approved.
    item = _item()
    del item["updated_at"]
    row, _ = _row(item)
    assert row["missing_fields"] == ["updated_at"]
    assert row["item_defect"] == "updated_at: absent where the contract wants rfc3339"
    assert _row(_item(updated_at=None))[0]["item_defect"] == (
        "updated_at: null where the contract wants rfc3339"
    )


@pytest.mark.parametrize(
    ("field", "value", "column", "parsed"),
    [
        ("date_of_birth", "2001-02-30", "dob", None),
        ("date_of_birth", "15/04/2003", "dob", None),
        ("updated_at", "2026-11-20 08:15", "updated_ts", None),
        ("personal_id", "00130301234", "pid_birth_province", None),
    ],
)
def test_values_that_do_not_parse_stay_as_text_for_the_rules(field, value, column, parsed):
    row, _ = _row(_item(**{field: value}))
    assert row[field] == value
    assert row[column] is parsed


def test_identical_items_hash_alike_and_different_ones_not():
    first, _ = _row(_item())
    again, _ = _row(_item(full_name=" Nguyễn  Thị Lan"))  # differs only in what P-K1 fixes
    other, _ = _row(_item(marital_status="married"))
    assert first["content_hash"] == again["content_hash"]
    assert first["content_hash"] != other["content_hash"]


def test_documented_fields_are_the_contracts():
    assert set(DOCUMENTED_FIELDS) == set(_item())


def _chunk_of_every_kind() -> list:
    """Generated citizens with every labelled defect, beside items the contract check names
    and items that need each fix, in one chunk."""
    import random

    from lienthong_demo.citizens import generate_citizens
    from tests.unit.test_contract import ITEMS, _decoded

    items = [c.item for c in generate_citizens(1500, seed=3, defect_rate=0.3)]
    legacy = legacy_communes()
    codes = address_codes()
    items += [_decoded(text) for text in ITEMS]
    items += [
        _item(full_name="  nguyễn   thị\u00a0lan "),
        _item(full_name="Nguyê\u0303n Thị Hoà"),
        _item(full_name="Lan\x00"),
        _item(full_name="   "),
        _item(ethnicity_code="1"),
        _item(ethnicity_code=" 7 "),
        _item(sex=""),
        _item(current_address={"province_code": "1", "commune_code": "4", "detail": " a  b "}),
        _item(current_address={"province_code": None, "commune_code": None, "detail": None}),
        *(
            _item(
                permanent_address={
                    "province_code": unit.province_code,
                    "commune_code": unit.code,
                    "detail": "x",
                }
            )
            for unit in legacy[:: max(1, len(legacy) // 40)]
            if not codes.is_current(unit.province_code, unit.code)
        ),
    ]
    random.Random(5).shuffle(items)
    return items


def test_a_chunk_prepared_by_column_has_each_row_and_fix_that_prepare_gives():
    from lienthong.pipeline.columns import plain_columns
    from lienthong.population.contract import _CONTRACT

    items = _chunk_of_every_kind()
    preparer = Preparer()
    by_column = preparer.prepare_many(100, items)
    one_by_one = [preparer.prepare(100 + i, item) for i, item in enumerate(items)]
    assert len(by_column) == len(one_by_one) == len(items)
    for (row, fixes), (expected_row, expected_fixes) in zip(by_column, one_by_one, strict=True):
        assert (row, list(fixes)) == (expected_row, list(expected_fixes))
    # Most items went by column, and among them some that needed a fix of each kind.
    plain = plain_columns(_CONTRACT, items).positions
    assert len(plain) > len(items) * 0.6
    rules = {fix.rule_id for position in plain for fix in by_column[position][1]}
    assert rules == {"P-K1", "P-K4", "P-L3"}


def test_codes_and_places_remembered_across_chunks_are_what_prepare_decides(monkeypatch):
    """A preparer works out each distinct code and place once for its batch, and forgets
    them when it holds too many: chunk after chunk, the same rows and fixes as ``prepare``."""
    from lienthong.pipeline import columns
    from lienthong.population import contract

    monkeypatch.setattr(columns, "REMEMBERED", 60)
    items = _chunk_of_every_kind()
    preparer = Preparer()
    by_column = []
    for start in range(0, len(items), 300):
        by_column += preparer.prepare_many(start, items[start : start + 300])
        assert 0 < len(preparer._places) <= 600  # a chunk's places at most: forgotten between
    one_by_one = [Preparer().prepare(i, item) for i, item in enumerate(items)]
    for (row, fixes), (expected_row, expected_fixes) in zip(by_column, one_by_one, strict=True):
        assert (row, list(fixes)) == (expected_row, list(expected_fixes))
    remembered = preparer._communes
    assert all(contract._commune_code(value) == kept for value, kept in remembered.items())


def test_a_page_prepared_from_its_json_has_each_row_and_fix_that_prepare_gives():
    import msgspec

    from lienthong.ministry.page import read_items
    from lienthong.pipeline.extraction import JsonItems

    texts = []
    for number, item in enumerate(_chunk_of_every_kind()):
        try:
            text = json.dumps(item, ensure_ascii=number % 3 == 0, indent=2 if number % 7 else None)
            msgspec.json.decode(text)
        except (ValueError, TypeError, msgspec.DecodeError):
            continue  # a page msgspec refuses is read at once, never left as JSON
        texts.append(text)
    items = JsonItems(("[" + ",".join(texts) + "]").encode(), read_items)
    preparer = Preparer()
    by_column = preparer.prepare_many(100, items)
    one_by_one = [preparer.prepare(100 + i, item) for i, item in enumerate(list(items))]
    payload = STAGING_COLUMNS.index("payload")
    for (row, fixes), (expected_row, expected_fixes) in zip(by_column, one_by_one, strict=True):
        row, expected_row = list(row), list(expected_row)
        # The payload of an item read from its JSON is that JSON as sent: the same document.
        assert json.loads(row.pop(payload)) == json.loads(expected_row.pop(payload))
        assert (row, list(fixes)) == (expected_row, list(expected_fixes))
    assert sum(row[payload] in texts for row, _ in by_column) > len(texts) * 0.6


def test_a_page_with_a_key_spaced_from_its_colon_is_prepared_as_decoded():
    from lienthong.ministry.page import read_items
    from lienthong.pipeline.extraction import JsonItems

    texts = [json.dumps(_item()), json.dumps(_item(sex="M"))[:-1] + ', "sex" : "F"}']
    texts.append(json.dumps(_item(full_name=" lan ")))
    items = JsonItems(("[" + ",".join(texts) + "]").encode(), read_items)
    preparer = Preparer()
    by_column = preparer.prepare_many(0, items)
    expected = [preparer.prepare(i, item) for i, item in enumerate(list(items))]
    assert [(row, list(fixes)) for row, fixes in by_column] == [
        (row, list(fixes)) for row, fixes in expected
    ]
    defect = STAGING_COLUMNS.index("item_defect")
    assert "sex" in by_column[1][0][defect]
    assert [fix.rule_id for fix in by_column[2][1]] == ["P-K1"]
