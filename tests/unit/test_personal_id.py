"""The personal ID is composed as Decree 137/2015 lays it out."""

from datetime import date

import pytest

from lienthong.population.personal_id import century_sex_digit, compose_personal_id


def test_woman_born_2003_in_ha_noi() -> None:
    pid = compose_personal_id("01", "F", date(2003, 4, 15), 12345)
    assert pid == "001303012345"
    assert pid[:3] == "001" and pid[3] == "3" and pid[4:6] == "03"


def test_man_born_1985_in_ho_chi_minh() -> None:
    assert compose_personal_id("79", "M", date(1985, 7, 2), 999_999) == "079085999999"


def test_serial_wraps_at_one_million_and_pads() -> None:
    assert compose_personal_id("96", "F", date(1999, 12, 31), 1_000_007) == "096199000007"


@pytest.mark.parametrize(
    ("sex", "year", "digit"),
    [
        ("M", 1900, "0"),
        ("F", 1999, "1"),
        ("M", 2000, "2"),
        ("F", 2099, "3"),
        ("M", 2100, "4"),
        ("F", 2150, "5"),
        ("M", 2200, "6"),
        ("F", 2399, "9"),
    ],
)
def test_century_sex_digit(sex: str, year: int, digit: str) -> None:
    assert century_sex_digit(sex, year) == digit


@pytest.mark.parametrize(("sex", "year"), [("X", 2000), ("M", 1899), ("F", 2400), ("", 1990)])
def test_century_sex_digit_rejects_what_cannot_be_coded(sex: str, year: int) -> None:
    with pytest.raises(ValueError):
        century_sex_digit(sex, year)


def test_compose_rejects_non_numeric_province() -> None:
    with pytest.raises(ValueError):
        compose_personal_id("HN", "M", date(1990, 1, 1), 1)
