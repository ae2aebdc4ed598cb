"""A chunk's plain items read by column: exactly the items the contract check passes whose
fields are the documented ones, their values as received."""

from __future__ import annotations

import pytest

from lienthong.pipeline.columns import plain_columns, read_texts
from lienthong.pipeline.contract import Contract, checked_text, parse_rfc3339
from lienthong.population.contract import CONTRACT
from tests.unit.test_contract import CLEAN, EVENT, FORMS, ITEMS, _decoded

POPULATION = Contract(CONTRACT)


def _plain_positions(contract: Contract, items: list) -> list[int]:
    found = plain_columns(contract, items)
    assert found is not None
    return found.positions


def test_only_items_the_check_passes_with_their_fields_exactly_are_plain():
    items = [_decoded(text) for text in ITEMS]
    items += [
        {**CLEAN, "current_address": {}},  # its fields gone: P-S3's business
        {k: v for k, v in CLEAN.items() if k != "household_id"},
        {**CLEAN, "full_name": "Tr\ud800n"},  # orjson refuses it; the check names it
        {**CLEAN, "household_id": 12},
        {**CLEAN, "updated_at": "  "},
        {**CLEAN, "permanent_address": {**CLEAN["permanent_address"], "geo": "x"}},
        {**CLEAN, "permanent_address": "01"},
        {**CLEAN, "full_name": None, "current_address": dict(CLEAN["permanent_address"])},
    ]
    found = plain_columns(POPULATION, items)
    expected = [
        i for i, item in enumerate(items) if type(item) is dict and item.keys() == CLEAN.keys()
    ]
    expected = [
        i
        for i in expected
        if not POPULATION.check(items[i])[0]
        and all(
            address is None or address.keys() == CLEAN["permanent_address"].keys()
            for address in (items[i]["permanent_address"], items[i]["current_address"])
        )
        and POPULATION.check(items[i])[1] is not None
    ]
    # The clean item, the one with a 200-character name, the last one (two addresses).
    assert found.positions == expected == [0, 13, len(items) - 1]
    for j, position in enumerate(found.positions):
        item = items[position]
        assert POPULATION.check(item) == ([], found.payloads[j])
        assert found.columns["full_name"][j] == item["full_name"]
        assert found.columns["current_address.detail"][j] == (item["current_address"] or {}).get(
            "detail"
        )
        assert found.read["updated_at"][j] == parse_rfc3339(item["updated_at"])
    assert "permanent_address" not in found.columns


def test_every_kind_is_checked_by_column_as_the_check_has_it():
    from lienthong.civil_events.contract import CONTRACT as EVENT_CONTRACT

    contract = Contract(EVENT_CONTRACT)
    # Each form of the contract's test beside the clean one, so that a column holds both.
    for form in FORMS:
        positions = _plain_positions(contract, [EVENT, form])
        plain = not contract.check(form)[0] and form.keys() == EVENT.keys()
        assert positions == ([0, 1] if plain else [0]), form


def test_a_chunk_with_no_plain_item_and_an_empty_chunk():
    assert _plain_positions(POPULATION, ["a", None, [1], {}]) == []
    found = plain_columns(POPULATION, [])
    assert found.positions == [] and found.payloads == []


@pytest.mark.parametrize(
    "column",
    [
        ["a", "b", None],
        ["a", "", None],
        ["a", "  \t", "b"],
        ["a\x00b", "c"],
        [None, None],
        ["Số 12", "x y"],
    ],
)
def test_texts_are_read_as_checked_text_reads_each(column):
    assert list(read_texts(column)) == [checked_text(value) for value in column]


def _json_items(texts: list[str]):
    from lienthong.ministry.page import read_items
    from lienthong.pipeline.extraction import JsonItems

    return JsonItems(("[" + ", ".join(texts) + "]").encode(), read_items)


def test_items_read_from_their_json_are_the_plain_ones_with_their_text_as_payload():
    import json

    import msgspec

    from lienthong.pipeline.columns import json_columns

    # Pages msgspec refuses (NaN, a lone surrogate) are never left encoded: read at once.
    texts = []
    for text in ITEMS:
        try:
            msgspec.json.decode(text)
        except msgspec.DecodeError:
            continue
        texts.append(text)
    given_twice = len(texts)
    texts += [
        # A key given twice among all the fields: msgspec keeps the last, the count sees it.
        json.dumps(CLEAN)[:-1] + ', "sex": "M"}',
        json.dumps({**CLEAN, "current_address": dict(CLEAN["permanent_address"])})[:-1]
        + ', "current_address": null}',
        # Text that holds '":' (escaped), U+0000, escapes of every kind.
        json.dumps({**CLEAN, "household_id": 'a": b'}),
        json.dumps({**CLEAN, "full_name": "Lan\x00"}),
        json.dumps({**CLEAN, "full_name": "Trần\tThị"}, ensure_ascii=True),
        json.dumps(CLEAN, separators=(",", ":"), ensure_ascii=False),
        json.dumps(CLEAN, indent=2),
    ]
    items = _json_items(texts)
    decoded = list(items)
    found = json_columns(POPULATION, items)
    reference = plain_columns(POPULATION, decoded)
    # Every item read from its JSON is one the dicts call plain, with the same values...
    assert set(found.positions) <= set(reference.positions)
    for name, column in found.columns.items():
        by_position = dict(zip(reference.positions, reference.columns[name], strict=True))
        assert list(column) == [by_position[p] for p in found.positions], name
    for name, column in found.read.items():
        by_position = dict(zip(reference.positions, reference.read[name], strict=True))
        assert list(column) == [by_position[p] for p in found.positions], name
    # ... and its payload is its text as sent, the same JSON as the check's payload.
    for position, payload in zip(found.positions, found.payloads, strict=True):
        assert payload == texts[position]
        assert json.loads(payload) == json.loads(POPULATION.check(decoded[position])[1])
    # All but the items with a key given twice, '":' in a text and U+0000, left to prepare.
    left = {given_twice, given_twice + 1, given_twice + 2, given_twice + 3}
    assert found.positions == [p for p in reference.positions if p not in left]
    assert len(found.positions) == 5


def test_an_array_with_a_key_spaced_from_its_colon_is_left_to_the_careful_decoder():
    import json

    from lienthong.pipeline.columns import json_columns

    spaced = json.dumps(CLEAN)[:-1] + ', "sex" : "M"}'
    assert json_columns(POPULATION, _json_items([json.dumps(CLEAN), spaced])) is None
    # Text that starts with a space is no reason to.
    leading = json.dumps({**CLEAN, "full_name": " Lan"})
    assert json_columns(POPULATION, _json_items([leading])).positions == [0]
