"""The seeded citizen generator: determinism, API order, streaming, clean rows, defects.

The defect tests judge each row with ``rules_failed`` below, a small re-statement of the
population row rules of RULES.md written independently of the generator, so that a defect
which trips a second rule (or none) fails here.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import pycountry
import pytest

from lienthong.population.contract import DOCUMENTED_FIELDS
from lienthong.population.personal_id import compose_personal_id
from lienthong.reference import admin_units
from lienthong.text.vietnamese import name_defect, normalise_text
from lienthong_demo.citizens import (
    DEFECTS,
    GeneratedCitizen,
    expected_outcomes,
    generate_citizens,
)

NOW = datetime(2026, 11, 20, 8, 15, 30, tzinfo=UTC)
SPAN = timedelta(days=30)
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
COUNTRY_CODES = {country.alpha_2 for country in pycountry.countries}


@cache
def codes() -> dict[str, Any]:
    """Reference lookups for the oracle, built from admin_units directly."""
    conversion = Counter(old for old, _ in admin_units.commune_conversion())
    return {
        "birth": {f"0{p.code}" for p in admin_units.legacy_provinces()},
        "current": {(c.province_code, c.code) for c in admin_units.current_communes()},
        "legacy": {(c.province_code, c.code) for c in admin_units.legacy_communes()},
        "targets": conversion,
    }


def parse_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def rules_failed(item: dict[str, Any], now: datetime = NOW) -> set[str]:
    """Population row rules (P-C*, P-S1, P-K1, P-K2, P-K4, P-L2, P-L3) this item trips.

    Inputs that are null are P-S1's business; the checks that need them are skipped.
    """
    failed: set[str] = set()
    ref = codes()
    today = now.date()
    pid, sex = item["personal_id"], item["sex"]
    born = parse_date(item["date_of_birth"])
    address = item["permanent_address"]
    if any(v is None for v in (pid, item["full_name"], item["date_of_birth"], sex)) or any(
        address[k] is None for k in ("province_code", "commune_code")
    ):
        failed.add("P-S1")
    if pid is not None:
        if not re.fullmatch(r"\d{12}", pid):
            failed.add("P-C1")
        else:
            if pid[:3] not in ref["birth"]:
                failed.add("P-C2")
            year = (
                born.year
                if born
                else (int(item["date_of_birth"][:4]) if item["date_of_birth"] else None)
            )
            century_digit = None
            if year is not None and sex in ("M", "F"):
                century_digit = str(2 * ((year - 1900) // 100) + (sex == "F"))
            if century_digit is not None and pid[3] != century_digit:
                failed.add("P-C3")
            if year is not None and pid[4:6] != f"{year % 100:02d}":
                failed.add("P-C4")
    died = parse_date(item["date_of_death"])
    if item["date_of_birth"] is not None and (
        born is None or not date(1900, 1, 1) <= born <= today
    ):
        failed.add("P-C5")
    if item["date_of_death"] is not None and (
        died is None or died > today or (born is not None and died < born)
    ):
        failed.add("P-C5")
    if sex is not None and sex not in ("M", "F"):
        failed.add("P-C7")
    ethnicity = item["ethnicity_code"]
    if not (ethnicity and ethnicity.isdigit() and 1 <= int(ethnicity) <= 54):
        failed.add("P-C7")
    if item["nationality"] not in COUNTRY_CODES:
        failed.add("P-C7")
    for text in (item["full_name"], address["detail"]):
        if text is not None and normalise_text(text) != text:
            failed.add("P-K1")
    if item["full_name"] is not None and name_defect(normalise_text(item["full_name"])):
        failed.add("P-K2")
    province, commune = address["province_code"], address["commune_code"]
    if province is not None and commune is not None:
        padded = (province.zfill(2), commune.zfill(5))
        if padded != (province, commune):
            failed.add("P-K4")
        if padded not in ref["current"]:
            if padded in ref["legacy"] and ref["targets"][padded[1]] >= 1:
                failed.add("P-L3")
            else:
                failed.add("P-C6")
    current = item["current_address"]
    if (
        current is not None
        and (current["province_code"], current["commune_code"]) not in (ref["current"])
    ):
        failed.add("current address not current")
    if item["updated_at"] > (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"):
        failed.add("P-L2")
    return failed


def generate(count: int, **kwargs: Any) -> list[GeneratedCitizen]:
    return list(generate_citizens(count, now=NOW, **kwargs))


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = generate(3000, seed=11, defect_rate=0.1)
    again = generate(3000, seed=11, defect_rate=0.1)
    other = generate(3000, seed=12, defect_rate=0.1)
    assert [(c.item, c.defect) for c in first] == [(c.item, c.defect) for c in again]
    assert [c.item["personal_id"] for c in first] != [c.item["personal_id"] for c in other]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 17, 2500])
def test_yields_exactly_count_rows_even_when_every_row_is_a_defect(count: int) -> None:
    assert len(generate(count, defect_rate=1.0)) == count
    assert len(generate(count, defect_rate=0.0)) == count


def test_rows_come_in_api_order_within_the_span() -> None:
    rows = generate(20_000, defect_rate=0.05)
    keys = [(c.item["updated_at"], c.item["personal_id"] or "") for c in rows]
    assert keys == sorted(keys)
    start = (NOW - SPAN).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    present = [c for c in rows if c.defect != "P-L2"]
    assert all(STAMP.match(c.item["updated_at"]) for c in rows)
    assert all(start <= c.item["updated_at"] <= end for c in present)
    # Spread over the whole span, not bunched at one end.
    assert present[0].item["updated_at"][:10] == "2026-10-21"
    assert present[-1].item["updated_at"][:10] == "2026-11-20"
    # Several rows per second when there are more rows than seconds.
    dense = list(generate_citizens(5000, now=NOW, span=timedelta(minutes=10), defect_rate=0.05))
    assert len({c.item["updated_at"] for c in dense if c.defect != "P-L2"}) == 600
    dense_keys = [(c.item["updated_at"], c.item["personal_id"] or "") for c in dense]
    assert dense_keys == sorted(dense_keys)


def test_future_rows_come_last() -> None:
    rows = generate(2000, defects=["P-L2"], defect_rate=0.1)
    labels = [c.defect for c in rows]
    first_future = labels.index("P-L2")
    assert 150 < labels.count("P-L2") < 260
    assert set(labels[first_future:]) == {"P-L2"}
    assert rows[first_future].item["updated_at"] > "2026-11-22T"


def test_clean_rows_pass_every_rule() -> None:
    rows = generate(30_000, defect_rate=0.02)
    clean = [c.item for c in rows if c.defect is None]
    assert len(clean) > 29_000
    legacy_codes = {p.code for p in admin_units.legacy_provinces()}
    for item in clean:
        assert rules_failed(item) == set(), item
        pid, born = item["personal_id"], date.fromisoformat(item["date_of_birth"])
        assert pid[1:3] in legacy_codes
        assert pid == compose_personal_id(pid[1:3], item["sex"], born, int(pid[6:]))
        assert date(1930, 1, 1) <= born <= date(2025, 12, 31)
        assert item["nationality"] == "VN"
        assert item["household_id"] is None or re.fullmatch(r"HK\d{10}", item["household_id"])
        assert item["marital_status"] in {None, "single", "married", "divorced", "widowed"}
        if born > date(2010, 1, 1):
            assert item["marital_status"] in {None, "single"}
        assert tuple(item) == DOCUMENTED_FIELDS  # the contract, in its documented order
    # Personal IDs are unique over clean rows.
    assert len({item["personal_id"] for item in clean}) == len(clean)
    # Realistic spread: Vietnamese diacritics, both sexes, mostly Kinh, some deaths.
    names = Counter(item["full_name"].split()[0] for item in clean)
    assert names.most_common(1)[0][0] == "Nguyễn"
    assert {"Trần", "Lê", "Phạm", "Đặng", "Đỗ"} <= names.keys()
    sexes = Counter(item["sex"] for item in clean)
    assert 0.45 < sexes["F"] / len(clean) < 0.55
    kinh = sum(item["ethnicity_code"] == "01" for item in clean) / len(clean)
    assert 0.8 < kinh < 0.92
    assert len({item["ethnicity_code"] for item in clean}) > 40
    assert 10 < sum(item["date_of_death"] is not None for item in clean) < 1000
    assert 0.05 < sum(item["current_address"] is None for item in clean) / len(clean) < 0.25
    assert len({item["permanent_address"]["province_code"] for item in clean}) == 34
    # JSON round trip: the item is what the API would send.
    assert json.loads(json.dumps(clean[:100], ensure_ascii=False)) == clean[:100]


def test_default_defects_cover_every_label_at_about_the_rate() -> None:
    rows = generate(30_000)
    labels = Counter(c.defect for c in rows if c.defect is not None)
    assert set(labels) == set(DEFECTS)
    # 2 % of slots draw a defect; a tie labels two rows.
    assert 0.015 < sum(labels.values()) / len(rows) < 0.03
    outcomes = expected_outcomes(rows)
    assert sum(outcomes.values()) == len(rows)
    assert outcomes["collapsed"] == labels["P-K3:identical"] + labels["P-K3:superseded"]


SINGLE_ROW = sorted(label for label in DEFECTS if not label.startswith("P-K3"))


@pytest.mark.parametrize("label", SINGLE_ROW)
def test_single_row_defect_trips_only_its_rule(label: str) -> None:
    rows = generate(1500, defects=[label], defect_rate=0.1, seed=3)
    defective = [c.item for c in rows if c.defect == label]
    assert len(defective) > 100
    assert {c.defect for c in rows} == {None, label}
    rule = DEFECTS[label].rule_id
    for item in defective:
        assert rules_failed(item) == {rule}, item
    for item in (c.item for c in rows if c.defect is None):
        assert rules_failed(item) == set(), item


def test_legacy_addresses_went_whole_or_were_split() -> None:
    targets = codes()["targets"]
    current_codes = {code for _, code in codes()["current"]}
    for label, whole in (("P-L3:whole", True), ("P-L3:split", False)):
        rows = generate(600, defects=[label], defect_rate=0.2)
        communes = [c.item["permanent_address"]["commune_code"] for c in rows if c.defect]
        assert len(communes) > 60
        assert all((targets[code] == 1) is whole for code in communes)
        assert not set(communes) & current_codes


def test_padding_defect_is_a_valid_code_once_padded() -> None:
    rows = generate(800, defects=["P-K4"], defect_rate=0.2)
    addresses = [c.item["permanent_address"] for c in rows if c.defect]
    assert any(len(a["province_code"]) == 1 for a in addresses)
    assert any(len(a["commune_code"]) < 5 for a in addresses)
    for a in addresses:
        assert (a["province_code"].zfill(2), a["commune_code"].zfill(5)) in codes()["current"]


def test_fixable_and_defective_names() -> None:
    rows = generate(3000, defects=["P-K1", "P-K2"], defect_rate=0.2)
    k1 = [c.item for c in rows if c.defect == "P-K1"]
    k2 = [c.item for c in rows if c.defect == "P-K2"]
    assert len(k1) > 150 and len(k2) > 150
    changed = [
        text
        for item in k1
        for text in (item["full_name"], item["permanent_address"]["detail"])
        if normalise_text(text) != text
    ]
    assert len(changed) == len(k1)  # exactly one field per row is off canonical form
    assert any("\u00d0" in t for t in changed) and any("\u00a0" in t for t in changed)
    assert any(re.search("oà|uỷ|uý|oá|uỳ", t) for t in changed)  # new-style tone marks
    reasons = Counter(name_defect(normalise_text(item["full_name"])) for item in k2)
    assert {"digit", "control character", "mojibake"} <= reasons.keys()


def test_identical_copy_follows_its_original() -> None:
    rows = generate(2000, defects=["P-K3:identical"], defect_rate=0.1)
    positions = [i for i, c in enumerate(rows) if c.defect == "P-K3:identical"]
    assert len(positions) > 100
    for i in positions:
        original, copy = rows[i - 1], rows[i]
        assert original.defect is None
        assert copy.item == original.item and copy.item is not original.item
        assert copy.item["permanent_address"] is not original.item["permanent_address"]
    assert expected_outcomes(rows)["collapsed"] == len(positions)


def test_superseded_row_has_a_newer_clean_version_later() -> None:
    rows = generate(2000, defects=["P-K3:superseded"], defect_rate=0.1)
    by_id: dict[str, list[GeneratedCitizen]] = {}
    for c in rows:
        by_id.setdefault(c.item["personal_id"], []).append(c)
    pairs = [group for group in by_id.values() if len(group) > 1]
    assert len(pairs) == sum(c.defect == "P-K3:superseded" for c in rows) > 100
    for older, newer in pairs:
        assert (older.defect, newer.defect) == ("P-K3:superseded", None)
        assert older.item["updated_at"] < newer.item["updated_at"]
        assert older.item != {**newer.item, "updated_at": older.item["updated_at"]}
        assert rules_failed(older.item) == set() == rules_failed(newer.item)


def test_tie_is_two_rows_with_one_id_and_one_time_but_different_content() -> None:
    rows = generate(2000, defects=["P-K3:tie"], defect_rate=0.1)
    ties = [c for c in rows if c.defect == "P-K3:tie"]
    assert len(ties) > 200
    groups = Counter((c.item["personal_id"], c.item["updated_at"]) for c in ties)
    assert set(groups.values()) == {2}
    ids = Counter(c.item["personal_id"] for c in rows)
    assert all(ids[c.item["personal_id"]] == 2 for c in ties)
    for i in range(0, len(ties), 2):
        assert ties[i].item != ties[i + 1].item
        assert rules_failed(ties[i].item) == set() == rules_failed(ties[i + 1].item)


def test_now_defaults_to_the_current_time() -> None:
    before = datetime.now(UTC).replace(microsecond=0) - SPAN
    rows = list(generate_citizens(50, defect_rate=0))
    after = datetime.now(UTC)
    stamps = [datetime.fromisoformat(c.item["updated_at"]) for c in rows]
    assert before <= stamps[0] <= stamps[-1] <= after


def test_unknown_label_and_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown defect"):
        generate(10, defects=["P-X9"])
    with pytest.raises(ValueError):
        generate(10, defect_rate=1.5)
    with pytest.raises(ValueError):
        generate(-1)


def test_streams_without_holding_rows() -> None:
    # Warm the reference caches so that they count in neither measurement.
    generate(100)
    tracemalloc.start()
    try:
        held = generate(20_000)
        _, holding_peak = tracemalloc.get_traced_memory()
        del held
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        seen = sum(1 for _ in generate_citizens(100_000, now=NOW))
        _, streaming_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == 100_000
    # Five times the rows in under a tenth of the memory that holding 20k rows takes.
    assert streaming_peak - before < holding_peak / 10
