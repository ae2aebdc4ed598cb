"""Inputs that real sources send and one-defect-per-row generators do not: each must end in a
known outcome, never in a stuck pipeline."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline.batches import BatchHeld
from lienthong.population.personal_id import compose_personal_id
from lienthong.reference.address_codes import address_codes
from lienthong.reference.admin_units import commune_conversion, legacy_communes
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import ministry, run_batch
from .population_fixtures import population_sync as sync

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clean(count: int = 60) -> list[dict]:
    return [c.item for c in generate_citizens(count, seed=9, defect_rate=0.0, now=NOW)]


def _run(batch_key: str, *, full: bool = True, now: datetime = NOW) -> tuple[int, dict]:
    return run_batch(batch_key, full=full, now=now)


def _findings(url: str, batch_no: int) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    with psycopg.connect(url) as conn:
        for row_no, rule_id in conn.execute(
            "SELECT row_no, rule_id FROM audit.findings WHERE batch_no = %s", (batch_no,)
        ):
            found.setdefault(row_no, set()).add(rule_id)
    return found


def _whole_legacy_commune_with_leading_zeros():
    codes = address_codes()
    targets: dict[str, list[str]] = {}
    for legacy, new in commune_conversion():
        targets.setdefault(legacy, []).append(new)
    for commune in legacy_communes():
        if (
            commune.code.startswith("0")
            and len(targets.get(commune.code, [])) == 1
            and not codes.is_current(commune.province_code, commune.code)
        ):
            return commune, targets[commune.code][0]
    raise AssertionError("no such commune in the reference data")


def test_an_unpadded_pre_2025_code_is_padded_and_remapped_in_one_recorded_fix(
    warehouse_url, monkeypatch
):
    legacy, new_code = _whole_legacy_commune_with_leading_zeros()
    items = _clean()
    items[5]["permanent_address"] = {
        "province_code": legacy.province_code,
        "commune_code": legacy.code.lstrip("0"),
        "detail": "Thôn Đông",
    }
    with ministry(monkeypatch, items):
        batch_no, counts = _run("population:pad-and-remap")
    assert counts["quarantined"] == 0
    with psycopg.connect(warehouse_url) as conn:
        fixes = conn.execute(
            "SELECT rule_id, field, original, fixed FROM audit.fixes WHERE batch_no = %s"
            " AND row_no = 5 AND field = 'permanent_address.commune_code'",
            (batch_no,),
        ).fetchall()
        published = conn.execute(
            "SELECT perm_commune_code FROM core.population WHERE personal_id = %s",
            (items[5]["personal_id"],),
        ).fetchone()[0]
    assert fixes == [("P-L3", "permanent_address.commune_code", legacy.code.lstrip("0"), new_code)]
    assert published == new_code


def test_nul_characters_do_not_stop_the_batch(warehouse_url, monkeypatch):
    items = _clean()
    items[3]["full_name"] = "Nguyễn\x00Lan"
    items[4]["household_id"] = "HK\x000000000001"
    with ministry(monkeypatch, items):
        batch_no, counts = _run("population:nul")
    assert _findings(warehouse_url, batch_no) == {3: {"P-K2"}}
    assert counts["received"] == 60
    with psycopg.connect(warehouse_url) as conn:
        payload = conn.execute(
            "SELECT payload->>'full_name' FROM quarantine.records WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
    assert payload == "Nguyễn\ufffdLan"


def test_a_retried_extraction_judges_liveness_by_its_own_clock(warehouse_url, monkeypatch):
    items = _clean()
    with ministry(monkeypatch, items):
        sync.extract("population:retry", full=True, now=NOW)
    # An hour later the task is retried; the source now also holds rows from the last 50 minutes.
    later = NOW + timedelta(hours=1)
    fresh = copy.deepcopy(items[:5])
    for n, item in enumerate(fresh):
        item["personal_id"] = item["personal_id"][:6] + f"{900000 + n}"
        item["updated_at"] = _stamp(NOW + timedelta(minutes=50))
    with ministry(monkeypatch, items + fresh):
        batch_no, counts = _run("population:retry", now=later)
    assert _findings(warehouse_url, batch_no) == {}
    assert counts["published"] == 65


def test_dates_are_judged_by_the_day_in_vietnam(warehouse_url, monkeypatch):
    # 18:00 UTC on 20 November is 01:00 on 21 November in Hà Nội: a birth registered that day
    # is not in the future.
    evening = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
    items = _clean()
    baby = copy.deepcopy(items[0])
    born = date(2026, 11, 21)
    baby.update(
        personal_id=compose_personal_id("01", "F", born, 4242),
        sex="F",
        date_of_birth=born.isoformat(),
        marital_status=None,
        updated_at=_stamp(evening - timedelta(minutes=1)),
    )
    with ministry(monkeypatch, [*items, baby]):
        batch_no, counts = _run("population:vietnam-day", now=evening)
    assert _findings(warehouse_url, batch_no) == {}
    assert counts["published"] == 61


def test_a_copy_with_an_unreadable_timestamp_is_quarantined_and_the_readable_one_published(
    warehouse_url, monkeypatch
):
    items = _clean()
    broken = copy.deepcopy(items[7])
    broken["updated_at"] = "garbage"
    broken["marital_status"] = "divorced"
    with ministry(monkeypatch, items) as server:
        # The demo server sorts by updated_at, so it cannot hold "garbage"; a real source can
        # still send it. Serve it at the end of the walk.
        monkeypatch.setattr(server, "_page", _append_to_last_page(server._page, broken))
        batch_no, counts = _run("population:garbage-version")
    # A timestamp that is not RFC 3339 breaks the contract (P-K5): the copy takes no part in
    # choosing the newest version, and the reason says what is wrong with it.
    assert _findings(warehouse_url, batch_no) == {60: {"P-K5"}}
    with psycopg.connect(warehouse_url) as conn:
        reason = conn.execute("SELECT reason FROM audit.findings").fetchone()[0]
        published = conn.execute(
            "SELECT marital_status FROM core.population WHERE personal_id = %s",
            (items[7]["personal_id"],),
        ).fetchone()
    assert "updated_at: 'garbage' is not an RFC 3339 timestamp with a zone" in reason
    assert published == (items[7]["marital_status"],)
    assert counts == {**counts, "received": 61, "published": 60, "collapsed": 0, "quarantined": 1}


def _append_to_last_page(page, extra_item):
    def patched(query):
        answer = page(query)
        if answer["next_cursor"] is None:
            answer = {
                **answer,
                "items": [*answer["items"], extra_item],
                "total": answer["total"] + 1,
            }
        else:
            answer = {**answer, "total": answer["total"] + 1}
        return answer

    return patched


def test_future_rows_do_not_make_a_stale_extraction_fresh(warehouse_url, monkeypatch):
    items = _clean()
    future = copy.deepcopy(items[-1])
    future["personal_id"] = future["personal_id"][:6] + "999999"
    future["updated_at"] = "2099-01-01T00:00:00Z"
    with ministry(monkeypatch, [*items, future]):
        batch_no = sync.extract("population:stale-future", full=True, now=NOW + timedelta(days=40))
    with pytest.raises(BatchHeld, match=r"rule P-L1 \(live\)"):
        sync.validate(batch_no)


def test_a_documented_field_missing_from_some_items_holds_the_batch(warehouse_url, monkeypatch):
    items = _clean()
    del items[10]["date_of_death"]
    with ministry(monkeypatch, items):
        batch_no = sync.extract("population:missing-field", full=True, now=NOW)
    with pytest.raises(BatchHeld, match=r"rule P-S3 \(sufficient\).*date_of_death"):
        sync.validate(batch_no)


def test_counts_say_what_changed_core(warehouse_url, monkeypatch):
    items = _clean()
    with ministry(monkeypatch, items):
        _, first = _run("population:first")
        _, second = _run("population:second")  # the same records again, in a new batch
    assert (first["published"], first["applied"]) == (60, 60)
    assert (second["published"], second["applied"]) == (60, 0)


def test_a_later_batch_writes_newer_versions_and_new_keys_only(warehouse_url, monkeypatch):
    """Known keys are updated where the batch's version is newer, new keys inserted; an equal
    or older version leaves core as it is."""
    items = _clean()
    with ministry(monkeypatch, items):
        _run("population:versions-first")
    later = copy.deepcopy(items)
    stamp = datetime.fromisoformat(items[0]["updated_at"])
    later[0].update(household_id="HH-NEWER", updated_at=(stamp + timedelta(hours=1)).isoformat())
    stamp = datetime.fromisoformat(items[1]["updated_at"])
    later[1].update(household_id="HH-OLDER", updated_at=(stamp - timedelta(days=1)).isoformat())
    later[2]["household_id"] = "HH-EQUAL"  # same version, other content
    new_key = copy.deepcopy(items[3])
    new_key["personal_id"] = new_key["personal_id"][:6] + "777777"
    later.append(new_key)
    with ministry(monkeypatch, later):
        batch_no, counts = _run("population:versions-second")
    assert (counts["published"], counts["applied"]) == (61, 2)
    with psycopg.connect(warehouse_url) as conn:
        core = dict(
            conn.execute(
                "SELECT personal_id, household_id FROM core.population WHERE personal_id IN"
                " (%s, %s, %s, %s)",
                [item["personal_id"] for item in (*items[:3], new_key)],
            ).fetchall()
        )
        written = conn.execute(
            "SELECT count(*) FROM core.population WHERE batch_no = %s", (batch_no,)
        ).fetchone()[0]
    assert core == {
        items[0]["personal_id"]: "HH-NEWER",
        items[1]["personal_id"]: items[1]["household_id"],
        items[2]["personal_id"]: items[2]["household_id"],
        new_key["personal_id"]: new_key["household_id"],
    }
    assert written == 2


def test_the_batch_report_says_what_happened(warehouse_url, monkeypatch):
    from lienthong.pipeline.report import batch_report

    items = _clean()
    items[2]["sex"] = "X"  # P-C7
    with ministry(monkeypatch, items):
        batch_no, _ = _run("population:report")
    with psycopg.connect(warehouse_url) as conn:
        report = batch_report(conn, batch_no)
    assert f"batch {batch_no} (full): published" in report
    assert (
        "received 60 (source announced 60): published 59, quarantined 1, duplicates collapsed 0"
        in report
    )
    assert "correct     98.33%  (threshold 95%, 1 rows failing)" in report
    assert "rows caught by rule: P-C7 1 (quarantine)" in report
