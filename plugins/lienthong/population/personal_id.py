"""The Vietnamese personal ID (số định danh cá nhân): ``PPP G YY RRRRRR``.

Decree 137/2015/NĐ-CP and Circular 07/2016/TT-BCA define the 12 digits:

- ``PPP``: the pre-2025 (63-province) statistics code of the province where the
  birth was registered, zero-padded from 2 to 3 digits. It never changes, even
  after the 2025 merger or a move.
- ``G``: century and sex. 0/1 for a man/woman born 1900-1999, 2/3 for
  2000-2099, 4/5 for 2100-2199, and so on by two per century.
- ``YY``: the last two digits of the year of birth.
- ``RRRRRR``: random; there is no check digit.
"""

from __future__ import annotations

import re
from datetime import date

SERIAL_MODULUS = 1_000_000
"""``RRRRRR`` holds six digits, so serials wrap at one million."""

_FIRST_CENTURY = 1900
"""The first year covered by ``G`` = 0/1; earlier births have no code."""

_SEX_OFFSET = {"M": 0, "F": 1}

_TWELVE_DIGITS = re.compile(r"^\d{12}$")


def birth_province(personal_id: str | None) -> str | None:
    """The ``PPP`` of a 12-digit personal ID (its birth-registration province), else None."""
    if personal_id and _TWELVE_DIGITS.match(personal_id):
        return personal_id[:3]
    return None


def century_sex_digit(sex: str, year: int) -> str:
    """Return the ``G`` digit for a person of ``sex`` ("M"/"F") born in ``year``.

    Raises ValueError for another sex or a year outside 1900-2399, which the
    ten digits cannot express.
    """
    if sex not in _SEX_OFFSET:
        raise ValueError(f"sex must be 'M' or 'F', not {sex!r}")
    century_index = (year - _FIRST_CENTURY) // 100
    if not 0 <= century_index <= 4:
        raise ValueError(f"year {year} has no century digit (1900-2399 only)")
    return str(2 * century_index + _SEX_OFFSET[sex])


def compose_personal_id(
    birth_province_code: str, sex: str, date_of_birth: date, serial: int
) -> str:
    """Build the 12-digit personal ID.

    ``birth_province_code`` is the pre-2025 2-digit code ("01" Hà Nội, "79"
    Hồ Chí Minh); ``serial`` is reduced modulo one million and zero-padded.
    """
    if not (birth_province_code.isdigit() and 1 <= len(birth_province_code) <= 3):
        raise ValueError(f"province code must be 1-3 digits, not {birth_province_code!r}")
    year = date_of_birth.year
    return (
        f"{int(birth_province_code):03d}"
        f"{century_sex_digit(sex, year)}"
        f"{year % 100:02d}"
        f"{serial % SERIAL_MODULUS:06d}"
    )
