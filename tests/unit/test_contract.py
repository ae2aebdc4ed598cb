"""The item contract check: the fast path agrees with the thorough one, item by item."""

from __future__ import annotations

import json
import math

import pytest

from lienthong.ministry.page import parse_page
from lienthong.pipeline import contract
from lienthong.pipeline.contract import (
    Contract,
    item_defects,
    parse_iso_date,
    parse_rfc3339,
    read_iso_dates,
    read_rfc3339,
    storable_json,
)
from lienthong.population.contract import CONTRACT

CLEAN = {
    "personal_id": "001203012345",
    "full_name": "Nguyễn Thị Lan",
    "date_of_birth": "2003-04-15",
    "sex": "F",
    "ethnicity_code": "01",
    "nationality": "VN",
    "permanent_address": {"province_code": "01", "commune_code": "00004", "detail": "Số 12"},
    "current_address": None,
    "household_id": None,
    "marital_status": "single",
    "date_of_death": None,
    "updated_at": "2026-11-20T08:15:00Z",
}

# JSON texts, decoded as the population API's pages are.
ITEMS = [
    json.dumps(CLEAN),
    json.dumps({**CLEAN, "blood_type": "O"}),
    json.dumps({**CLEAN, "tags": ["a", {"b": 1}]}),
    json.dumps({**CLEAN, "score": 1.5}),
    '{"personal_id": "1", "score": NaN}',
    '{"personal_id": "1", "ethnicity_code": Infinity}',
    '{"personal_id": "1", "full_name": "Tr\\ud800n"}',
    '{"personal_id": "1", "sex": "M", "sex": "F"}',
    '{"personal_id": "1", "permanent_address": {"detail": "a", "detail": "b"}}',
    '{"personal_id": "1", "permanent_address": {"province_code": 1}}',
    '{"personal_id": "1", "permanent_address": {"extra": [1, [2]]}}',
    '{"personal_id": "1", "updated_at": null}',
    '{"personal_id": "1", "full_name": "' + "x" * 201 + '"}',
    json.dumps({**CLEAN, "full_name": "x" * 200}),
    json.dumps({**CLEAN, "updated_at": "2026-11-20"}),
    json.dumps({**CLEAN, "updated_at": 1732090500}),
    json.dumps({k: v for k, v in CLEAN.items() if k != "updated_at"}),
    json.dumps({**CLEAN, "ethnicity_code": 1}),
    json.dumps({**CLEAN, "current_address": ["01", "00004"]}),
    json.dumps({**CLEAN, "current_address": {"detail": "a", "note": "b"}}),
    json.dumps({**CLEAN, "current_address": {"detail": "a", "geo": {"lat": 21.0}}}),
    json.dumps({**CLEAN, "current_address": {"province_code": "01", "detail": None}}),
    '"a string"',
    "null",
    "[1, 2]",
]


def _decoded(text: str):
    return parse_page(f'{{"items": [{text}], "next_cursor": null, "total": 1}}'.encode()).items[0]


@pytest.mark.parametrize("text", ITEMS)
def test_the_fast_check_agrees_with_the_thorough_one(text):
    item = _decoded(text)
    defects, payload = Contract(CONTRACT).check(item)
    assert defects == item_defects(item, CONTRACT)
    thorough_payload = storable_json(item)
    if payload is None:
        assert thorough_payload is None
    else:
        # The same JSON document (orjson and json differ only in spacing).
        assert json.loads(payload) == json.loads(thorough_payload)


def test_a_value_json_cannot_hold_is_never_stored_as_something_else():
    item = _decoded('{"personal_id": "1", "updated_at": "2026-11-20T08:15:00Z", "score": NaN}')
    defects, payload = Contract(CONTRACT).check(item)
    assert defects == ["score: nan is not a JSON number"]
    assert payload is None  # kept as text, not with NaN turned into null
    assert math.isnan(item["score"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-20T08:15:00Z", "2026-11-20T08:15:00+00:00"),
        ("2026-11-20t08:15:00z", "2026-11-20T08:15:00+00:00"),
        ("2026-11-20 08:15:00+07:00", "2026-11-20T08:15:00+07:00"),
        ("2026-11-20T08:15:00.123456789Z", "2026-11-20T08:15:00.123456+00:00"),
        # RFC 3339's time-secfrac is "." 1*DIGIT: any number of digits.
        ("2026-11-20T08:15:00.1234567890123Z", "2026-11-20T08:15:00.123456+00:00"),
        ("2026-11-20T15:15:00.5000000000+07:00", "2026-11-20T15:15:00.500000+07:00"),
        ("2026-W48-7T10:00Z", None),
        ("2026-11-20T10:00:00", None),
        ("2026-02-30T10:00:00Z", None),
        (20261120, None),
    ],
)
def test_rfc3339_timestamps_need_a_zone(text, expected):
    parsed = parse_rfc3339(text)
    assert (parsed.isoformat() if parsed else None) == expected


# A registry row's received form: the contract's other kinds (an ISO date, RFC 3339
# timestamps, a boolean), which the fast check tests inline as the thorough one does.
EVENT = {
    "event_id": "KT-01-20261031-000001",
    "event_type": "birth",
    "personal_id": "001226012345",
    "full_name": "Lê Văn An",
    "event_date": "2026-10-20",
    "commune_code": "00004",
    "registered_at": "2026-10-30T02:04:25Z",
    "updated_at": "2026-10-31T19:28:38Z",
    "is_deleted": False,
}

FORMS = [
    EVENT,
    {**EVENT, "event_date": None},
    {**EVENT, "event_date": "2026-02-30"},
    {**EVENT, "event_date": "2026-2-3"},
    {**EVENT, "event_date": "0000-00-00"},
    {**EVENT, "event_date": 20261020},
    {**EVENT, "event_date": "2026-10-20" + " " * 1000},
    {**EVENT, "registered_at": "2026-10-30T09:04:25+07:00"},
    {**EVENT, "registered_at": "2026-10-30T09:04:25.123456789+07:00"},
    {**EVENT, "registered_at": "2026-10-30 02:04:25"},
    {**EVENT, "registered_at": "2026-10-30t02:04:25z"},
    {**EVENT, "registered_at": None},
    {**EVENT, "updated_at": "2026-10-31T19:28:38Z" + "0" * 1000},
    {**EVENT, "updated_at": "2026-13-31T19:28:38Z"},
    {**EVENT, "is_deleted": True},
    {**EVENT, "is_deleted": 1},
    {**EVENT, "is_deleted": 2},
    {**EVENT, "is_deleted": "false"},
    {**EVENT, "is_deleted": None},
    {k: v for k, v in EVENT.items() if k != "is_deleted"},
    {**EVENT, "event_id": "K" * 33},
    {**EVENT, "note": "an extra column"},
]


@pytest.mark.parametrize("form", FORMS)
def test_the_fast_check_agrees_with_the_thorough_one_on_every_kind(form):
    from lienthong.civil_events.contract import CONTRACT as EVENT_CONTRACT

    defects, payload = Contract(EVENT_CONTRACT).check(form)
    assert defects == item_defects(form, EVENT_CONTRACT)
    assert json.loads(payload) == json.loads(storable_json(form))


COMMON_STAMPS = [
    "2026-11-20T08:15:00Z",
    "2026-11-20T08:15:00.5Z",
    "2026-11-20T08:15:00.123456+07:00",
    "1999-12-31T23:59:59-05:30",
]
ODD_STAMPS = [
    "2026-11-20t08:15:00z",  # lower case: read after upper-casing
    "2026-11-20 08:15:00Z",
    "2026-11-20T08:15:00.1234567890Z",  # digits past the sixth dropped
    "2026-11-20T08:15:00Z\n",
    "2026-11-20T08:15:00Z\n2026-11-21T08:15:00Z",  # two common texts in one
    "2026-02-30T08:15:00Z",  # no such day
    "2026-11-20T24:00:00Z",
    "2026-11-20T23:59:60Z",
    "\uff12\uff10\uff12\uff16-11-20T08:15:00Z",  # full-width digits
    "2026-11-20T08:15:00",  # no zone
    "2026-11-20",
    "",
    "  2026-11-20T08:15:00Z",
]
COMMON_DATES = ["2026-11-20", "1900-01-01", "2000-02-29"]
ODD_DATES = ["2026-02-30", "2026-11-20\n", "20261120", "2026-W47-1", "2026-11-20T00:00:00Z", ""]


@pytest.mark.parametrize(
    ("read", "parse", "common", "odd"),
    [
        (read_rfc3339, parse_rfc3339, COMMON_STAMPS, ODD_STAMPS),
        (read_iso_dates, parse_iso_date, COMMON_DATES, ODD_DATES),
    ],
    ids=["timestamps", "dates"],
)
def test_a_column_reads_as_its_values_one_by_one(read, parse, common, odd, monkeypatch):
    """A column of texts reads as each text alone: its common texts by fromisoformat without a
    call per value, any other text (a form of its own, a day that does not exist) on its own,
    and a column of many such texts value by value."""
    columns = [
        common * 3,
        [None, *common, None],
        [None, None],
        [],
        *([*common, text, *common] for text in odd),
        [*odd, *common, None, *odd],  # at either end, one after another
        [*common, *(text for text in odd if "\n" not in text)] * 20,  # more than looked past
        [*common, 20261120, None],  # not text
    ]
    expected = [list(map(parse, column)) for column in columns]
    assert any(value is None for column in expected[4:] for value in column)
    assert [read(column) for column in columns] == expected
    calls = []
    name = parse.__name__
    monkeypatch.setattr(contract, name, lambda value: calls.append(value) or parse(value))
    assert read(common * 3) == expected[0]
    assert calls == []
    for text in odd:
        calls.clear()
        column = [*common, text, *common, text]
        assert read(column) == list(map(parse, column))
        if "\n" not in text:  # a text holding a line break leaves the column value by value
            assert calls == [text, text]
    # Past so many texts of other forms, the rest of the column is read value by value.
    calls.clear()
    odd_ones = [text for text in odd if "\n" not in text] * 40
    column = [*odd_ones, *common]
    assert read(column) == list(map(parse, column))
    assert len(calls) == len(column)
