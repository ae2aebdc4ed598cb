"""A page left encoded (`read_envelope`) decodes, where it is prepared, to exactly the items
`parse_page` gives; a page it cannot vouch for is left to `parse_page` at once."""

from __future__ import annotations

import json

import pytest

from lienthong.ministry.page import DuplicateKeys, parse_page, read_envelope
from lienthong.pipeline.extraction import EncodedChunk
from lienthong.pipeline.preparation import staged_chunks
from lienthong.population.contract import Preparer

CLEAN = {
    "personal_id": "001203012345",
    "full_name": "Nguyễn Thị Lan",
    "permanent_address": {"province_code": "01", "commune_code": "00004", "detail": "Số 12"},
    "updated_at": "2026-11-20T08:15:00Z",
}


def _page(items: str, rest: str = '"next_cursor": "c2", "total": 9') -> bytes:
    return f'{{"items": [{items}], {rest}}}'.encode()


# Pages whose items are odd, but which read whole: left encoded.
DEFERRED = [
    _page(", ".join([json.dumps(CLEAN, ensure_ascii=False)] * 3)),
    _page('{"personal_id": "1", "sex": "M", "sex": "F"}, 7, "text", null, [1, [2]]'),
    _page('{"permanent_address": {"detail": "a", "detail": "b"}}, {"x": 1e999}'),
    _page('{"x": "\\u0000"}, {"x": "a\\"b"}', '"next_cursor": null, "total": 2'),
    _page('{"total": 3, "items": [], "next_cursor": "\\u0041"}'),  # envelope keys in an item
    # The items last and spaced out, an item holding their key.
    b'{"total": 2, "next_cursor": "c3", "items" :\n\t[1, {"items": [2]}]}',
]

# Pages read at once by parse_page: what msgspec refuses or does not check.
AT_ONCE = [
    _page('{"full_name": NaN}'),
    _page('{"full_name": "Tr\\ud800n"}'),
    _page('{"deep": ' + "[" * 2000 + "]" * 2000 + "}"),
    _page("1", '"next_cursor": null, "total": 1, "total": 2'),
    _page("1", '"next_cursor": null, "total": 1, "tot\\u0061l": 2'),  # the same key, escaped
    _page("1", '"next_cursor": null, "total": 1, "it\\u0065ms": []'),
    b'{"items": [1], "items": [1], "next_cursor": null, "total": 1}',  # the same items twice
    _page("1", '"next_cursor": "c\\/2", "total": 1'),  # an escape is for parse_page to read
    _page("1", '"next_cursor": "", "total": 1'),
    _page("1", '"next_cursor": null, "total": -1'),
    _page("1", '"next_cursor": null, "total": 1.0'),
    _page("1", '"next_cursor": null'),
    b'{"items": ["\xff"], "next_cursor": null, "total": 1}',
    b"<html>502 Bad Gateway</html>",
    _page("1")[:-3],
]


@pytest.mark.parametrize("body", DEFERRED)
def test_a_page_left_encoded_decodes_to_what_parse_page_reads(body):
    page = read_envelope(body)
    whole = parse_page(body)

    assert isinstance(page.items, EncodedChunk)
    assert (page.next_cursor, page.total) == (whole.next_cursor, whole.total)
    assert len(page.items) == len(whole.items)
    items = list(page.items.items())
    assert items == whole.items
    # Keys given twice stay marked, for rule P-K5.
    assert [type(i) for i in items] == [type(i) for i in whole.items]


def test_a_key_given_twice_stays_marked_when_decoded_later():
    items = read_envelope(DEFERRED[1]).items.items()
    assert isinstance(items[0], DuplicateKeys)
    assert items[0].duplicate_keys == ("sex",)
    assert isinstance(
        read_envelope(DEFERRED[2]).items.items()[0]["permanent_address"], DuplicateKeys
    )


@pytest.mark.parametrize("body", AT_ONCE)
def test_a_page_the_envelope_cannot_vouch_for_is_read_at_once(body):
    assert read_envelope(body) is None


def test_an_encoded_chunk_that_decodes_to_another_count_is_an_error():
    chunk = EncodedChunk(DEFERRED[0], 4, lambda data: parse_page(data).items)
    with pytest.raises(ValueError, match="decoded to 3 items, not the 4 counted"):
        chunk.items()


def test_workers_stage_encoded_pages_as_one_process_stages_decoded_ones():
    bodies = [*DEFERRED, DEFERRED[0]]
    encoded = [read_envelope(body).items for body in bodies]
    decoded = [parse_page(body).items for body in bodies]

    alone = list(staged_chunks(Preparer(), 1, decoded, workers=1))
    spread = list(staged_chunks(Preparer(), 1, encoded, workers=2, workers_from=0))
    in_process = list(staged_chunks(Preparer(), 1, encoded, workers=1))

    assert [c.rows for c in spread] == [c.rows for c in alone] == [c.rows for c in in_process]
    assert [c.fixes for c in spread] == [c.fixes for c in alone]
    assert sum(c.count for c in spread) == sum(map(len, decoded)) == 18
    assert "the key occurs more than once" in b"".join(c.rows for c in spread).decode()


def test_items_too_deep_for_a_shorter_stack_are_read_as_parse_page_reads_them():
    """A page read whole by `read_envelope`, whose items a worker on a shorter stack cannot
    walk, is read item by item there: what `parse_page` reads on that stack (the deep item
    kept as received, for rule P-K5), the others as ever."""
    import sys

    from lienthong.pipeline.contract import RawItem

    deep = '{"x": ' + "[" * 700 + "]" * 700 + "}"
    body = _page(", ".join([json.dumps(CLEAN, ensure_ascii=False), deep, '"text"']))
    page = read_envelope(body)
    assert isinstance(page.items, EncodedChunk)
    assert list(page.items.items()) == parse_page(body).items  # on this stack: read whole

    limit = sys.getrecursionlimit()

    def on_a_shorter_stack(read, depth=0):
        # Called deep enough that 700 levels no longer fit under the limit.
        if depth < limit - 500:
            return on_a_shorter_stack(read, depth + 1)
        return read()

    items = list(on_a_shorter_stack(page.items.items))
    whole = on_a_shorter_stack(lambda: parse_page(body).items)
    assert items == whole
    assert items[0] == CLEAN and items[2] == "text"
    assert isinstance(items[1], RawItem) and items[1].text == deep
