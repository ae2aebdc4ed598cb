"""MinistryPopulationHook against the real demo server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from lienthong.ministry.hook import (
    CitizenPage,
    MinistryAuthError,
    MinistryContractError,
    MinistryPopulationHook,
    MinistryRequestError,
    MinistryUnavailableError,
    format_rfc3339_utc,
)
from lienthong.pipeline.extraction import EncodedChunk
from lienthong_demo.ministry_server import MinistryServer

TOKEN = "demo-token-7f3a9c"
CONN_ID = "ministry_population"
START = datetime(2026, 11, 1, tzinfo=UTC)
PROVINCES = ("01", "79", "15", "48")


def make_citizens(count: int) -> list[dict]:
    """Items in (updated_at, personal_id) order; three records share each timestamp."""
    citizens = []
    for index in range(count):
        updated = START + timedelta(minutes=index // 3)
        citizens.append(
            {
                "personal_id": f"0012030{index:05d}",
                "full_name": f"Nguyễn Văn {index}",
                "permanent_address": {
                    "province_code": PROVINCES[index % len(PROVINCES)],
                    "commune_code": "00004",
                    "detail": "Số 12 phố Trúc Bạch",
                },
                # The current address differs, so a filter on it would give other results.
                "current_address": {"province_code": "79", "commune_code": "26734", "detail": ""},
                "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return citizens


def use_connection(monkeypatch: pytest.MonkeyPatch, server: MinistryServer, **fields) -> None:
    """Point the Airflow connection (env var form) at the server."""
    conn = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": server.port,
        "schema": "http",
        "password": TOKEN,
    }
    conn.update(fields)
    monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))


def fast_hook(**options) -> MinistryPopulationHook:
    """A hook with test-sized backoff and timeouts."""
    settings = {"page_size": 100, "backoff_base": 0.01, "backoff_max": 0.2, "timeout": 5.0}
    settings.update(options)
    return MinistryPopulationHook(CONN_ID, **settings)


def walk(hook: MinistryPopulationHook, **query) -> tuple[list[dict], list[CitizenPage]]:
    pages = list(hook.iter_pages(**query))
    return [item for page in pages for item in _decoded(page.items)], pages


def _decoded(items):
    return items.items() if isinstance(items, EncodedChunk) else items


@pytest.fixture
def citizens() -> list[dict]:
    return make_citizens(2345)


@pytest.fixture
def server(citizens: list[dict], monkeypatch: pytest.MonkeyPatch) -> Iterator[MinistryServer]:
    with MinistryServer(citizens, token=TOKEN) as running:
        use_connection(monkeypatch, running)
        yield running


def test_full_walk_returns_every_item_once_in_order(server, citizens):
    items, pages = walk(fast_hook(page_size=100))

    assert items == citizens
    assert len(pages) == 24
    assert [len(page.items) for page in pages] == [100] * 23 + [45]
    assert {page.total for page in pages} == {2345}
    assert all(page.next_cursor for page in pages[:-1])
    assert pages[-1].next_cursor is None
    assert all(parse_qs(served.query)["limit"] == ["100"] for served in server.requests_served)


def test_updated_bounds_are_inclusive_then_exclusive(server, citizens):
    # Records 300..302 share START+100min; 600..602 share START+200min.
    since = START + timedelta(minutes=100)
    before = START + timedelta(minutes=200)

    items, pages = walk(fast_hook(page_size=50), updated_since=since, updated_before=before)

    assert items == citizens[300:600]
    assert items[0]["personal_id"] == "001203000300"
    assert items[-1]["personal_id"] == "001203000599"
    assert {page.total for page in pages} == {300}


def test_datetimes_are_sent_as_rfc3339_utc_with_z(server, citizens):
    # 09:40 at UTC+7 is 02:40 UTC, i.e. START + 160 minutes.
    since = datetime(2026, 11, 1, 9, 40, tzinfo=timezone(timedelta(hours=7)))

    items, _ = walk(fast_hook(page_size=5000), updated_since=since)

    sent = parse_qs(server.requests_served[0].query)
    assert sent["updated_since"] == ["2026-11-01T02:40:00Z"]
    assert items == citizens[480:]


def test_format_rfc3339_utc_keeps_microseconds_and_refuses_naive():
    moment = datetime(2026, 11, 20, 8, 15, 0, 250000, tzinfo=UTC)
    assert format_rfc3339_utc(moment) == "2026-11-20T08:15:00.250000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_rfc3339_utc(datetime(2026, 11, 20, 8, 15))


def test_province_filter_uses_permanent_address(server, citizens):
    items, pages = walk(fast_hook(page_size=100), province_code="79")

    expected = [c for c in citizens if c["permanent_address"]["province_code"] == "79"]
    assert items == expected
    assert len(items) == 586
    assert {page.total for page in pages} == {586}


def test_province_and_time_filters_combine(server, citizens):
    since = START + timedelta(minutes=10)
    before = START + timedelta(minutes=20)

    items, _ = walk(fast_hook(), updated_since=since, updated_before=before, province_code="01")

    assert [c["personal_id"] for c in items] == [
        c["personal_id"] for c in citizens[30:60] if c["permanent_address"]["province_code"] == "01"
    ]
    assert len(items) == 7


@pytest.mark.parametrize("defer_items", [False, True])
def test_faults_across_pages_still_give_every_record_once(
    citizens, monkeypatch, caplog, defer_items
):
    faults = ["429:0", "ok", "503", "ok", "truncate", "hang:3", "ok", "drop", "500"]
    with MinistryServer(citizens[:1000], token=TOKEN, faults=faults) as server:
        use_connection(monkeypatch, server)
        hook = fast_hook(page_size=250, timeout=0.5)
        with caplog.at_level(logging.WARNING, logger="lienthong.ministry.hook"):
            items, pages = walk(hook, defer_items=defer_items)
        served = list(server.requests_served)

    assert items == citizens[:1000]
    assert len(pages) == 4
    # Left encoded when asked (a truncated page was retried, not handed on encoded).
    assert all(isinstance(page.items, EncodedChunk) == defer_items for page in pages)
    assert {page.total for page in pages} == {1000}
    assert [s.fault for s in served if s.fault is not None] == faults
    statuses = Counter(s.status for s in served)
    # 4 good pages, plus the 200s that were truncated or came too late (hang).
    assert statuses == Counter({200: 6, 429: 1, 503: 1, 500: 1, None: 1})
    # Each retry asked for the same cursor again.
    cursors = [parse_qs(s.query).get("cursor", [""])[0] for s in served]
    assert cursors[0] == cursors[1]  # 429 then page 1
    assert cursors[2] == cursors[3]  # 503 then page 2
    assert cursors[4] == cursors[5] == cursors[6]  # truncate, hang, then page 3
    assert cursors[7] == cursors[8] == cursors[9]  # drop, 500, then page 4
    assert len(set(cursors)) == 4
    retries = [r for r in caplog.records if "retrying same cursor" in r.getMessage()]
    assert len(retries) == 6
    assert all(TOKEN not in r.getMessage() for r in caplog.records)


def test_retry_after_is_honoured_beyond_the_backoff_cap_and_capped(citizens, monkeypatch, caplog):
    with MinistryServer(citizens[:10], token=TOKEN, faults=["429:0.15", "429:120"]) as server:
        use_connection(monkeypatch, server)
        with caplog.at_level(logging.WARNING, logger="lienthong.ministry.hook"):
            items, _ = walk(fast_hook(backoff_max=0.05, retry_after_max=0.25))

    assert items == citizens[:10]
    waits = [r.getMessage() for r in caplog.records if "retrying same cursor" in r.getMessage()]
    assert len(waits) == 2
    assert waits[0].endswith("in 0.15s")  # the server's wait, though backoff_max is 0.05
    assert waits[1].endswith("in 0.25s")  # 120 s asked, capped at retry_after_max
    assert "status 429" in waits[0]


def test_gives_up_after_max_attempts_with_clear_error(citizens, monkeypatch):
    with MinistryServer(citizens[:10], token=TOKEN, faults=["503", "502", "503", "ok"]) as server:
        use_connection(monkeypatch, server)
        with pytest.raises(MinistryUnavailableError) as raised:
            walk(fast_hook(max_attempts=3))
        served = list(server.requests_served)

    assert len(served) == 3
    assert raised.value.attempts == 3
    assert raised.value.last_error.status == 503
    message = str(raised.value)
    assert CONN_ID in message
    assert "3 attempts" in message
    assert "HTTP 503" in message
    assert TOKEN not in message


def test_unreachable_server_is_retried_then_reported(citizens, monkeypatch):
    with MinistryServer(citizens[:10], token=TOKEN) as server:
        use_connection(monkeypatch, server)
    # The server is stopped: its port now refuses connections.
    with pytest.raises(MinistryUnavailableError, match="connection failed"):
        walk(fast_hook(max_attempts=2))


def test_wrong_token_raises_auth_error_at_once(citizens, monkeypatch):
    wrong = "wrong-token-1b2c3d"
    with MinistryServer(citizens[:10], token=TOKEN) as server:
        use_connection(monkeypatch, server, password=wrong)
        with pytest.raises(MinistryAuthError) as raised:
            walk(fast_hook())
        served = list(server.requests_served)

    assert [s.status for s in served] == [401]
    message = str(raised.value)
    assert CONN_ID in message
    assert "401" in message
    assert wrong not in message
    assert TOKEN not in message


def test_connection_without_password_is_an_auth_error(citizens, monkeypatch):
    with MinistryServer(citizens[:10], token=TOKEN) as server:
        use_connection(monkeypatch, server, password=None)
        with pytest.raises(MinistryAuthError, match=CONN_ID):
            walk(fast_hook())
        assert server.requests_served == []


def test_bad_parameter_raises_with_server_text_and_params(server):
    with pytest.raises(MinistryRequestError) as raised:
        walk(fast_hook(), province_code="7")

    assert raised.value.status == 400
    assert raised.value.error == "province_code must be 2 digits, got '7'"
    assert raised.value.params == {"limit": "100", "province_code": "7"}
    assert "province_code must be 2 digits" in str(raised.value)
    assert "'province_code': '7'" in str(raised.value)
    assert len(server.requests_served) == 1


def test_total_changing_mid_walk_is_a_contract_error(server):
    pages = fast_hook().iter_pages()
    first = next(pages)
    assert first.total == 2345
    server.total_offset = 7

    with pytest.raises(MinistryContractError, match=r"total changed .* from 2345 to 2352"):
        next(pages)


def test_announced_total_is_passed_through_for_rule_ps2(citizens, monkeypatch):
    # A total that disagrees with the records is rule P-S2's business (hold), not the hook's.
    with MinistryServer(citizens[:120], token=TOKEN, total_offset=3) as server:
        use_connection(monkeypatch, server)
        items, pages = walk(fast_hook())

    assert len(items) == 120
    assert {page.total for page in pages} == {123}


def test_new_and_missing_fields_pass_through(monkeypatch):
    citizens = make_citizens(30)
    for citizen in citizens:
        citizen["blood_type"] = "O"
    with MinistryServer(citizens, token=TOKEN, drop_field="full_name") as server:
        use_connection(monkeypatch, server)
        items, _ = walk(fast_hook(page_size=7))

    assert len(items) == 30
    assert all(item["blood_type"] == "O" for item in items)
    assert all("full_name" not in item for item in items)


def test_host_may_carry_the_scheme(server, citizens, monkeypatch):
    use_connection(monkeypatch, server, host="http://127.0.0.1", schema=None)

    items, _ = walk(fast_hook(page_size=1000))

    assert items == citizens


@pytest.mark.parametrize(
    ("uri", "base_url"),
    [
        ("https://:tok@api.example:8443", "https://api.example:8443"),
        ("http://:tok@api.example", "http://api.example"),
        # Airflow's own spelling of TLS for an http connection: the schema.
        ("http://:tok@api.example/https", "https://api.example"),
    ],
)
def test_a_connection_given_as_https_is_walked_over_tls(monkeypatch, uri, base_url):
    # HttpHook alone would read https://:token@host as http://host, the token in clear.
    monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_HTTPS", uri)
    hook = MinistryPopulationHook("ministry_https")
    hook.get_conn().close()
    assert hook.base_url == base_url


def test_test_connection_reports_total(server):
    assert fast_hook().test_connection() == (True, "Connection successfully tested (2345 citizens)")


def test_constructor_checks_arguments():
    with pytest.raises(ValueError, match="page_size"):
        MinistryPopulationHook(page_size=5001)
    with pytest.raises(ValueError, match="max_attempts"):
        MinistryPopulationHook(max_attempts=0)
    hook = MinistryPopulationHook()
    assert hook.ministry_conn_id == "ministry_population"
    assert MinistryPopulationHook.conn_name_attr == "ministry_conn_id"
