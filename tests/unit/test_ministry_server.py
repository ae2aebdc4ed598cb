"""The demo Ministry server against the contract (SOURCES.md §1), with plain HTTP requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import requests

from lienthong_demo.ministry_server import MinistryServer, parse_fault

TOKEN = "server-token-55aa"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
START = datetime(2026, 11, 1, tzinfo=UTC)


def make_citizens(count: int) -> list[dict]:
    """Items in (updated_at, personal_id) order; two records share each timestamp."""
    return [
        {
            "personal_id": f"0791950{index:05d}",
            "full_name": "Trần Thị Bình",
            "permanent_address": {
                "province_code": "79" if index % 2 else "01",
                "commune_code": "26734",
                "detail": "",
            },
            "current_address": None,
            "updated_at": (START + timedelta(seconds=index // 2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        for index in range(count)
    ]


@pytest.fixture
def citizens() -> list[dict]:
    return make_citizens(50)


@pytest.fixture
def server(citizens: list[dict]) -> Iterator[MinistryServer]:
    with MinistryServer(citizens, token=TOKEN) as running:
        yield running


def get(server: MinistryServer, headers: dict | None = AUTH, **params) -> requests.Response:
    return requests.get(f"{server.url}/v1/citizens", params=params, headers=headers, timeout=10)


def walk(server: MinistryServer, **params) -> tuple[list[dict], list[dict]]:
    """Follow next_cursor to the end; return the items and the page bodies."""
    bodies, cursor = [], None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        response = get(server, **query)
        assert response.status_code == 200, response.text
        bodies.append(response.json())
        cursor = bodies[-1]["next_cursor"]
        if cursor is None:
            return [item for body in bodies for item in body["items"]], bodies


def test_url_is_loopback_with_bound_port(server):
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.port > 0


def test_default_limit_is_1000_and_last_page_has_null_cursor():
    citizens = make_citizens(1500)
    with MinistryServer(citizens, token=TOKEN) as server:
        items, bodies = walk(server)

    assert [len(body["items"]) for body in bodies] == [1000, 500]
    assert [body["total"] for body in bodies] == [1500, 1500]
    assert isinstance(bodies[0]["next_cursor"], str)
    assert bodies[1]["next_cursor"] is None
    assert items == citizens


def test_pages_cover_everything_once_in_order(server, citizens):
    items, bodies = walk(server, limit=7)

    assert items == citizens
    assert len(bodies) == 8
    assert {body["total"] for body in bodies} == {50}


def test_unsorted_input_is_served_in_updated_at_personal_id_order(citizens):
    with MinistryServer(list(reversed(citizens)), token=TOKEN) as server:
        items, _ = walk(server, limit=9)

    assert items == citizens


def test_identical_keys_across_a_page_boundary_are_both_served():
    # Two records with the same (updated_at, personal_id): rule P-K3 needs to see both.
    citizens = make_citizens(4)
    twin = dict(citizens[1], full_name="Trần Thị Bính")
    with MinistryServer([*citizens[:2], twin, *citizens[2:]], token=TOKEN) as server:
        items, _ = walk(server, limit=2)

    assert items == [citizens[0], citizens[1], twin, citizens[2], citizens[3]]


def test_time_bounds_are_inclusive_then_exclusive(server, citizens):
    # Records 10 and 11 share START+5s; records 30 and 31 share START+15s.
    items, bodies = walk(
        server, updated_since="2026-11-01T00:00:05Z", updated_before="2026-11-01T00:00:15Z", limit=6
    )

    assert items == citizens[10:30]
    assert {body["total"] for body in bodies} == {20}


def test_timestamps_with_offsets_and_fractions_are_understood(server, citizens):
    # 07:00:05.5 at +07:00 is 00:00:05.5 UTC: records from START+6s on.
    items, _ = walk(server, updated_since="2026-11-01T07:00:05.5+07:00")

    assert items == citizens[12:]


def test_province_filter_uses_permanent_address(server, citizens):
    items, bodies = walk(server, province_code="79", limit=10)

    assert items == citizens[1::2]
    assert {body["total"] for body in bodies} == {25}
    assert walk(server, province_code="15")[1] == [{"items": [], "next_cursor": None, "total": 0}]


def test_missing_or_wrong_token_is_401(server):
    missing = get(server, headers=None)
    wrong = get(server, headers={"Authorization": "Bearer nope"})
    basic = get(server, headers={"Authorization": f"Basic {TOKEN}"})

    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing.json() == {"error": "missing or wrong bearer token"}
    assert [served.status for served in server.requests_served] == [401, 401, 401]


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"updated_since": "2026-11-01"}, "updated_since must be an RFC 3339 timestamp"),
        ({"updated_before": "2026-11-01T00:00:00"}, "updated_before must be an RFC 3339"),
        ({"updated_since": "2026-13-01T00:00:00Z"}, "updated_since is not a valid timestamp"),
        ({"limit": "0"}, "limit must be 1 to 5000, got 0"),
        ({"limit": "5001"}, "limit must be 1 to 5000, got 5001"),
        ({"limit": "ten"}, "limit must be an integer"),
        ({"province_code": "7"}, "province_code must be 2 digits"),
        ({"province_code": "ab"}, "province_code must be 2 digits"),
        ({"cursor": "not-a-cursor"}, "bad cursor"),
        ({"cursor": "eyJwIjogLTF9"}, "bad cursor"),
    ],
)
def test_bad_parameters_are_400_with_error_text(server, params, error):
    response = get(server, **params)

    assert response.status_code == 400
    assert error in response.json()["error"]


def test_limit_5000_is_accepted(server):
    assert get(server, limit=5000).json()["total"] == 50


def test_cursor_from_another_query_is_400(server):
    cursor = get(server, limit=5).json()["next_cursor"]

    response = get(server, limit=5, province_code="79", cursor=cursor)

    assert response.status_code == 400
    assert "other filters" in response.json()["error"]


def test_limit_may_change_between_pages(server, citizens):
    first = get(server, limit=5).json()
    second = get(server, limit=20, cursor=first["next_cursor"]).json()

    assert second["items"] == citizens[5:25]


def test_unknown_path_is_404(server):
    response = requests.get(f"{server.url}/v1/households", headers=AUTH, timeout=10)
    assert response.status_code == 404


def test_status_faults_are_served_in_order_then_normal_answers(citizens):
    with MinistryServer(citizens, token=TOKEN, faults=["500", "502", "503", "ok", "503"]) as server:
        codes = [get(server, limit=10).status_code for _ in range(6)]
        served = list(server.requests_served)

    assert codes == [500, 502, 503, 200, 503, 200]
    assert [s.fault for s in served] == ["500", "502", "503", "ok", "503", None]
    assert server.status_counts() == {500: 1, 502: 1, 503: 2, 200: 2}
    assert server.faults_served() == ["500", "502", "503", "ok", "503"]


def test_429_carries_retry_after(citizens):
    with MinistryServer(citizens, token=TOKEN, faults=["429", "429:0", "429:2.5"]) as server:
        answers = [get(server) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 429]
    assert [a.headers["Retry-After"] for a in answers] == ["1", "0", "2.5"]


def test_truncate_serves_half_the_json(citizens):
    with MinistryServer(citizens, token=TOKEN, faults=["truncate"]) as server:
        cut = get(server, limit=10)
        whole = get(server, limit=10)

    assert cut.status_code == 200
    assert cut.content == whole.content[: len(whole.content) // 2]
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut.content)


def test_drop_closes_without_an_answer(citizens):
    with MinistryServer(citizens, token=TOKEN, faults=["drop"]) as server:
        with pytest.raises(requests.exceptions.ConnectionError):
            get(server)
        assert get(server).status_code == 200
        assert [s.status for s in server.requests_served] == [None, 200]


def test_hang_then_answers_normally(citizens):
    with MinistryServer(citizens, token=TOKEN, faults=["hang:0.2"]) as server:
        response = get(server, limit=3)

    assert response.status_code == 200
    assert response.json()["items"] == citizens[:3]


def test_stop_cuts_a_hang_short(citizens):
    server = MinistryServer(citizens, token=TOKEN, faults=["hang:600"]).start()
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(f"{server.url}/v1/citizens", headers=AUTH, timeout=(5, 0.3))
    server.stop()  # must return although a handler is sleeping in the hang

    assert [s.fault for s in server.requests_served] == ["hang:600"]


def test_total_offset_and_drop_field(citizens):
    with MinistryServer(citizens, token=TOKEN, total_offset=-2, drop_field="full_name") as server:
        items, bodies = walk(server, limit=20)

    assert {body["total"] for body in bodies} == {48}
    assert len(items) == 50
    assert all("full_name" not in item for item in items)
    assert all("full_name" in citizen for citizen in citizens)  # the input is left alone


def test_items_are_served_as_given_with_vietnamese_text_and_new_fields():
    citizen = dict(make_citizens(1)[0], full_name="Nguyễn Thị Lan", religion_code="00")
    with MinistryServer([citizen], token=TOKEN) as server:
        response = get(server)

    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert "Nguyễn Thị Lan".encode() in response.content
    assert response.json()["items"] == [citizen]


def test_parse_fault_rejects_unknown_specs():
    assert parse_fault("429").seconds == 1.0
    assert parse_fault("hang:3").seconds == 3.0
    for bad in ("404", "hang", "drop:2", "slow"):
        with pytest.raises(ValueError):
            parse_fault(bad)
