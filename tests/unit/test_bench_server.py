"""The benchmark's API server answers the population contract: pages in API order, the
filters, opaque cursors, totals, and later files replacing earlier versions of a record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.server import BadRequest, PreEncodedCitizens


def _item(personal_id: str, updated_at: str, province: str = "01") -> dict:
    return {
        "personal_id": personal_id,
        "full_name": "Nguyễn Thị Lan",
        "permanent_address": {"province_code": province, "commune_code": "00004"},
        "updated_at": updated_at,
    }


def _write(path: Path, items: list[dict]) -> Path:
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), "utf-8")
    return path


def _walk(citizens: PreEncodedCitizens, **params: str) -> tuple[list[dict], list[int]]:
    items, totals, cursor = [], [], None
    while True:
        query = "&".join(
            f"{k}={v}" for k, v in {**params, **({"cursor": cursor} if cursor else {})}.items()
        )
        page = json.loads(citizens.page(query))
        items += page["items"]
        totals.append(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items, totals


def test_pages_follow_the_contract(tmp_path):
    stamps = [f"2026-11-20T08:00:0{n % 5}Z" for n in range(10)]
    items = [_item(f"{n:012d}", stamp, "01" if n % 2 else "79") for n, stamp in enumerate(stamps)]
    citizens = PreEncodedCitizens([_write(tmp_path / "items.jsonl", items)])

    walked, totals = _walk(citizens, limit="3")
    expected = sorted(items, key=lambda i: (i["updated_at"], i["personal_id"]))
    assert walked == expected
    assert set(totals) == {10}

    since, _ = _walk(citizens, limit="4", updated_since="2026-11-20T08:00:03Z")
    assert since == [i for i in expected if i["updated_at"] >= "2026-11-20T08:00:03Z"]
    window, _ = _walk(
        citizens,
        updated_since="2026-11-20T08:00:01Z",
        updated_before="2026-11-20T08:00:03Z",
    )
    assert {i["updated_at"] for i in window} == {"2026-11-20T08:00:01Z", "2026-11-20T08:00:02Z"}
    province, totals = _walk(citizens, limit="2", province_code="79")
    assert province == [i for i in expected if i["permanent_address"]["province_code"] == "79"]
    assert set(totals) == {5}


def test_a_later_file_replaces_every_earlier_version_of_a_record(tmp_path):
    first = _write(
        tmp_path / "items.jsonl",
        [
            _item("000000000001", "2026-11-20T08:00:00Z"),
            _item("000000000001", "2026-11-20T08:00:00Z"),  # a copy (P-K3)
            _item("000000000002", "2026-11-20T08:00:01Z"),
        ],
    )
    changed = {**_item("000000000001", "2026-11-21T00:00:00Z"), "household_id": "HK1"}
    citizens = PreEncodedCitizens([first, _write(tmp_path / "changes.jsonl", [changed])])
    walked, _ = _walk(citizens)
    assert walked == [_item("000000000002", "2026-11-20T08:00:01Z"), changed]


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=5001", "limit=x", "cursor=garbage", "updated_since=yesterday"],
)
def test_bad_queries_are_refused(tmp_path, query):
    citizens = PreEncodedCitizens(
        [_write(tmp_path / "i.jsonl", [_item("1", "2026-11-20T08:00:00Z")])]
    )
    with pytest.raises(BadRequest):
        citizens.page(query)


def test_a_cursor_of_another_query_is_refused(tmp_path):
    items = [_item(f"{n:012d}", "2026-11-20T08:00:00Z") for n in range(3)]
    citizens = PreEncodedCitizens([_write(tmp_path / "i.jsonl", items)])
    cursor = json.loads(citizens.page("limit=1"))["next_cursor"]
    with pytest.raises(BadRequest):
        citizens.page(f"limit=1&province_code=79&cursor={cursor}")
