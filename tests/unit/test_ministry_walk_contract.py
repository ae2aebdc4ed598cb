"""The population API client against servers that break the contract: walks end, and errors
say which page, what was wrong and what came; odd items pass through to be quarantined."""

from __future__ import annotations

import math

import pytest

from lienthong.ministry.hook import (
    MinistryContractError,
    MinistryPopulationHook,
    MinistryUnavailableError,
)
from lienthong.ministry.page import DuplicateKeys, parse_page
from lienthong.pipeline.contract import RawItem
from tests.support.scripted_server import ScriptedServer, json_page, raw

TOKEN = "walk-contract-token"


def hook(monkeypatch, server: ScriptedServer, **options) -> MinistryPopulationHook:
    monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
    settings = {"page_size": 10, "backoff_base": 0.01, "backoff_max": 0.05, "max_attempts": 3}
    return MinistryPopulationHook("ministry_population", **{**settings, **options})


def items(n: int, start: int = 0) -> list[dict]:
    return [{"personal_id": f"{i:012d}"} for i in range(start, start + n)]


def test_a_cursor_cycle_stops_the_walk_at_once(monkeypatch):
    script = {None: ("A", 0), "A": ("B", 10), "B": ("A", 20)}

    def answer(query):
        next_cursor, start = script[query.get("cursor")]
        return json_page(items(10, start), next_cursor, 40)

    with (
        ScriptedServer(answer) as server,
        pytest.raises(MinistryContractError, match=r"page 3 \(cursor 'B'\).*'A' was already seen"),
    ):
        list(hook(monkeypatch, server).iter_pages())
    assert len(server.queries) == 3


def test_endless_new_cursors_stop_once_more_items_than_total_arrive(monkeypatch):
    def answer(query):
        n = int(query.get("cursor", "0"))
        return json_page(items(10, n * 10), str(n + 1), 40)

    with (
        ScriptedServer(answer) as server,
        pytest.raises(MinistryContractError, match="50 items received, more than the total of 40"),
    ):
        list(hook(monkeypatch, server).iter_pages())
    assert len(server.queries) == 5


def test_items_past_the_total_a_walk_accepts_stop_past_the_total_again(monkeypatch):
    # Records written while a walk runs may come past its total (the walk's `past_total`
    # judges them), but never more of them than the total itself or a page: an endless
    # server is still walked no further.
    def answer(query):
        n = int(query.get("cursor", "0"))
        return json_page(items(10, n * 10), str(n + 1), 20)

    accepted: list[tuple[int, int]] = []
    with (
        ScriptedServer(answer) as server,
        pytest.raises(MinistryContractError, match="50 items received, more than the total of 20"),
    ):
        walk = hook(monkeypatch, server).iter_pages(
            past_total=lambda page, beyond, where: accepted.append((len(page.items), beyond))
        )
        list(walk)
    assert accepted == [(10, 10), (10, 20)]
    assert len(server.queries) == 5


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ('{"next_cursor": null, "total": 3}', "the page has no items"),
        ('{"items": [], "next_cursor": 7, "total": 3}', "next_cursor is 7"),
        ('{"items": {"a": 1}, "next_cursor": null, "total": 3}', "items is a JSON dict"),
        ('{"items": [], "next_cursor": null, "total": "3"}', "total is '3'"),
        ('[{"personal_id": "1"}]', "the body is a JSON list"),
    ],
)
def test_a_json_page_of_the_wrong_shape_is_a_contract_error_at_once(monkeypatch, body, what):
    with (
        ScriptedServer(lambda q: raw(body)) as server,
        pytest.raises(MinistryContractError) as error,
    ):
        list(hook(monkeypatch, server).iter_pages())
    assert len(server.queries) == 1  # not retried
    message = str(error.value)
    assert "page at cursor None" in message
    assert what in message
    assert body[:20] in message  # an excerpt of what came


@pytest.mark.parametrize("defer_items", [False, True])
@pytest.mark.parametrize(
    "envelope",
    [
        '"next_cursor": null, "total": 1, "tot\\u0061l": 2',
        '"n\\u0065xt_cursor": "X", "next_cursor": null, "total": 1',
    ],
)
def test_an_envelope_key_given_twice_once_escaped_is_a_contract_error_at_the_page(
    monkeypatch, envelope, defer_items
):
    # msgspec reads an escaped key as the key it spells, keeping one of the two: the page
    # must not be vouched for and left to a worker, which could not say which page it was.
    body = '{"items": [{"personal_id": "1"}], ' + envelope + "}"
    with (
        ScriptedServer(lambda q: raw(body)) as server,
        pytest.raises(MinistryContractError) as error,
    ):
        list(hook(monkeypatch, server).iter_pages(defer_items=defer_items))
    message = str(error.value)
    assert "connection 'ministry_population': page at cursor None breaks the contract" in message
    assert "the page repeats the key(s) " in message


def test_an_html_page_is_retried_then_reported_with_the_page_and_an_excerpt(monkeypatch):
    html = "<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"

    def answer(query):
        if "cursor" not in query:
            return json_page(items(10), "P2", 20)
        return raw(html, content_type="text/html")

    with ScriptedServer(answer) as server, pytest.raises(MinistryUnavailableError) as error:
        list(hook(monkeypatch, server).iter_pages())
    assert len(server.queries) == 1 + 3
    message = str(error.value)
    assert "page at cursor 'P2' is not a JSON page" in message
    assert "text/html" in message
    assert "502 Bad Gateway" in message


def test_a_total_beyond_32_bits_passes_through(monkeypatch):
    with ScriptedServer(lambda q: json_page(items(3), None, 2**31)) as server:
        pages = list(hook(monkeypatch, server).iter_pages())
    assert pages[0].total == 2**31


def test_odd_items_come_through_as_items_for_rule_pk5():
    deep = "[" * 100_000 + "]" * 100_000
    body = (
        '{"total": 6, "next_cursor": null, "items": ['
        '"just a string", null, {"personal_id": "1", "personal_id": "2"},'
        '{"full_name": NaN}, ' + deep + ', {"full_name": "Tr\\ud800n"}]}'
    ).encode()
    page = parse_page(body)
    assert page.total == 6
    assert page.items[0] == "just a string"
    assert page.items[1] is None
    assert isinstance(page.items[2], DuplicateKeys)
    assert page.items[2].duplicate_keys == ("personal_id",)
    assert math.isnan(page.items[3]["full_name"])
    assert isinstance(page.items[4], RawItem)
    assert page.items[4].text == deep
    assert "too deep" in page.items[4].reason
    assert page.items[5]["full_name"] == "Tr\ud800n"
