"""One page of ``GET /v1/citizens`` decoded without letting one item spoil the page.

The page itself must have the contract's shape; a page that is not JSON at all may be a
passing proxy fault (the caller retries it), a JSON page of the wrong shape is a contract
break. The items inside are taken as they come, whatever they hold: an item that is not an
object, holds NaN, a lone surrogate or a key twice, or is nested too deep for Python's parser,
still comes out as one item, so that it is staged and quarantined by rule P-K5 (the contract's
types), never dropped and never a reason to stop the feed.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from lienthong.pipeline.contract import RawItem
from lienthong.pipeline.extraction import EncodedChunk, JsonItems

#: Characters of a body quoted in an error message.
EXCERPT = 200


class PageNotJson(ValueError):
    """The body is not JSON at all (an HTML error page, a cut connection): worth a retry."""


class PageShapeError(ValueError):
    """The body is JSON but not a page of the contract: a contract break."""


class DuplicateKeys(dict):
    """A JSON object in which some key occurred more than once (the last value is kept, as
    JSON parsers do); ``duplicate_keys`` names them so that rule P-K5 can report them."""

    duplicate_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class CitizenPage:
    """One page of ``GET /v1/citizens``.

    Attributes:
        items: the items as the API sent them (unknown fields kept; see the module's note
            on items that are not well-formed citizens), or still encoded
            (`read_envelope`).
        next_cursor: the cursor of the next page, None on the last page.
        total: records matching the query's filters, as announced by the API.
        served_at: the server's clock when it answered (its ``Date`` header), when given.
    """

    items: list[Any] | EncodedChunk
    next_cursor: str | None
    total: int
    served_at: datetime | None = None


def excerpt(body: bytes | str) -> str:
    """The start of a body, for an error message."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return repr(text[:EXCERPT] + ("…" if len(text) > EXCERPT else ""))


def _object(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen: set[str] = set()
    duplicates = {key for key, _ in pairs if key in seen or seen.add(key)}
    marked = DuplicateKeys(result)
    marked.duplicate_keys = tuple(sorted(duplicates))
    return marked


_DECODER = json.JSONDecoder(object_pairs_hook=_object)


def parse_page(body: bytes) -> CitizenPage:
    """Decode a 200 answer's body into a page.

    Raises:
        PageNotJson: the body is not JSON.
        PageShapeError: the body is JSON of another shape than a page.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PageNotJson(f"the body is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    try:
        document = _DECODER.decode(text)
    except RecursionError:
        document = _decode_shallow(text)
    except ValueError as exc:
        if not _is_json(body):
            raise PageNotJson(f"the body is not JSON ({exc})") from exc
        # JSON that Python's parser cannot hold whole (an integer of more digits than int()
        # reads): each item is read on its own, one that cannot be kept as a RawItem, so
        # that one such item is quarantined rather than stopping the feed.
        document = _decode_shallow(text)
    return _page(document)


def _is_json(body: bytes) -> bool:
    """Whether msgspec finds ``body`` to be JSON (its numbers checked, not converted)."""
    try:
        _RAW.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return False
    return True


class _Envelope(msgspec.Struct):
    items: msgspec.Raw
    next_cursor: str | None
    total: int


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
_RAW = msgspec.json.Decoder(msgspec.Raw)
# An integer of more digits than Python's int() reads (0: no limit).
_LONG_NUMBER = re.compile(rb"[0-9]{%d}" % (sys.get_int_max_str_digits() + 1))
_ENVELOPE_KEYS = (b'"items"', b'"next_cursor"', b'"total"')
_ITEMS_KEY = re.compile(rb'"items"[ \t\n\r]*:[ \t\n\r]*')


def read_envelope(body: bytes) -> CitizenPage | None:
    """A page whose cursor and total are read and whose items are left encoded (an
    `EncodedChunk` that `page_items` decodes where they are prepared), or None when the page
    needs `parse_page` here and now.

    msgspec's C decoder walks the page at about half a microsecond an item, checking its JSON
    but building nothing but the envelope. Only a page that `parse_page` is certain to read
    whole is left encoded: anything msgspec refuses (NaN, a lone surrogate, deep nesting, an
    envelope of the wrong shape) or does not check (valid UTF-8, an envelope key given twice,
    plainly or written with escapes) goes back to `parse_page`, which raises or retries as it
    always did.
    """
    try:
        envelope = _ENVELOPE.decode(body)
        items = bytes(envelope.items)
        count = len(_ITEMS.decode(items))
        body.decode("utf-8")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    if envelope.total < 0 or envelope.next_cursor == "":
        return None
    # The page around its items: a key given twice there, or written with an escape (which
    # msgspec reads as the key it spells), is for parse_page to name. The items are looked for
    # where the first "items" key leaves off (searching the page for them took a quarter of
    # this function); found anywhere else, the page is simply read at once.
    key = _ITEMS_KEY.search(body)
    start = key.end() if key else -1
    if start < 0 or not body.startswith(items, start):
        return None
    around = body[:start] + body[start + len(items) :]
    if b"\\" in around or any(around.count(key) != 1 for key in _ENVELOPE_KEYS):
        return None
    if sys.get_int_max_str_digits() and _LONG_NUMBER.search(around):
        return None  # a member parse_page cannot read (msgspec ignores one it does not know)
    return CitizenPage(
        items=EncodedChunk(items, count, page_items),
        next_cursor=envelope.next_cursor,
        total=envelope.total,
    )


def page_items(items: bytes) -> JsonItems | list[Any]:
    """The items of a page that `read_envelope` read (its ``items`` array, as sent), still as
    sent: read as `parse_page` reads them (`read_items`), or by column where a preparer can.
    The worker that prepares them is handed the array alone, not the page around it, which it
    would walk again to find them.

    msgspec's depth, like Python's, is what is left of the interpreter's recursion limit: an
    array nested deep enough that `read_envelope` walked it on a shorter stack may not be
    walked here, and is then read item by item, as `parse_page` reads a page too deep for
    its parser."""
    try:
        chunk = JsonItems(items, read_items)
        chunk.texts  # noqa: B018 (walked here, where an array too deep can still be read)
    except RecursionError:
        text = items.decode("utf-8")
        return [_item(text[start:end]) for start, end in _array_elements(text, 0, len(text))]
    return chunk


def read_items(text: bytes) -> Any:
    """A page's items (its array, or one item) as `parse_page` reads them: an item too deep
    for Python's parser is kept as a `RawItem` (its text is JSON and UTF-8: msgspec read the
    page)."""
    return _item(text.decode("utf-8"))


def _page(document: Any) -> CitizenPage:
    if not isinstance(document, dict):
        raise PageShapeError(f"the body is a JSON {type(document).__name__}, not an object")
    missing = [key for key in ("items", "next_cursor", "total") if key not in document]
    if missing:
        raise PageShapeError(f"the page has no {', '.join(missing)}")
    items, next_cursor, total = document["items"], document["next_cursor"], document["total"]
    if not isinstance(items, list):
        raise PageShapeError(f"items is a JSON {type(items).__name__}, not an array")
    if next_cursor is not None and not (isinstance(next_cursor, str) and next_cursor):
        raise PageShapeError(f"next_cursor is {next_cursor!r}, not a non-empty string or null")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise PageShapeError(f"total is {total!r}, not a non-negative integer")
    if isinstance(document, DuplicateKeys):
        raise PageShapeError(f"the page repeats the key(s) {', '.join(document.duplicate_keys)}")
    return CitizenPage(items=items, next_cursor=next_cursor, total=total)


def _decode_shallow(text: str) -> dict[str, Any]:
    """Decode a page whose items are too deep for Python's recursive parser: the page's own
    keys are read by scanning, each item is parsed on its own, and an item that still cannot
    be parsed is kept as a `RawItem`."""
    spans = _top_level_members(text)
    document: dict[str, Any] = {}
    for key, (start, end) in spans.items():
        if key == "items" and text[start] == "[":
            document[key] = [_item(text[a:b]) for a, b in _array_elements(text, start, end)]
        else:
            try:
                document[key] = _DECODER.decode(text[start:end])
            except (RecursionError, ValueError) as exc:
                raise PageShapeError(f"the page's {key!r} cannot be read ({exc})") from exc
    return document


def _item(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except RecursionError:
        return RawItem(text, "nested too deep to parse")
    except ValueError as exc:
        return RawItem(text, f"not JSON ({exc})")


def _scan_value_end(text: str, start: int) -> int:
    """Index just past the JSON value starting at ``start``, by counting brackets outside
    strings (iteratively, so depth costs nothing)."""
    depth, index, length = 0, start, len(text)
    while index < length:
        char = text[index]
        if char == '"':
            index += 1
            while index < length and text[index] != '"':
                index += 2 if text[index] == "\\" else 1
            if depth == 0:
                return index + 1
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index + 1
            if depth < 0:
                return index
        elif char in ",\n\r\t " and depth == 0 and index > start:
            return index
        index += 1
    if depth:
        raise PageNotJson("the body ends inside a JSON value (truncated page)")
    return index


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _top_level_members(text: str) -> dict[str, tuple[int, int]]:
    index = _skip_space(text, 0)
    if not text.startswith("{", index):
        raise PageShapeError("the body is not a JSON object")
    members: dict[str, tuple[int, int]] = {}
    index = _skip_space(text, index + 1)
    while index < len(text) and text[index] != "}":
        key_end = _scan_value_end(text, index)
        key = json.loads(text[index:key_end])
        index = _skip_space(text, key_end)
        if not text.startswith(":", index):
            raise PageNotJson(f"expected ':' at character {index}")
        value_start = _skip_space(text, index + 1)
        value_end = _scan_value_end(text, value_start)
        members[key] = (value_start, value_end)
        index = _skip_space(text, value_end)
        if text.startswith(",", index):
            index = _skip_space(text, index + 1)
    return members


def _array_elements(text: str, start: int, end: int) -> list[tuple[int, int]]:
    elements = []
    index = _skip_space(text, start + 1)
    while index < end - 1:
        element_end = _scan_value_end(text, index)
        elements.append((index, element_end))
        index = _skip_space(text, element_end)
        if text.startswith(",", index):
            index = _skip_space(text, index + 1)
    return elements
