"""A seeded generator of population API items (SOURCES.md §1) with labelled defects.

The demo ministry server, the fixtures and the tests all draw citizens from here. A row
is either clean (it passes every population rule of RULES.md) or carries exactly one
defect, labelled with the rule that must catch it, so that a test can assert that the
quarantine holds exactly the defective rows, each under the right rule id.

The generator streams: memory does not grow with ``count``. Personal IDs stay unique
without remembering them, because each ID prefix (``PPP G YY``) has its own counter and
the six-digit serial is a bijection of that counter.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lienthong.population.personal_id import SERIAL_MODULUS, century_sex_digit
from lienthong.reference import admin_units
from lienthong.text import vietnamese

__all__ = [
    "DEFECTS",
    "Expected",
    "GeneratedCitizen",
    "expected_outcomes",
    "generate_citizens",
    "random_full_name",
]


@dataclass(frozen=True)
class Expected:
    """What the pipeline must do with a row carrying one defect."""

    outcome: str  # "published", "quarantined" or "collapsed"
    rule_id: str  # the rule that handles it, e.g. "P-C3"
    fixed: bool  # True when the row is published after an automatic fix


@dataclass(frozen=True)
class GeneratedCitizen:
    """One API item as the ministry would send it, and the defect planted in it."""

    item: dict[str, Any]
    defect: str | None


_QUARANTINED = "quarantined"

DEFECTS: dict[str, Expected] = {
    "P-C1": Expected(_QUARANTINED, "P-C1", False),
    "P-C2": Expected(_QUARANTINED, "P-C2", False),
    "P-C3": Expected(_QUARANTINED, "P-C3", False),
    "P-C4": Expected(_QUARANTINED, "P-C4", False),
    "P-C5": Expected(_QUARANTINED, "P-C5", False),
    "P-C6": Expected(_QUARANTINED, "P-C6", False),
    "P-C7": Expected(_QUARANTINED, "P-C7", False),
    "P-S1": Expected(_QUARANTINED, "P-S1", False),
    "P-K1": Expected("published", "P-K1", True),
    "P-K2": Expected(_QUARANTINED, "P-K2", False),
    "P-K3:identical": Expected("collapsed", "P-K3", False),
    "P-K3:superseded": Expected("collapsed", "P-K3", False),
    "P-K3:tie": Expected(_QUARANTINED, "P-K3", False),
    "P-K4": Expected("published", "P-K4", True),
    "P-L2": Expected(_QUARANTINED, "P-L2", False),
    "P-L3:whole": Expected("published", "P-L3", True),
    "P-L3:split": Expected(_QUARANTINED, "P-L3", False),
}
"""Every defect label the generator can plant, and its expected outcome."""

# Defects that occupy two rows (or two slots of the stream) rather than one.
_PAIR_DEFECTS = frozenset({"P-K3:identical", "P-K3:tie", "P-K3:superseded"})

# A future updated_at must beat the 5 minutes of clock skew P-L2 allows by a wide margin,
# so that a validator run a little after ``now`` still sees it in the future.
_FUTURE_SHIFT = timedelta(days=2)

# Births and deaths planted "after now" lie this far ahead, so they stay in the future for
# an extraction run some days after generation.
_FUTURE_DAYS = (30, 400)

_EARLIEST_BIRTH = date(1930, 1, 1)
_LATEST_BIRTH = date(2025, 12, 31)

# A multiplier coprime to 10**6 makes serial = (n * k + offset) mod 10**6 a bijection of n:
# the counter per prefix turns into serials that look random but never repeat.
_SERIAL_MULTIPLIER = 618_033

_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# ---------------------------------------------------------------------------------------
# Names and addresses. Weights follow the commonly cited shares of Vietnamese family names.

_FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Hoàng", 3.0),
    ("Huỳnh", 2.1),
    ("Phan", 4.5),
    ("Vũ", 2.2),
    ("Võ", 1.7),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Đinh", 0.6),
    ("Trương", 0.6),
    ("Mai", 0.4),
)

_MIDDLE_NAMES = {
    "M": (("Văn", 40.0), ("Hữu", 6.0), ("Đức", 8.0), ("Minh", 8.0), ("Quang", 6.0),
          ("Công", 4.0), ("Thành", 5.0), ("Xuân", 3.0), ("Duy", 3.0), ("Quốc", 4.0),
          ("Đình", 4.0), ("Trọng", 3.0), ("Ngọc", 3.0), ("Anh", 3.0)),
    "F": (("Thị", 45.0), ("Ngọc", 8.0), ("Thu", 6.0), ("Thanh", 6.0), ("Minh", 4.0),
          ("Phương", 4.0), ("Bích", 3.0), ("Kim", 4.0), ("Mỹ", 3.0), ("Thùy", 4.0),
          ("Hồng", 4.0), ("Khánh", 3.0), ("Lan", 2.0)),
}  # fmt: skip

_GIVEN_NAMES = {
    "M": ("An", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Định", "Đông", "Giang", "Hải",
          "Hiếu", "Hòa", "Hoàng", "Hùng", "Huy", "Khánh", "Khoa", "Kiên", "Lâm", "Long", "Lộc",
          "Mạnh", "Minh", "Nam", "Nghĩa", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài",
          "Thắng", "Thành", "Thiện", "Toàn", "Trung", "Tú", "Tuấn", "Việt", "Vinh", "Khải",
          "Thụy", "Hưng"),
    "F": ("Anh", "Chi", "Dung", "Diệp", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Hòa",
          "Hồng", "Huệ", "Hương", "Hường", "Lan", "Liên", "Linh", "Loan", "Mai", "My", "Nga",
          "Ngân", "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Thoa", "Thu", "Thúy", "Thủy",
          "Trang", "Tuyết", "Uyên", "Vân", "Yến", "Xuân", "Nhàn", "Ngọc", "Khuê"),
}  # fmt: skip

_STREETS = (
    "Trúc Bạch", "Hàng Bài", "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng",
    "Lý Thường Kiệt", "Quang Trung", "Điện Biên Phủ", "Nguyễn Huệ", "Lê Duẩn", "Hùng Vương",
    "Phan Chu Trinh", "Bà Triệu", "Võ Thị Sáu", "Cách Mạng Tháng Tám", "Nguyễn Văn Cừ",
    "Trường Chinh", "Giải Phóng", "Láng Hạ", "Hoàng Hoa Thám", "Lạc Long Quân",
)  # fmt: skip

_VILLAGES = (
    "Đông", "Tây", "Thượng", "Hạ", "Trung", "An Lạc", "Phú Mỹ", "Tân Thành", "Hòa Bình",
    "Đồng Tâm", "Thanh Xuân", "Yên Phú", "Bình An", "Mỹ Lộc", "Vĩnh Hưng", "Phước Lộc",
    "Tiền Phong", "Quyết Thắng", "Khuê Trung",
)  # fmt: skip

_MARITAL_BY_AGE: tuple[tuple[int, tuple[tuple[str, float], ...]], ...] = (
    (18, (("single", 1.0),)),
    (25, (("single", 75.0), ("married", 23.0), ("divorced", 2.0))),
    (35, (("single", 30.0), ("married", 65.0), ("divorced", 5.0))),
    (60, (("single", 5.0), ("married", 85.0), ("divorced", 7.0), ("widowed", 3.0))),
    (200, (("single", 2.0), ("married", 65.0), ("divorced", 3.0), ("widowed", 30.0))),
)

_IMPOSSIBLE_DAYS = ("02-30", "02-31", "04-31", "06-31", "09-31", "11-31")


def _cumulative(weighted: Iterable[tuple[str, float]]) -> tuple[tuple[str, ...], list[float]]:
    """(values, cumulative weights) for ``random.choices``, values in canonical text."""
    values, total, cumulative = [], 0.0, []
    for value, weight in weighted:
        values.append(vietnamese.normalise_text(value))
        total += weight
        cumulative.append(total)
    return tuple(values), cumulative


@dataclass(frozen=True)
class _Vocabulary:
    """Name and address parts, normalised once so every clean row is canonical by build."""

    family: tuple[tuple[str, ...], list[float]]
    middle: dict[str, tuple[tuple[str, ...], list[float]]]
    given: dict[str, tuple[str, ...]]
    streets: tuple[str, ...]
    villages: tuple[str, ...]
    marital: tuple[tuple[int, tuple[tuple[str, ...], list[float]]], ...]


@functools.cache
def _vocabulary() -> _Vocabulary:
    norm = vietnamese.normalise_text
    return _Vocabulary(
        family=_cumulative(_FAMILY_NAMES),
        middle={sex: _cumulative(parts) for sex, parts in _MIDDLE_NAMES.items()},
        given={sex: tuple(norm(n) for n in names) for sex, names in _GIVEN_NAMES.items()},
        streets=tuple(norm(s) for s in _STREETS),
        villages=tuple(norm(v) for v in _VILLAGES),
        marital=tuple((age, _cumulative(shares)) for age, shares in _MARITAL_BY_AGE),
    )


def random_full_name(rng: random.Random, sex: str) -> str:
    """A clean Vietnamese full name (canonical form) for ``sex`` ("M"/"F"), drawn with ``rng``.

    Family names follow their commonly cited shares; some names have two middle names or none.
    """
    words = _vocabulary()
    family = rng.choices(words.family[0], cum_weights=words.family[1])[0]
    middle_values, middle_weights = words.middle[sex]
    middle = rng.choices(middle_values, cum_weights=middle_weights)[0]
    given = rng.choice(words.given[sex])
    roll = rng.random()
    if roll < 0.12:
        # A second middle name ("Nguyễn Thị Thu Hà"); avoid doubling the first one.
        second = rng.choice(middle_values[1:])
        if second != middle and second != given:
            return f"{family} {middle} {second} {given}"
    elif roll < 0.15:
        return f"{family} {given}"
    return f"{family} {middle} {given}"


@dataclass(frozen=True)
class _Reference:
    """The administrative codes the generator draws from, indexed once per process."""

    birth_provinces: tuple[str, ...]  # legacy 2-digit codes
    invalid_birth_prefixes: tuple[str, ...]  # 3-digit PPP that no legacy province has
    communes: tuple[tuple[str, str], ...]  # current (province_code, commune_code)
    current_commune_codes: frozenset[str]
    legacy_commune_province: dict[str, str]  # legacy commune code -> legacy province code
    whole_legacy: tuple[tuple[str, str], ...]  # (legacy province, legacy commune) went whole
    split_legacy: tuple[tuple[str, str], ...]  # (legacy province, legacy commune) was split
    unpaddable: tuple[tuple[str, str], ...]  # current communes with a leading zero to strip


@functools.cache
def _reference() -> _Reference:
    legacy_provinces = tuple(p.code for p in admin_units.legacy_provinces())
    communes = tuple((c.province_code, c.code) for c in admin_units.current_communes())
    current_codes = frozenset(code for _, code in communes)
    legacy_commune_province = {c.code: c.province_code for c in admin_units.legacy_communes()}
    targets: Counter[str] = Counter(old for old, _ in admin_units.commune_conversion())
    # A legacy code that is also a current code would read as a current address (or as a
    # P-C6 failure), not as a pre-2025 one: only codes unknown to the current scheme count.
    whole = tuple(
        (legacy_commune_province[old], old)
        for old, n in sorted(targets.items())
        if n == 1 and old not in current_codes and old in legacy_commune_province
    )
    split = tuple(
        (legacy_commune_province[old], old)
        for old, n in sorted(targets.items())
        if n > 1 and old not in current_codes and old in legacy_commune_province
    )
    valid = set(legacy_provinces)
    return _Reference(
        birth_provinces=legacy_provinces,
        invalid_birth_prefixes=tuple(f"{n:03d}" for n in range(100) if f"{n:02d}" not in valid),
        communes=communes,
        current_commune_codes=current_codes,
        legacy_commune_province=legacy_commune_province,
        whole_legacy=whole,
        split_legacy=split,
        unpaddable=tuple((p, c) for p, c in communes if p[0] == "0" or c[0] == "0"),
    )


def _copy_item(item: dict[str, Any]) -> dict[str, Any]:
    """A copy sharing no mutable part with ``item`` (addresses are the only nested dicts)."""
    copy = dict(item)
    copy["permanent_address"] = dict(item["permanent_address"])
    if item["current_address"] is not None:
        copy["current_address"] = dict(item["current_address"])
    return copy


def _sort_key(citizen: GeneratedCitizen) -> str:
    # Rows of one group share updated_at, so personal_id alone orders them; a null one
    # (a P-S1 defect) sorts first.
    return citizen.item["personal_id"] or ""


class _CitizenFactory:
    """Draws clean items and plants defects in them; one instance per generated stream."""

    def __init__(self, seed: int, today: date) -> None:
        self.rng = random.Random(seed)
        self.ref = _reference()
        self.words = _vocabulary()
        self.today = today
        self.today_ordinal = today.toordinal()
        latest = min(_LATEST_BIRTH, today - timedelta(days=1))
        if latest < _EARLIEST_BIRTH:
            raise ValueError(f"now ({today}) is before the earliest generated birth")
        self.birth_range = (_EARLIEST_BIRTH.toordinal(), latest.toordinal())
        # Counters per ID prefix: bounded by the number of prefixes (about 13 thousand),
        # not by the number of rows.
        self.serial_counters: dict[str, int] = {}

    # -- clean rows ---------------------------------------------------------------------

    def next_personal_id(self, prefix: str) -> str:
        """A personal ID with this 6-character prefix, never handed out before."""
        n = self.serial_counters.get(prefix, 0)
        self.serial_counters[prefix] = n + 1
        if n >= SERIAL_MODULUS:
            raise OverflowError(f"more than {SERIAL_MODULUS} IDs with prefix {prefix}")
        offset = int(prefix) * 7919 if prefix.isdigit() else 0
        return f"{prefix}{(n * _SERIAL_MULTIPLIER + offset) % SERIAL_MODULUS:06d}"

    def full_name(self, sex: str) -> str:
        return random_full_name(self.rng, sex)

    def detail(self) -> str:
        rng, words = self.rng, self.words
        kind = rng.random()
        if kind < 0.30:
            return f"Số {rng.randint(1, 200)} phố {rng.choice(words.streets)}"
        if kind < 0.50:
            return f"Số {rng.randint(1, 500)} đường {rng.choice(words.streets)}"
        if kind < 0.60:
            return (
                f"Số {rng.randint(1, 90)}, ngõ {rng.randint(1, 400)} "
                f"phố {rng.choice(words.streets)}"
            )
        if kind < 0.80:
            return f"Thôn {rng.choice(words.villages)}"
        if kind < 0.88:
            return f"Xóm {rng.randint(1, 20)}"
        if kind < 0.95:
            return f"Tổ {rng.randint(1, 40)}, khu phố {rng.randint(1, 12)}"
        return f"Ấp {rng.choice(words.villages)}"

    def address(self) -> dict[str, str]:
        province, commune = self.rng.choice(self.ref.communes)
        return {"province_code": province, "commune_code": commune, "detail": self.detail()}

    def marital_status(self, age: int, dead: bool) -> str | None:
        rng = self.rng
        if rng.random() < 0.03:
            return None
        if dead:
            return "married" if rng.random() < 0.6 else "widowed"
        for upper, (values, weights) in self.words.marital:
            if age < upper:
                return rng.choices(values, cum_weights=weights)[0]
        return "married"

    def clean_item(self, updated_at: str) -> dict[str, Any]:
        """One item that passes every population rule."""
        rng = self.rng
        sex = "M" if rng.random() < 0.5 else "F"
        low, high = self.birth_range
        # Skewed towards recent years: the population is younger than a uniform draw.
        birth_ordinal = high - int((high - low) * rng.random() ** 1.3)
        born = date.fromordinal(birth_ordinal)
        birth_province = rng.choice(self.ref.birth_provinces)
        prefix = f"0{birth_province}{century_sex_digit(sex, born.year)}{born.year % 100:02d}"
        age = (self.today_ordinal - birth_ordinal) // 365
        death = None
        if age >= 65 and rng.random() < 0.05:
            earliest = max(birth_ordinal + 60 * 365, self.today_ordinal - 15 * 365)
            death = date.fromordinal(rng.randint(earliest, self.today_ordinal - 1)).isoformat()
        permanent = self.address()
        roll = rng.random()
        if roll < 0.60:
            current = dict(permanent)
        elif roll < 0.87:
            current = self.address()
        else:
            current = None
        ethnicity = "01" if rng.random() < 0.86 else f"{rng.randint(2, 54):02d}"
        household = f"HK{rng.randrange(10**10):010d}" if rng.random() < 0.92 else None
        return {
            "personal_id": self.next_personal_id(prefix),
            "full_name": self.full_name(sex),
            "date_of_birth": born.isoformat(),
            "sex": sex,
            "ethnicity_code": ethnicity,
            "nationality": "VN",
            "permanent_address": permanent,
            "current_address": current,
            "household_id": household,
            "marital_status": self.marital_status(age, death is not None),
            "date_of_death": death,
            "updated_at": updated_at,
        }

    def changed_version(self, item: dict[str, Any]) -> dict[str, Any]:
        """Another clean version of the same citizen that differs in one field."""
        rng = self.rng
        other = _copy_item(item)
        # A marital change only for adults: a child stays single in every version.
        adult = self.today.year - int(item["date_of_birth"][:4]) >= 20
        kind = rng.randrange(3 if adult else 2)
        if kind == 0:
            other["permanent_address"]["detail"] = self._different(
                item["permanent_address"]["detail"], self.detail
            )
        elif kind == 1:
            other["household_id"] = self._different(
                item["household_id"], lambda: f"HK{rng.randrange(10**10):010d}"
            )
        else:
            statuses = ("single", "married", "divorced", "widowed")
            other["marital_status"] = self._different(
                item["marital_status"], lambda: rng.choice(statuses)
            )
        return other

    @staticmethod
    def _different(value: Any, draw: Callable[[], Any]) -> Any:
        while True:
            candidate = draw()
            if candidate != value:
                return candidate

    # -- single-row defects -------------------------------------------------------------

    def plant(self, label: str, item: dict[str, Any]) -> None:
        """Plant the one-row defect ``label`` in a clean ``item``, in place."""
        getattr(self, "_plant_" + label.replace("-", "_").replace(":", "_").lower())(item)

    def _id_parts(self, item: dict[str, Any]) -> tuple[str, str, str]:
        pid = item["personal_id"]
        return pid[:3], pid[3], pid[4:6]

    def _plant_p_c1(self, item: dict[str, Any]) -> None:
        ppp, g, yy = self._id_parts(item)
        # A counter of its own keeps broken IDs unique too (no accidental P-K3).
        if self.rng.random() < 0.5:
            item["personal_id"] = (
                self.next_personal_id(f"{ppp}{g}{yy}")[:6]
                + (self.next_personal_id(f"C1{ppp}{g}{yy}")[-5:])
            )
        else:
            letter = self.rng.choice("OIBSZ")
            item["personal_id"] = (
                f"{ppp}{g}{yy}{letter}" + (self.next_personal_id(f"C1{letter}{ppp}{g}{yy}")[-5:])
            )

    def _plant_p_c2(self, item: dict[str, Any]) -> None:
        _, g, yy = self._id_parts(item)
        ppp = self.rng.choice(self.ref.invalid_birth_prefixes)
        item["personal_id"] = self.next_personal_id(f"{ppp}{g}{yy}")

    def _plant_p_c3(self, item: dict[str, Any]) -> None:
        ppp, g, yy = self._id_parts(item)
        wrong = self.rng.choice([d for d in "0123456789" if d != g])
        item["personal_id"] = self.next_personal_id(f"{ppp}{wrong}{yy}")

    def _plant_p_c4(self, item: dict[str, Any]) -> None:
        ppp, g, yy = self._id_parts(item)
        wrong = (int(yy) + self.rng.randint(1, 99)) % 100
        item["personal_id"] = self.next_personal_id(f"{ppp}{g}{wrong:02d}")

    def _plant_p_c5(self, item: dict[str, Any]) -> None:
        rng = self.rng
        kind = rng.randrange(4)
        born = date.fromisoformat(item["date_of_birth"])
        if kind == 0:
            # A day that does not exist, in the year the ID already encodes.
            item["date_of_birth"] = f"{born.year:04d}-{rng.choice(_IMPOSSIBLE_DAYS)}"
            item["date_of_death"] = None
        elif kind == 1:
            # Born after the extraction day; the ID is re-made so G and YY still agree.
            born = self.today + timedelta(days=rng.randint(*_FUTURE_DAYS))
            ppp = item["personal_id"][:3]
            prefix = f"{ppp}{century_sex_digit(item['sex'], born.year)}{born.year % 100:02d}"
            item["personal_id"] = self.next_personal_id(prefix)
            item["date_of_birth"] = born.isoformat()
            item["date_of_death"] = None
            item["marital_status"] = "single"
        elif kind == 2:
            died = born - timedelta(days=rng.randint(1, 3650))
            item["date_of_death"] = died.isoformat()
        else:
            died = self.today + timedelta(days=rng.randint(*_FUTURE_DAYS))
            item["date_of_death"] = died.isoformat()

    def _plant_p_c6(self, item: dict[str, Any]) -> None:
        rng, ref = self.rng, self.ref
        address = item["permanent_address"]
        if rng.random() < 0.5:
            # A real current commune, paired with a province it does not lie in (and was
            # not in before 2025 either, or P-L3 would read it as a pre-2025 address).
            commune_province, commune = rng.choice(ref.communes)
            legacy_province = ref.legacy_commune_province.get(commune)
            provinces = sorted({p for p, _ in ref.communes} - {commune_province, legacy_province})
            address["province_code"] = rng.choice(provinces)
            address["commune_code"] = commune
        else:
            while True:
                code = f"{rng.randint(0, 99_999):05d}"
                if code not in ref.current_commune_codes and code not in (
                    ref.legacy_commune_province
                ):
                    break
            address["commune_code"] = code

    def _plant_p_c7(self, item: dict[str, Any]) -> None:
        # Not a bad sex: G is derived from sex, and P-C3 must keep passing.
        if self.rng.random() < 0.5:
            item["ethnicity_code"] = self.rng.choice(("00", "55", "99"))
        else:
            item["nationality"] = self.rng.choice(("XX", "VNM", "Việt Nam"))

    def _plant_p_s1(self, item: dict[str, Any]) -> None:
        # Null, not absent: an absent documented field is a batch-level P-S3 failure.
        field = self.rng.choice(
            (
                "personal_id",
                "full_name",
                "date_of_birth",
                "sex",
                "permanent_address.province_code",
                "permanent_address.commune_code",
            )
        )
        if field.startswith("permanent_address."):
            item["permanent_address"][field.split(".", 1)[1]] = None
        else:
            item[field] = None
        if field == "date_of_birth":
            # A death date cannot be checked against an unknown birth: keep P-C5 silent.
            item["date_of_death"] = None

    def _plant_p_k1(self, item: dict[str, Any]) -> None:
        rng = self.rng
        name = item["full_name"]
        detail = item["permanent_address"]["detail"]
        variants: list[tuple[str, str]] = [
            ("full_name", unicodedata.normalize("NFD", name)),
            ("full_name", f"  {name.replace(' ', '  ', 1)} "),
            ("full_name", name.replace(" ", "\u00a0", 1)),
            ("full_name", name.replace("Đ", "\u00d0")),
            ("detail", unicodedata.normalize("NFD", detail)),
            ("detail", f" {detail.replace(' ', '   ', 1)}  "),
            # Tone marks on the second vowel of oa/oe/uy ("Hoà", "Thuỷ") where there is one.
            ("full_name", vietnamese.as_noncanonical_tone(name)),
            ("detail", vietnamese.as_noncanonical_tone(detail)),
        ]
        rng.shuffle(variants)
        normalise = vietnamese.normalise_text
        for field, text in variants:
            original = name if field == "full_name" else detail
            # Only a variant that P-K1 turns back into the clean value is a pure P-K1 row.
            if text != original and normalise(text) == original:
                if field == "full_name":
                    item["full_name"] = text
                else:
                    item["permanent_address"]["detail"] = text
                return
        raise AssertionError(f"no non-canonical variant of {name!r} / {detail!r}")

    def _plant_p_k2(self, item: dict[str, Any]) -> None:
        rng = self.rng
        name = item["full_name"]
        family, _, rest = name.partition(" ")
        position = rng.randint(1, len(name) - 1)
        variants = [
            f"{name}{rng.randint(1, 9)}",
            f"{name[:position]}{rng.randint(0, 9)}{name[position:]}",
            f"{family}\u0007{rest}" if rest else f"{name}\u0007",
            f"{name[:position]}\u0001{name[position:]}",
            vietnamese.as_tcvn3_mojibake(name),
            vietnamese.as_utf8_mojibake(name),
        ]
        rng.shuffle(variants)
        normalise, defect = vietnamese.normalise_text, vietnamese.name_defect
        for text in variants:
            # Canonical already, so that P-K1 has nothing to fix and only P-K2 fires.
            if text != name and normalise(text) == text and defect(text) is not None:
                item["full_name"] = text
                return
        for text in variants:
            if text != name and defect(normalise(text)) is not None:
                item["full_name"] = text
                return
        raise AssertionError(f"no defective variant of {name!r}")

    def _plant_p_k4(self, item: dict[str, Any]) -> None:
        province, commune = self.rng.choice(self.ref.unpaddable)
        strip_province = province[0] == "0" and (commune[0] != "0" or self.rng.random() < 0.5)
        strip_commune = commune[0] == "0" and (not strip_province or self.rng.random() < 0.5)
        address = item["permanent_address"]
        address["province_code"] = province.lstrip("0") if strip_province else province
        address["commune_code"] = (commune.lstrip("0") or "0") if strip_commune else commune

    def _plant_legacy(self, item: dict[str, Any], pairs: tuple[tuple[str, str], ...]) -> None:
        province, commune = self.rng.choice(pairs)
        item["permanent_address"]["province_code"] = province
        item["permanent_address"]["commune_code"] = commune

    def _plant_p_l3_whole(self, item: dict[str, Any]) -> None:
        self._plant_legacy(item, self.ref.whole_legacy)

    def _plant_p_l3_split(self, item: dict[str, Any]) -> None:
        self._plant_legacy(item, self.ref.split_legacy)


def _check_arguments(count: int, defect_rate: float, labels: tuple[str, ...]) -> None:
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError(f"defect_rate must be within [0, 1], not {defect_rate}")
    unknown = sorted(set(labels) - DEFECTS.keys())
    if unknown:
        raise ValueError(f"unknown defect labels: {unknown}; known: {sorted(DEFECTS)}")


def generate_citizens(
    count: int,
    *,
    seed: int = 6,
    defect_rate: float = 0.02,
    defects: Iterable[str] | None = None,
    now: datetime | None = None,
    span: timedelta = timedelta(days=30),
) -> Iterator[GeneratedCitizen]:
    """Yield ``count`` citizens in API order, ascending (``updated_at``, ``personal_id``).

    ``updated_at`` spreads over [now - span, now] with the row index (to the second, so
    rows may share one). Each row carries, with probability ``defect_rate``, exactly one
    defect drawn uniformly from ``defects`` (default: every label of ``DEFECTS``); the
    pair defects of P-K3 use two rows, and a pair that does not fit at the end of the
    stream is left out. P-L2 rows (``updated_at`` in the future) come last. The same seed,
    count and arguments give the same rows; pass ``now`` for that (it defaults to the
    current time, to the second).
    """
    if now is None:
        now = datetime.now(UTC)
    labels = tuple(DEFECTS) if defects is None else tuple(defects)
    _check_arguments(count, defect_rate, labels)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    now = now.astimezone(UTC).replace(microsecond=0)
    return _stream(count, seed, defect_rate, labels, now, span)


def _stream(
    count: int,
    seed: int,
    defect_rate: float,
    labels: tuple[str, ...],
    now: datetime,
    span: timedelta,
) -> Iterator[GeneratedCitizen]:
    factory = _CitizenFactory(seed, now.date())
    rng = factory.rng
    start = now - span
    span_seconds = max(int(span.total_seconds()), 0)

    def offset(index: int) -> int:
        return index * span_seconds // count

    stamps: dict[int, str] = {}

    def stamp(seconds: int) -> str:
        # Consecutive rows mostly share or step one second: keep just the last few.
        text = stamps.get(seconds)
        if text is None:
            if len(stamps) > 64:
                stamps.clear()
            text = (start + timedelta(seconds=seconds)).strftime(_TIMESTAMP_FORMAT)
            stamps[seconds] = text
        return text

    group: list[GeneratedCitizen] = []
    group_stamp: str | None = None
    # Newer versions of superseded rows, waiting for their later slot (a handful at most).
    reserved: dict[int, dict[str, Any]] = {}
    future_rows = 0
    index = 0
    while index < count:
        now_offset = offset(index)
        updated_at = stamp(now_offset)
        placed: list[GeneratedCitizen]
        newer = reserved.pop(index, None)
        if newer is not None:
            newer["updated_at"] = updated_at
            placed = [GeneratedCitizen(newer, None)]
            index += 1
        else:
            label = rng.choice(labels) if labels and rng.random() < defect_rate else None
            placed, index = _rows_for_slot(
                factory, label, index, count, updated_at, reserved, offset
            )
            if label == "P-L2" and not placed:
                future_rows += 1
        for citizen in placed:
            if citizen.item["updated_at"] != group_stamp:
                group.sort(key=_sort_key)
                yield from group
                group = []
                group_stamp = citizen.item["updated_at"]
            group.append(citizen)
    group.sort(key=_sort_key)
    yield from group
    # Future rows: one second apart so each is its own group, already in order.
    for k in range(future_rows):
        future = (now + _FUTURE_SHIFT + timedelta(seconds=k)).strftime(_TIMESTAMP_FORMAT)
        yield GeneratedCitizen(factory.clean_item(future), "P-L2")


def _rows_for_slot(
    factory: _CitizenFactory,
    label: str | None,
    index: int,
    count: int,
    updated_at: str,
    reserved: dict[int, dict[str, Any]],
    offset: Callable[[int], int],
) -> tuple[list[GeneratedCitizen], int]:
    """The rows that fill slot ``index`` (and the next one for a pair); the next free slot."""
    if label == "P-L2":
        return [], index + 1
    item = factory.clean_item(updated_at)
    if label is None:
        return [GeneratedCitizen(item, None)], index + 1
    if label not in _PAIR_DEFECTS:
        factory.plant(label, item)
        return [GeneratedCitizen(item, label)], index + 1
    if label == "P-K3:superseded":
        # The newer version takes the first later slot with a later second that is free.
        slot = _first_slot_after(index, count, offset)
        while slot < count and slot in reserved:
            slot += 1
        if slot >= count:
            return [GeneratedCitizen(item, None)], index + 1
        reserved[slot] = item
        older = factory.changed_version(item)
        older["updated_at"] = updated_at
        return [GeneratedCitizen(older, label)], index + 1
    # Identical copies and ties take the next slot, with the same updated_at.
    if index + 1 >= count or index + 1 in reserved:
        return [GeneratedCitizen(item, None)], index + 1
    if label == "P-K3:identical":
        return [GeneratedCitizen(item, None), GeneratedCitizen(_copy_item(item), label)], index + 2
    twin = factory.changed_version(item)
    return [GeneratedCitizen(item, label), GeneratedCitizen(twin, label)], index + 2


def _first_slot_after(index: int, count: int, offset: Callable[[int], int]) -> int:
    """The first slot whose second is later than slot ``index``'s (``count`` if none)."""
    target = offset(index) + 1
    low, high = index + 1, count
    # Binary search: offset() is non-decreasing in the slot.
    while low < high:
        middle = (low + high) // 2
        if offset(middle) >= target:
            high = middle
        else:
            low = middle + 1
    return low


def expected_outcomes(citizens: Iterable[GeneratedCitizen]) -> Counter[str]:
    """Count the rows per expected outcome ("published", "quarantined", "collapsed")."""
    outcomes: Counter[str] = Counter()
    for citizen in citizens:
        outcome = "published" if citizen.defect is None else DEFECTS[citizen.defect].outcome
        outcomes[outcome] += 1
    return outcomes
