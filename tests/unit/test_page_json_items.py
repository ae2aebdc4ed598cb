"""A page left encoded is prepared as `parse_page` and `prepare` read it, at the edges of what
Python's and msgspec's parsers can read (found by attacking the column reader)."""

from __future__ import annotations

import json

import pytest

from lienthong.ministry.page import PageShapeError, parse_page, read_envelope
from lienthong.pipeline.contract import RawItem
from lienthong.population.contract import STAGING_COLUMNS, Preparer
from tests.unit.test_population_contract import _item

PAYLOAD = STAGING_COLUMNS.index("payload")
DEFECT = STAGING_COLUMNS.index("item_defect")


def _page(*texts: str, envelope_extra: str = "") -> bytes:
    return (
        '{"items": [' + ",".join(texts) + '], "next_cursor": null, '
        f'"total": {len(texts)}{envelope_extra}}}'
    ).encode()


def _with(**extra: str) -> str:
    return json.dumps(_item())[:-1] + "".join(f', "{k}": {v}' for k, v in extra.items()) + "}"


def _deeper(frames: int, call):
    """``call()`` run ``frames`` frames deeper (the staging loop's stack is deeper than the
    read-ahead thread's, where a page's envelope is read)."""
    return call() if frames == 0 else _deeper(frames - 1, call)


def _same_rows(got: list, expected: list) -> None:
    assert len(got) == len(expected)
    for (row, fixes), (expected_row, expected_fixes) in zip(got, expected, strict=True):
        row, expected_row = list(row), list(expected_row)
        payload, expected_payload = row.pop(PAYLOAD), expected_row.pop(PAYLOAD)
        assert (payload is None) == (expected_payload is None)
        if payload is not None:
            assert json.loads(payload) == json.loads(expected_payload)
        assert (row, list(fixes)) == (expected_row, list(expected_fixes))


def test_an_item_nested_near_the_recursion_limit_is_quarantined_and_never_stops_the_chunk():
    preparer = Preparer()
    clean = json.dumps(_item())
    reference = preparer.prepare(0, _item())
    deferred = 0
    for depth in range(900, 1000, 2):
        body = _page(clean, _with(zz="[" * depth + "]" * depth))
        page = read_envelope(body)
        if page is None:
            continue
        deferred += 1
        for frames in (0, 40):
            rows = _deeper(frames, lambda page=page: preparer.prepare_many(0, page.items.items()))
            _same_rows(rows[:1], [reference])
            # Read as an object nested too deep, or as an item too deep to read: P-K5 either
            # way (where Python's parser gives up depends on the stack it is called on).
            assert "nested" in rows[1][0][DEFECT]
    assert deferred > 10


def test_an_integer_python_cannot_read_is_one_item_quarantined_not_a_page_refused():
    preparer = Preparer()
    body = _page(json.dumps(_item()), _with(n="9" * 4301), json.dumps(_item(sex="M")))
    items = parse_page(body).items
    assert isinstance(items[1], RawItem) and items[0] == _item()
    expected = [preparer.prepare(i, item) for i, item in enumerate(items)]
    assert "not JSON" in expected[1][0][DEFECT]
    page = read_envelope(body)
    _same_rows(preparer.prepare_many(0, page.items.items()), expected)


def test_an_envelope_member_python_cannot_read_is_a_shape_error_as_before():
    body = _page(json.dumps(_item()), envelope_extra=', "x": ' + "9" * 4301)
    assert read_envelope(body) is None
    with pytest.raises(PageShapeError, match="'x' cannot be read"):
        parse_page(body)
