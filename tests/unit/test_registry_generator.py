"""The demo registry generator: clean rows pass every civil_events rule, a labelled row fails
exactly its rule, and the history has what the contract warns about."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from lienthong.reference import admin_units
from lienthong.text import vietnamese
from lienthong_demo.citizens import generate_citizens
from lienthong_demo.registry import DEFECTS, LOOSE_ONLY, MYSQL_ONLY, generate_registry

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
PROVINCE = "01"
_LEGACY = {p.code for p in admin_units.legacy_provinces()}
_COMMUNES = {c.code for c in admin_units.current_communes() if c.province_code == PROVINCE}


def _valid_id(pid: Any) -> bool:
    """P-C1 and P-C2: twelve digits, PPP a pre-2025 province."""
    return (
        isinstance(pid, str)
        and len(pid) == 12
        and pid.isdigit()
        and pid[0] == "0"
        and pid[1:3] in _LEGACY
    )


def failing_rules(values: dict[str, Any]) -> set[str]:
    """The civil_events row rules (RULES.md) a row fails, checked independently of the
    generator: the test's own reading of the rules."""
    fails = set()
    event_id, event_type, pid = values["event_id"], values["event_type"], values["personal_id"]
    name, event_date, commune = values["full_name"], values["event_date"], values["commune_code"]
    registered_at = values["registered_at"]
    if (
        len(event_id) > 32
        or len(event_type) > 10
        or (pid is not None and len(pid) > 12)
        or (name is not None and len(name) > 200)
        or (commune is not None and len(commune) > 5)
        or not (event_date is None or isinstance(event_date, date))
        or not isinstance(values["is_deleted"], bool)
    ):
        fails.add("E-K3")
    if pid is None or event_date is None or commune is None:
        fails.add("E-S1")
    if event_type not in ("birth", "death") or (pid is not None and not _valid_id(pid)):
        fails.add("E-C1")
    if isinstance(event_date, date):
        if event_date > registered_at.date():
            fails.add("E-C2")
        if event_type == "birth" and _valid_id(pid):
            century = (event_date.year - 1900) // 100
            if int(pid[3]) // 2 != century or pid[4:6] != f"{event_date.year % 100:02d}":
                fails.add("E-C2")
    if commune is not None and commune not in _COMMUNES:
        fails.add("E-C3")
    if name is not None:
        canonical = vietnamese.normalise_text(name)
        if canonical != name or vietnamese.name_defect(canonical) is not None:
            fails.add("E-K1")
    return fails


@pytest.mark.parametrize(("loose", "mysql"), [(False, False), (False, True), (True, True)])
def test_each_row_is_clean_or_fails_exactly_its_labelled_rule(loose: bool, mysql: bool) -> None:
    registry = generate_registry(
        PROVINCE, count=3000, seed=6, now=NOW, defect_rate=0.2, loose=loose, mysql=mysql
    )
    labels = Counter()
    for row in registry.window():
        expected = set()
        if row.defect is not None:
            labels[row.defect] += 1
            if row.defect != "E-K2":
                expected = {DEFECTS[row.defect].rule_id}
        assert failing_rules(row.values) == expected, (row.defect, row.values)
    applicable = {
        label
        for label in DEFECTS
        if (loose or label not in LOOSE_ONLY) and (mysql or label not in MYSQL_ONLY)
    }
    assert set(labels) == applicable
    # E-K1 fixes turn back into the clean name; quarantined ones do not.
    for row in registry.window():
        if row.defect == "E-K1:fix":
            name = row.values["full_name"]
            assert vietnamese.name_defect(vietnamese.normalise_text(name)) is None


def test_versions_are_clean_corrections_deletes_and_shared_stamps() -> None:
    registry = generate_registry(PROVINCE, count=2000, seed=7, now=NOW)
    versions = registry.versions
    assert [(v.updated_at, v.event_id) for v in versions] == sorted(
        (v.updated_at, v.event_id) for v in versions
    )
    assert all(NOW - timedelta(days=31) <= v.updated_at <= NOW for v in versions)
    updates = [v for v in versions if v.action == "update"]
    assert updates and all(v.defect is None and not failing_rules(v.values) for v in updates)
    assert any(v.values["is_deleted"] is True for v in updates)
    first = {}
    for v in versions:
        first.setdefault(v.event_id, v)
        assert v.updated_at >= first[v.event_id].updated_at
        assert v.values["registered_at"] == first[v.event_id].values["registered_at"]
    assert max(Counter(v.updated_at for v in versions).values()) >= 8
    assert len(registry.state()) == 2000


def test_the_same_seed_gives_the_same_registry() -> None:
    one = generate_registry(PROVINCE, count=300, seed=3, now=NOW)
    assert one == generate_registry(PROVINCE, count=300, seed=3, now=NOW)
    assert one != generate_registry(PROVINCE, count=300, seed=4, now=NOW)


def test_defects_the_table_cannot_hold_are_refused() -> None:
    with pytest.raises(ValueError, match="E-K2"):
        generate_registry(PROVINCE, count=5, now=NOW, defects=["E-K2"])
    with pytest.raises(ValueError, match="E-K3:zero_date"):
        generate_registry(PROVINCE, count=5, now=NOW, loose=True, defects=["E-K3:zero_date"])
    with pytest.raises(ValueError, match="unknown"):
        generate_registry(PROVINCE, count=5, now=NOW, defects=["E-X9"])


def test_deaths_of_population_persons_and_the_p_l4_flags() -> None:
    people = list(generate_citizens(20_000, seed=6, now=NOW))
    population = {c.item["personal_id"]: c.item for c in people if c.defect is None}
    registry = generate_registry(
        PROVINCE, count=1500, seed=6, now=NOW, people=people, defect_rate=0.1
    )
    live = registry.expected_live()
    deaths = [v for v in live.values() if v["event_type"] == "death"]
    known = [v for v in deaths if v["personal_id"] in population]
    assert len(known) > 50
    for death in known:
        person = population[death["personal_id"]]
        assert person["permanent_address"]["province_code"] == PROVINCE
        if person["date_of_death"] is not None:
            assert death["event_date"].isoformat() == person["date_of_death"]
    flagged = registry.p_l4_personal_ids
    assert len(flagged) > 10
    live_deaths = {v["personal_id"] for v in deaths}
    for pid in flagged:
        assert population[pid]["date_of_death"] is None
        assert pid in live_deaths
    # New births never reuse a population ID.
    births = {v["personal_id"] for v in live.values() if v["event_type"] == "birth"}
    assert not births & set(population)


def test_window_labels_follow_what_one_window_reads() -> None:
    registry = generate_registry(
        PROVINCE, count=400, seed=2, now=NOW, loose=True, defect_rate=0.3, defects=["E-K2"]
    )
    older = next(v for v in registry.versions if v.defect == "E-K2")
    newer = next(v for v in registry.versions if v.event_id == older.event_id and v.defect is None)
    assert newer.updated_at > older.updated_at
    # Both rows in one window: the older collapses.
    assert registry.labels()[older.event_id] == DEFECTS["E-K2"]
    assert (
        registry.expected_outcomes()["collapsed"]
        == Counter(v.defect for v in registry.versions)["E-K2"]
    )
    # A window that ends between them reads only the older row: clean, nothing to collapse.
    between = registry.window(until=newer.updated_at)
    row = next(r for r in between if r.event_id == older.event_id)
    assert row.defect is None
    assert older.event_id not in registry.labels(until=newer.updated_at)
    # The live state keeps the newest row of the event.
    assert registry.expected_live()[older.event_id] == newer.values


def test_expected_live_leaves_out_deleted_and_quarantined_events() -> None:
    registry = generate_registry(PROVINCE, count=1500, seed=9, now=NOW, defect_rate=0.2)
    live = registry.expected_live()
    newest = {row.event_id: row for row in registry.window()}
    for event_id, row in newest.items():
        quarantined = row.defect is not None and DEFECTS[row.defect].outcome == "quarantined"
        deleted = row.values["is_deleted"] is True
        assert (event_id in live) == (not quarantined and not deleted)
    assert any(row.values["is_deleted"] is True for row in newest.values())
