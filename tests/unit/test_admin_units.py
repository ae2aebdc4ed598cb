"""Administrative-unit reference data: counts, code shapes, reused codes and the conversion."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from lienthong.reference import admin_units
from lienthong.reference.admin_units import Commune, Province


@pytest.fixture(scope="module")
def communes_by_code() -> dict[str, Commune]:
    return {c.code: c for c in admin_units.current_communes()}


@pytest.fixture(scope="module")
def legacy_communes_by_code() -> dict[str, Commune]:
    return {c.code: c for c in admin_units.legacy_communes()}


@pytest.fixture(scope="module")
def targets_by_legacy_code() -> dict[str, set[str]]:
    targets: dict[str, set[str]] = defaultdict(set)
    for legacy_code, code in admin_units.commune_conversion():
        targets[legacy_code].add(code)
    return targets


def test_counts_match_the_2025_reform_and_the_last_pre_reform_list() -> None:
    assert len(admin_units.current_provinces()) == 34
    assert len(admin_units.current_communes()) == 3321
    assert len(admin_units.legacy_provinces()) == 63
    # 10,035 communes on 2025-06-30; the five island districts without communes are not rows.
    assert len(admin_units.legacy_communes()) == 10035


@pytest.mark.parametrize(
    "units",
    [admin_units.current_provinces, admin_units.legacy_provinces],
    ids=["current", "legacy"],
)
def test_province_codes_are_two_digits_unique_and_names_are_short(units) -> None:
    provinces = units()
    assert all(re.fullmatch(r"\d{2}", p.code) for p in provinces)
    assert len({p.code for p in provinces}) == len(provinces)
    # Short names, without the "Tỉnh"/"Thành phố" prefix the source's long names carry.
    assert not [p.name for p in provinces if p.name.startswith(("Tỉnh ", "Thành phố "))]


@pytest.mark.parametrize(
    ("communes", "provinces"),
    [
        (admin_units.current_communes, admin_units.current_provinces),
        (admin_units.legacy_communes, admin_units.legacy_provinces),
    ],
    ids=["current", "legacy"],
)
def test_commune_codes_are_five_digits_unique_and_in_a_known_province(communes, provinces) -> None:
    rows = communes()
    province_codes = {p.code for p in provinces()}
    assert all(re.fullmatch(r"\d{5}", c.code) for c in rows)
    assert len({c.code for c in rows}) == len(rows)
    assert {c.province_code for c in rows} == province_codes
    assert all(c.name.strip() == c.name and c.name for c in rows)


def test_well_known_units_have_their_names() -> None:
    current = {p.code: p.name for p in admin_units.current_provinces()}
    legacy = {p.code: p.name for p in admin_units.legacy_provinces()}
    assert current["01"] == "Hà Nội"
    assert current["79"] == "Hồ Chí Minh"
    assert legacy["46"] == "Huế"
    assert Province("01", "Hà Nội") in admin_units.current_provinces()
    assert Commune("00004", "Phường Ba Đình", "01") in admin_units.current_communes()
    assert Commune("00004", "Phường Trúc Bạch", "01") in admin_units.legacy_communes()


@pytest.mark.parametrize(
    ("code", "legacy_name", "current_name"),
    [
        ("15", "Yên Bái", "Lào Cai"),
        ("24", "Bắc Giang", "Bắc Ninh"),
        ("44", "Quảng Bình", "Quảng Trị"),
        ("52", "Bình Định", "Gia Lai"),
        ("80", "Long An", "Tây Ninh"),
        ("82", "Tiền Giang", "Đồng Tháp"),
        ("91", "Kiên Giang", "An Giang"),
    ],
)
def test_reused_province_codes_mean_different_provinces(
    code: str, legacy_name: str, current_name: str
) -> None:
    assert Province(code, legacy_name) in admin_units.legacy_provinces()
    assert Province(code, current_name) in admin_units.current_provinces()


def test_provinces_that_ceased_to_exist_are_legacy_only() -> None:
    current = {p.code for p in admin_units.current_provinces()}
    legacy = {p.code: p.name for p in admin_units.legacy_provinces()}
    assert legacy["10"] == "Lào Cai"  # the old Lào Cai had code 10; it is gone
    assert "10" not in current
    assert "02" not in current and legacy["02"] == "Hà Giang"


@pytest.mark.parametrize(
    ("legacy_code", "legacy_name", "targets"),
    [
        # went whole into a commune with another name and code
        ("00001", "Phường Phúc Xá", {("00097", "Phường Hồng Hà")}),
        # went whole into a new commune that took its code under a new name
        ("00004", "Phường Trúc Bạch", {("00004", "Phường Ba Đình")}),
        ("26740", "Phường Bến Nghé", {("26740", "Phường Sài Gòn")}),
        # kept its name, lost its code
        ("26734", "Phường Tân Định", {("26737", "Phường Tân Định")}),
        # crossed a province border: Hòa Bình (17) into Hà Nội (01)
        ("04930", "Xã Yên Bình", {("04930", "Xã Yên Xuân")}),
        # split into four; the new Cửa Nam carries 00082, not the old Cửa Nam's 00073
        (
            "00073",
            "Phường Cửa Nam",
            {
                ("00004", "Phường Ba Đình"),
                ("00070", "Phường Hoàn Kiếm"),
                ("00082", "Phường Cửa Nam"),
                ("00226", "Phường Văn Miếu - Quốc Tử Giám"),
            },
        ),
    ],
)
def test_known_conversions(
    legacy_code: str,
    legacy_name: str,
    targets: set[tuple[str, str]],
    communes_by_code: dict[str, Commune],
    legacy_communes_by_code: dict[str, Commune],
    targets_by_legacy_code: dict[str, set[str]],
) -> None:
    assert legacy_communes_by_code[legacy_code].name == legacy_name
    assert {
        (code, communes_by_code[code].name) for code in targets_by_legacy_code[legacy_code]
    } == targets


def test_old_cua_nam_code_is_not_a_current_commune(communes_by_code: dict[str, Commune]) -> None:
    assert "00073" not in communes_by_code


def test_conversion_has_whole_and_split_communes(
    targets_by_legacy_code: dict[str, set[str]],
) -> None:
    parts = [len(targets) for targets in targets_by_legacy_code.values()]
    assert len(admin_units.commune_conversion()) == 10597
    assert parts.count(1) == 9564
    assert sum(1 for n in parts if n > 1) == 471
    assert max(parts) == 5


def test_conversion_is_referentially_whole(
    communes_by_code: dict[str, Commune],
    legacy_communes_by_code: dict[str, Commune],
) -> None:
    pairs = admin_units.commune_conversion()
    assert len(set(pairs)) == len(pairs)
    assert {legacy for legacy, _ in pairs} <= legacy_communes_by_code.keys()
    assert {code for _, code in pairs} <= communes_by_code.keys()
    # every pre-2025 commune has somewhere to go
    assert {legacy for legacy, _ in pairs} == legacy_communes_by_code.keys()


def test_only_the_island_special_zones_have_no_legacy_commune(
    communes_by_code: dict[str, Commune],
) -> None:
    targets = {code for _, code in admin_units.commune_conversion()}
    untargeted = {code: communes_by_code[code].name for code in communes_by_code.keys() - targets}
    assert untargeted == {
        "11948": "Đặc khu Bạch Long Vĩ",
        "19742": "Đặc khu Cồn Cỏ",
        "20333": "Đặc khu Hoàng Sa",
        "21548": "Đặc khu Lý Sơn",
        "26732": "Đặc khu Côn Đảo",
    }


def test_every_new_commune_carries_the_code_of_one_old_commune_it_absorbed() -> None:
    # Decision 19/2025 gave each new commune the code of one of its old communes; a
    # mis-resolved converter key would break this for the communes it touches.
    pairs = set(admin_units.commune_conversion())
    targets = {code for _, code in pairs}
    assert all((code, code) in pairs for code in targets)


def test_old_provinces_go_to_their_successor(
    communes_by_code: dict[str, Commune],
    legacy_communes_by_code: dict[str, Commune],
) -> None:
    successors: dict[str, set[str]] = defaultdict(set)
    for legacy, code in admin_units.commune_conversion():
        province = legacy_communes_by_code[legacy].province_code
        successors[province].add(communes_by_code[code].province_code)
    assert successors["15"] == {"15"}  # Yên Bái into Lào Cai, which took its number
    assert successors["10"] == {"15"}  # the old Lào Cai into the new one
    assert successors["02"] == {"08"}  # Hà Giang into Tuyên Quang
    assert successors["79"] == {"79"}


def test_source_info_describes_every_dataset() -> None:
    info = admin_units.source_info()
    assert [s["dataset"] for s in info] == list(admin_units.DATASETS)
    assert {(s["package"], s["version"], s["licence"]) for s in info} == {
        ("vietnamadminunits", "1.0.4", "MIT")
    }
    assert {s["dataset"]: s["rows"] for s in info} == {
        "provinces": 34,
        "communes": 3321,
        "legacy_provinces": 63,
        "legacy_communes": 10035,
        "commune_conversion": 10597,
    }


def test_results_are_cached() -> None:
    assert admin_units.current_communes() is admin_units.current_communes()
    assert admin_units.commune_conversion() is admin_units.commune_conversion()


def test_address_codes_read_each_part_of_the_reference_only_when_asked(monkeypatch) -> None:
    from lienthong.reference.address_codes import AddressCodes

    current = admin_units.current_communes()[0]
    went_whole: dict[str, list[str]] = defaultdict(list)
    for legacy_code, code in admin_units.commune_conversion():
        went_whole[legacy_code].append(code)
    current_codes = {(c.province_code, c.code) for c in admin_units.current_communes()}
    legacy = next(
        c
        for c in admin_units.legacy_communes()
        if len(went_whole[c.code]) == 1 and (c.province_code, c.code) not in current_codes
    )
    read: list[str] = []

    def spied(name: str):
        original = getattr(admin_units, name)

        def reading():
            read.append(name)
            return original()

        return reading

    for name in ("current_communes", "legacy_communes", "legacy_provinces", "commune_conversion"):
        monkeypatch.setattr(admin_units, name, spied(name))
    codes = AddressCodes()
    assert read == []
    # What a validation asks: the birth-province codes, from the pre-2025 provinces alone.
    assert codes.birth_province_codes[0] == "001" and len(codes.birth_province_codes) == 63
    assert read == ["legacy_provinces"]
    # A current address: the current communes alone.
    assert codes.legacy_remap(current.province_code, current.code) is None
    assert read == ["legacy_provinces", "current_communes"]
    # A pre-2025 one: the old communes and the conversion, once.
    remap = codes.legacy_remap(legacy.province_code, legacy.code)
    assert remap is not None and remap.whole
    assert remap.targets[0][1] == went_whole[legacy.code][0]
    codes.legacy_remap(legacy.province_code, legacy.code)
    assert sorted(read[2:]) == ["commune_conversion", "current_communes", "legacy_communes"]
