"""A seeded demo civil-status registry (SOURCES.md §2) with labelled defects.

`generate_registry` draws the history of one province's ``civil_events`` table: births and
deaths registered in that province's communes, corrections of registered events (same
``event_id``, newer ``updated_at``), soft deletes, and many rows sharing one ``updated_at`` (a
registry writes in batches). `create_registry` creates the table on PostgreSQL or MariaDB/MySQL,
with the contract's DDL or a *loose* one (wider types, no primary key, as another team's registry
might have), and writes that history into it up to a moment; `apply_versions` writes what comes
after, so a demo can extract, let time pass, and extract again.

Every event is clean (it passes every civil_events rule of RULES.md) or carries exactly one
defect, labelled with the rule that must catch it (`DEFECTS`). Defects are planted only in
events that are never corrected or deleted, so a label holds for the event's whole life; the
one exception is E-K2, which is about versions: in a loose table (no primary key) an event has
two rows, the older one labelled (it must collapse when both are read in one window).

People: births are new people, with new valid personal IDs (``PPP`` the registering province,
``G``/``YY`` from the birth date). Deaths are, where there are enough of them, people of the
population generator (`lienthong_demo.citizens.generate_citizens`, pass its stream as
``people``) whose permanent address is in the province: a person whose population record has a
``date_of_death`` dies on that day; some persons the population still shows alive die too, and
their personal IDs are returned as ``p_l4_personal_ids`` (rule P-L4 must flag those population
rows once the death is in the warehouse). Other deaths are of people the population sample does
not hold.

Values are Python values: ``event_date`` a date (or, for MariaDB's odd dates, the string the
server will hold), ``registered_at``/``updated_at`` aware UTC datetimes in whole seconds,
``is_deleted`` a bool (or ``2`` for an E-K3 defect in a loose table).
"""

from __future__ import annotations

import bisect
import random
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from lienthong.population.personal_id import compose_personal_id
from lienthong.reference import admin_units
from lienthong.registry.extraction import DOCUMENTED_COLUMNS as COLUMNS  # the reader's own
from lienthong.registry.extraction import TABLE
from lienthong.text import vietnamese
from lienthong_demo.citizens import Expected, GeneratedCitizen, random_full_name
from lienthong_demo.registry_databases import registry_hook

__all__ = [
    "COLUMNS",
    "DEFECTS",
    "GeneratedRegistry",
    "RegistryVersion",
    "apply_versions",
    "create_registry",
    "generate_registry",
]

_QUARANTINED = "quarantined"

DEFECTS: dict[str, Expected] = {
    "E-C1:event_type": Expected(_QUARANTINED, "E-C1", False),
    "E-C1:personal_id": Expected(_QUARANTINED, "E-C1", False),
    "E-C2:id_date": Expected(_QUARANTINED, "E-C2", False),
    "E-C2:after_registration": Expected(_QUARANTINED, "E-C2", False),
    "E-C3": Expected(_QUARANTINED, "E-C3", False),
    "E-S1": Expected(_QUARANTINED, "E-S1", False),
    "E-K1:fix": Expected("published", "E-K1", True),
    "E-K1:quarantine": Expected(_QUARANTINED, "E-K1", False),
    "E-K2": Expected("collapsed", "E-K2", False),
    "E-K3:width": Expected(_QUARANTINED, "E-K3", False),
    "E-K3:boolean": Expected(_QUARANTINED, "E-K3", False),
    "E-K3:zero_date": Expected(_QUARANTINED, "E-K3", False),
    "E-K3:invalid_date": Expected(_QUARANTINED, "E-K3", False),
}
"""Every defect label the generator can plant, and its expected outcome.

``E-K2`` labels the older of two rows of one event (loose table only); the newer row is clean.
"""

#: Defects that need a loose table: several rows per event, wider types.
LOOSE_ONLY = frozenset({"E-K2", "E-K3:width", "E-K3:boolean"})

#: Defects only MySQL/MariaDB can hold (a DATE column with a zero or impossible date).
MYSQL_ONLY = frozenset({"E-K3:zero_date", "E-K3:invalid_date"})

_SQL_DIR = Path(__file__).with_name("sql")

_MAX_REGISTRATION_DELAY = {"birth": 60, "death": 14}  # days between the event and its record
_IMPOSSIBLE_DAYS = ("02-30", "02-31", "04-31", "06-31", "09-31", "11-31")


@dataclass(frozen=True)
class RegistryVersion:
    """One version of one row, as written to the registry.

    Attributes:
        values: the nine contract columns.
        defect: the `DEFECTS` label planted in it, or None.
        action: ``insert`` (a new row) or ``update`` (replaces the row of its event_id in place).
    """

    values: dict[str, Any]
    defect: str | None
    action: str

    @property
    def event_id(self) -> str:
        return self.values["event_id"]

    @property
    def updated_at(self) -> datetime:
        return self.values["updated_at"]


@dataclass(frozen=True)
class GeneratedRegistry:
    """The whole history of a generated registry and what the pipeline must make of it.

    Attributes:
        province_code: the registry's province (current 2-digit code).
        loose: the table is the loose variant (wider types, no primary key).
        mysql: generated for MySQL/MariaDB (may hold its odd dates).
        versions: every version ever written, ordered by (updated_at, event_id).
        p_l4_personal_ids: population persons whose death is registered here while their
            population record has no date_of_death (rule P-L4 flags them).
        now: the newest ``updated_at`` the history can hold.
    """

    province_code: str
    loose: bool
    mysql: bool
    versions: tuple[RegistryVersion, ...]
    p_l4_personal_ids: frozenset[str]
    now: datetime

    def state(self, at: datetime | None = None) -> list[RegistryVersion]:
        """The rows the table holds once every version with ``updated_at < at`` is written."""
        rows: list[RegistryVersion] = []
        index: dict[str, int] = {}
        for version in self.versions:
            if at is not None and version.updated_at >= at:
                break
            if version.action == "update":
                rows[index[version.event_id]] = version
            else:
                index[version.event_id] = len(rows)
                rows.append(version)
        return rows

    def window(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        at: datetime | None = None,
    ) -> list[RegistryVersion]:
        """The rows an extraction of ``[since, until)`` reads from the table as of ``at``
        (default ``until``), in (updated_at, event_id) order, each labelled for that window.

        An E-K2 row is labelled only when the newer row of its event is read in the same
        window; otherwise it is a clean row of its window.
        """
        rows = [
            row
            for row in self.state(at if at is not None else until)
            if (since is None or row.updated_at >= since)
            and (until is None or row.updated_at < until)
        ]
        newest: dict[str, datetime] = {}
        for row in rows:
            newest[row.event_id] = max(newest.get(row.event_id, row.updated_at), row.updated_at)
        labelled = []
        for row in rows:
            if row.defect == "E-K2" and newest[row.event_id] == row.updated_at:
                row = RegistryVersion(row.values, None, row.action)
            labelled.append(row)
        labelled.sort(key=lambda row: (row.updated_at, row.event_id))
        return labelled

    def labels(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        at: datetime | None = None,
    ) -> dict[str, Expected]:
        """event_id → expected outcome and rule, for the labelled rows of `window`."""
        return {
            row.event_id: DEFECTS[row.defect]
            for row in self.window(since, until, at)
            if row.defect is not None
        }

    def expected_outcomes(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        at: datetime | None = None,
    ) -> Counter[str]:
        """Rows of `window` per expected outcome (published, quarantined, collapsed)."""
        return Counter(
            "published" if row.defect is None else DEFECTS[row.defect].outcome
            for row in self.window(since, until, at)
        )

    def expected_live(self, at: datetime | None = None) -> dict[str, dict[str, Any]]:
        """event_id → values of the live event once everything before ``at`` is read.

        The newest row of each event, unless it is soft-deleted or expected in quarantine.
        Values are as written (an E-K1 fix applies on top of them).
        """
        newest: dict[str, RegistryVersion] = {}
        for row in self.window(None, at, at):
            newest[row.event_id] = row
        return {
            event_id: dict(row.values)
            for event_id, row in newest.items()
            if row.values["is_deleted"] is not True
            and (row.defect is None or DEFECTS[row.defect].outcome == "published")
        }


# ---------------------------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Person:
    personal_id: str
    full_name: str
    date_of_birth: date
    date_of_death: date | None


def _people_of(
    province_code: str, people: Iterable[GeneratedCitizen]
) -> tuple[list[_Person], set[str]]:
    """Clean population persons living in the province, and every personal ID in the stream."""
    seen: set[str] = set()
    persons: dict[str, _Person] = {}
    for citizen in people:
        item = citizen.item
        pid = item.get("personal_id")
        if isinstance(pid, str):
            seen.add(pid)
        if citizen.defect is not None or not isinstance(pid, str):
            continue
        address = item.get("permanent_address") or {}
        if address.get("province_code") != province_code or pid in persons:
            continue
        death = item.get("date_of_death")
        persons[pid] = _Person(
            pid,
            item["full_name"],
            date.fromisoformat(item["date_of_birth"]),
            date.fromisoformat(death) if death else None,
        )
    return list(persons.values()), seen


class EventFactory:
    """Draws clean events of one province and plants defects in them.

    Args:
        rng: the random source (seeded by the caller).
        province_code: the registry's province.
        people: population persons of the province, for deaths (consumed as used).
        used_ids: personal IDs already taken (new IDs avoid them; the set grows).
        mysql: the table is on MySQL/MariaDB (a NUL is then a possible E-K1 defect).
    """

    def __init__(
        self,
        rng: random.Random,
        province_code: str,
        people: list[_Person] | None = None,
        used_ids: set[str] | None = None,
        *,
        mysql: bool = False,
    ) -> None:
        self.rng = rng
        self.mysql = mysql
        self.province_code = province_code
        self.communes = [
            c.code for c in admin_units.current_communes() if c.province_code == province_code
        ]
        if not self.communes:
            raise ValueError(f"province {province_code!r} has no commune in the current scheme")
        self.foreign_communes = [
            c.code for c in admin_units.current_communes() if c.province_code != province_code
        ]
        legacy = {p.code for p in admin_units.legacy_provinces()}
        self.birth_provinces = sorted(legacy)
        self.invalid_prefixes = [f"{n:03d}" for n in range(100) if f"{n:02d}" not in legacy]
        self.people = people if people is not None else []
        self.used_ids = used_ids if used_ids is not None else set()

    # -- people --------------------------------------------------------------------------

    def new_personal_id(self, province: str, sex: str, born: date) -> str:
        """A personal ID no population person and no earlier event holds."""
        while True:
            pid = compose_personal_id(province, sex, born, self.rng.randrange(1_000_000))
            if pid not in self.used_ids:
                self.used_ids.add(pid)
                return pid

    def registered(self, stamp: datetime, kind: str) -> tuple[datetime, date]:
        """(registered_at, event_date) for an event first written at ``stamp``."""
        registered_at = stamp - timedelta(seconds=self.rng.randint(0, 2 * 86400))
        event_date = registered_at.date() - timedelta(
            days=self.rng.randint(0, _MAX_REGISTRATION_DELAY[kind])
        )
        return registered_at, event_date

    # -- clean events ----------------------------------------------------------------------

    def birth(self, event_id: str, stamp: datetime) -> dict[str, Any]:
        rng = self.rng
        sex = "M" if rng.random() < 0.51 else "F"
        registered_at, born = self.registered(stamp, "birth")
        return {
            "event_id": event_id,
            "event_type": "birth",
            "personal_id": self.new_personal_id(self.province_code, sex, born),
            "full_name": random_full_name(rng, sex),
            "event_date": born,
            "commune_code": rng.choice(self.communes),
            "registered_at": registered_at,
            "updated_at": stamp,
            "is_deleted": False,
        }

    def death(self, event_id: str, stamp: datetime) -> tuple[dict[str, Any], str | None]:
        """A death, and the personal ID to flag under P-L4 when the population still shows the
        person alive."""
        rng = self.rng
        registered_at, died = self.registered(stamp, "death")
        flag = None
        person = self.people.pop() if self.people and rng.random() < 0.8 else None
        if person is not None and person.date_of_death is not None:
            died = person.date_of_death
            registered_at = min(
                datetime.combine(died, datetime.min.time(), UTC)
                + timedelta(seconds=rng.randint(0, 14 * 86400)),
                stamp,
            )
        elif person is not None and person.date_of_birth <= died and rng.random() < 0.3:
            flag = person.personal_id
        else:
            person = None
        if person is None:
            sex = "M" if rng.random() < 0.5 else "F"
            born = died - timedelta(days=rng.randint(50 * 365, 95 * 365))
            province = rng.choice(self.birth_provinces)
            person = _Person(
                self.new_personal_id(province, sex, born), random_full_name(rng, sex), born, died
            )
        values = {
            "event_id": event_id,
            "event_type": "death",
            "personal_id": person.personal_id,
            "full_name": person.full_name,
            "event_date": died,
            "commune_code": rng.choice(self.communes),
            "registered_at": registered_at,
            "updated_at": stamp,
            "is_deleted": False,
        }
        return values, flag

    def corrected(self, values: dict[str, Any], stamp: datetime) -> dict[str, Any]:
        """A clean correction: the name or the commune re-typed."""
        other = dict(values, updated_at=stamp)
        if self.rng.random() < 0.5:
            other["commune_code"] = self._different(
                values["commune_code"], lambda: self.rng.choice(self.communes)
            )
        else:
            other["full_name"] = self._different(
                values["full_name"], lambda: random_full_name(self.rng, self.rng.choice("MF"))
            )
        return other

    @staticmethod
    def _different(value: Any, draw) -> Any:
        for _ in range(100):
            candidate = draw()
            if candidate != value:
                return candidate
        raise AssertionError(f"no value different from {value!r}")

    # -- defects -----------------------------------------------------------------------------

    def plant(self, label: str, values: dict[str, Any]) -> None:
        """Plant the one-row defect ``label`` in clean ``values``, in place."""
        getattr(self, "_plant_" + label.replace("-", "_").replace(":", "_").lower())(values)

    def _plant_e_c1_event_type(self, values: dict[str, Any]) -> None:
        values["event_type"] = self.rng.choice(("marriage", "adoption", "divorce"))

    def _plant_e_c1_personal_id(self, values: dict[str, Any]) -> None:
        pid = values["personal_id"]
        if self.rng.random() < 0.5:
            # P-C1: a letter where a digit belongs (a typing slip: O for 0, I for 1).
            position = self.rng.randrange(6, 12)
            values["personal_id"] = pid[:position] + self.rng.choice("OIBSZ") + pid[position + 1 :]
        else:
            # P-C2: a birth-province code no province ever had; G and YY stay right.
            values["personal_id"] = self.rng.choice(self.invalid_prefixes) + pid[3:]

    def _plant_e_c2_id_date(self, values: dict[str, Any]) -> None:
        pid, born = values["personal_id"], values["event_date"]
        if self.rng.random() < 0.5:
            wrong_yy = (born.year + self.rng.randint(1, 9)) % 100
            values["personal_id"] = f"{pid[:4]}{wrong_yy:02d}{pid[6:]}"
        else:
            # The century of the 1900s for a birth of the 2000s (the sex parity kept).
            values["personal_id"] = f"{pid[:3]}{int(pid[3]) % 2}{pid[4:]}"

    def _plant_e_c2_after_registration(self, values: dict[str, Any]) -> None:
        # Two days at least: after the registration whether its day is read in UTC or in
        # Vietnam (seven hours ahead).
        values["event_date"] = values["registered_at"].date() + timedelta(
            days=self.rng.randint(2, 20)
        )

    def _plant_e_c3(self, values: dict[str, Any]) -> None:
        values["commune_code"] = self.rng.choice(self.foreign_communes)

    def _plant_e_s1(self, values: dict[str, Any]) -> None:
        values[self.rng.choice(("personal_id", "event_date", "commune_code"))] = None

    def _plant_e_k1_fix(self, values: dict[str, Any]) -> None:
        name = values["full_name"]
        variants = [
            unicodedata.normalize("NFD", name),
            f"  {name.replace(' ', '  ', 1)} ",
            name.replace(" ", "\u00a0", 1),
            name.replace("Đ", "\u00d0"),
            vietnamese.as_noncanonical_tone(name),
        ]
        self.rng.shuffle(variants)
        for text in variants:
            # Only a variant that P-K1 turns back into the clean name is a pure E-K1 fix.
            if text != name and vietnamese.normalise_text(text) == name:
                values["full_name"] = text
                return
        raise AssertionError(f"no non-canonical variant of {name!r}")

    def _plant_e_k1_quarantine(self, values: dict[str, Any]) -> None:
        rng, name = self.rng, values["full_name"]
        position = rng.randint(1, len(name) - 1)
        variants = [
            f"{name}{rng.randint(1, 9)}",
            f"{name[:position]}{rng.randint(0, 9)}{name[position:]}",
            f"{name[:position]}\u0007{name[position:]}",
            vietnamese.as_tcvn3_mojibake(name),
            vietnamese.as_utf8_mojibake(name),
        ]
        if self.mysql:
            # MariaDB holds a NUL in a VARCHAR; PostgreSQL cannot.
            variants.append(f"{name[:position]}\u0000{name[position:]}")
        rng.shuffle(variants)
        for text in variants:
            if (
                text != name
                and vietnamese.normalise_text(text) == text
                and vietnamese.name_defect(text)
            ):
                values["full_name"] = text
                return
        for text in variants:
            if text != name and vietnamese.name_defect(vietnamese.normalise_text(text)):
                values["full_name"] = text
                return
        raise AssertionError(f"no defective variant of {name!r}")

    def _plant_e_k3_width(self, values: dict[str, Any]) -> None:
        if self.rng.random() < 0.5:
            values["event_id"] = values["event_id"] + "-" + "X" * (40 - len(values["event_id"]))
        else:
            # Letters and spaces only, canonical: nothing but its length is wrong.
            name = values["full_name"]
            while len(name) <= 200:
                name = f"{name} {random_full_name(self.rng, 'F').split()[-1]}"
            values["full_name"] = name

    def _plant_e_k3_boolean(self, values: dict[str, Any]) -> None:
        values["is_deleted"] = 2

    def _plant_e_k3_zero_date(self, values: dict[str, Any]) -> None:
        values["event_date"] = "0000-00-00"

    def _plant_e_k3_invalid_date(self, values: dict[str, Any]) -> None:
        values["event_date"] = (
            f"{values['registered_at'].year:04d}-{self.rng.choice(_IMPOSSIBLE_DAYS)}"
        )


#: Defects that must be planted in a birth (they concern the ID against the birth date).
_BIRTH_ONLY = frozenset({"E-C2:id_date"})


def _applicable(loose: bool, mysql: bool) -> tuple[str, ...]:
    return tuple(
        label
        for label in DEFECTS
        if (loose or label not in LOOSE_ONLY) and (mysql or label not in MYSQL_ONLY)
    )


def generate_registry(
    province_code: str = "01",
    *,
    count: int = 500,
    seed: int = 6,
    now: datetime | None = None,
    span: timedelta = timedelta(days=30),
    defect_rate: float = 0.1,
    defects: Iterable[str] | None = None,
    loose: bool = False,
    mysql: bool = False,
    people: Iterable[GeneratedCitizen] = (),
    death_share: float = 0.4,
    correction_rate: float = 0.08,
    deletion_rate: float = 0.03,
) -> GeneratedRegistry:
    """Draw the history of one province's registry.

    Args:
        province_code: current 2-digit province code; events are registered in its communes.
        count: events (each has one first version; corrections and deletions add versions).
        seed: the same seed and arguments give the same history.
        now: the newest ``updated_at`` (default: ten minutes ago, to the second, so that an
            extraction with the default two-minute commit lag reads all of it).
        span: first versions spread over ``[now - span, now]``.
        defect_rate: share of events carrying one defect, drawn uniformly from ``defects``.
        defects: labels to plant (default: every label of `DEFECTS` the table can hold).
        loose: the table is the loose variant (E-K2 and the E-K3 width/boolean defects).
        mysql: the table is on MySQL/MariaDB (E-K3 zero and impossible dates, a NUL in E-K1).
        people: the population generator's stream, for deaths and P-L4 (see module docstring).
        death_share: share of deaths among events.
        correction_rate: share of clean events corrected later.
        deletion_rate: share of clean events soft-deleted later.

    Raises:
        ValueError: an unknown label, or one the table cannot hold.
    """
    if now is None:
        now = datetime.now(UTC) - timedelta(minutes=10)
    if now.tzinfo is None:
        raise ValueError(f"now must be timezone-aware, got naive {now!r}")
    now = now.astimezone(UTC).replace(microsecond=0)
    applicable = _applicable(loose, mysql)
    labels = applicable if defects is None else tuple(defects)
    unknown = sorted(set(labels) - DEFECTS.keys())
    if unknown:
        raise ValueError(f"unknown defect labels {unknown}; known: {sorted(DEFECTS)}")
    impossible = sorted(set(labels) - set(applicable))
    if impossible:
        raise ValueError(
            f"defects {impossible} cannot exist in a {'loose' if loose else 'contract'} table "
            f"on {'MySQL/MariaDB' if mysql else 'PostgreSQL'}"
        )
    if count < 0 or not 0 <= defect_rate <= 1:
        raise ValueError("count must be >= 0 and defect_rate within [0, 1]")

    rng = random.Random(seed)
    persons, used_ids = _people_of(province_code, people)
    rng.shuffle(persons)
    factory = EventFactory(rng, province_code, persons, used_ids, mysql=mysql)

    span_seconds = max(int(span.total_seconds()), 1)
    start = now - timedelta(seconds=span_seconds)
    stamps = _group_stamps(rng, count, start, span_seconds)
    versions: list[RegistryVersion] = []
    flagged: set[str] = set()
    for n, stamp in enumerate(stamps):
        label = rng.choice(labels) if labels and rng.random() < defect_rate else None
        kind = "birth" if label in _BIRTH_ONLY or rng.random() >= death_share else "death"
        event_id = f"{'KS' if kind == 'birth' else 'KT'}-{province_code}-{stamp:%Y%m%d}-{n:06d}"
        flag = None
        if kind == "birth":
            values = factory.birth(event_id, stamp)
        else:
            values, flag = factory.death(event_id, stamp)
        if label == "E-K2":
            newer_stamp = stamp + timedelta(seconds=rng.randint(1, 600))
            if newer_stamp > now:
                label = None
            else:
                newer = factory.corrected(values, newer_stamp)
                versions.append(RegistryVersion(values, "E-K2", "insert"))
                versions.append(RegistryVersion(newer, None, "insert"))
                continue
        if label is not None:
            factory.plant(label, values)
            versions.append(RegistryVersion(values, label, "insert"))
            continue
        versions.append(RegistryVersion(values, None, "insert"))
        latest = values
        if flag is None and rng.random() < correction_rate:
            latest = factory.corrected(latest, _later(rng, latest["updated_at"], now, stamps))
            versions.append(RegistryVersion(latest, None, "update"))
        if flag is None and rng.random() < deletion_rate:
            deleted = dict(
                latest, updated_at=_later(rng, latest["updated_at"], now, stamps), is_deleted=True
            )
            versions.append(RegistryVersion(deleted, None, "update"))
        if flag is not None:
            flagged.add(flag)
    versions = [v for v in versions if v.updated_at <= now]
    versions.sort(key=lambda v: (v.updated_at, v.event_id, v.action != "insert"))
    return GeneratedRegistry(
        province_code=province_code,
        loose=loose,
        mysql=mysql,
        versions=tuple(versions),
        p_l4_personal_ids=frozenset(flagged),
        now=now,
    )


def _group_stamps(
    rng: random.Random, count: int, start: datetime, span_seconds: int
) -> list[datetime]:
    """``count`` first-version stamps, ascending, in batches that share one second."""
    sizes: list[int] = []
    total = 0
    while total < count:
        size = min(rng.choice((1, 1, 1, 2, 2, 3, 5, 8, 13)), count - total)
        sizes.append(size)
        total += size
    # Drawn with replacement: two batches in the same second share it too.
    seconds = sorted(rng.choices(range(span_seconds + 1), k=len(sizes)))
    return [
        start + timedelta(seconds=second)
        for second, size in zip(seconds, sizes, strict=True)
        for _ in range(size)
    ]


def _later(rng: random.Random, after: datetime, now: datetime, stamps: list[datetime]) -> datetime:
    """A later stamp: half the time one a batch of first versions also has (shared seconds)."""
    if after >= now:
        return after + timedelta(seconds=1)  # past now: dropped by the caller
    first_later = bisect.bisect_right(stamps, after)
    if first_later < len(stamps) and rng.random() < 0.5:
        return rng.choice(stamps[first_later:])
    return after + timedelta(seconds=rng.randint(1, int((now - after).total_seconds())))


# ---------------------------------------------------------------------------------------------
# Writing to a database
# ---------------------------------------------------------------------------------------------


def _ddl(family: str, loose: bool) -> list[str]:
    text = (_SQL_DIR / f"civil_events_{'loose' if loose else 'contract'}.{family}.sql").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return [statement.strip() for statement in "\n".join(lines).split(";") if statement.strip()]


def civil_events_table(name: str = TABLE) -> sa.TableClause:
    """The table as SQLAlchemy Core sees it (no types: values go to the driver as they are)."""
    return sa.table(name, *(sa.column(c) for c in COLUMNS))


def driver_values(values: dict[str, Any], *, loose: bool) -> dict[str, Any]:
    """Values as the driver takes them: naive UTC timestamps; SMALLINT flags on a loose table."""
    row = {}
    for column, value in values.items():
        if isinstance(value, datetime):
            value = value.astimezone(UTC).replace(tzinfo=None)
        if column == "is_deleted" and loose and isinstance(value, bool):
            value = int(value)
        row[column] = value
    return row


def _write(
    conn: sa.Connection, registry: GeneratedRegistry, versions: Iterable[RegistryVersion]
) -> int:
    table = civil_events_table()
    inserts: list[dict[str, Any]] = []
    written = 0

    def flush() -> None:
        if inserts:
            conn.execute(sa.insert(table), inserts)
            inserts.clear()

    for version in versions:
        row = driver_values(version.values, loose=registry.loose)
        if version.action == "insert":
            inserts.append(row)
        else:
            flush()
            conn.execute(
                sa.update(table)
                .where(table.c.event_id == sa.bindparam("key"))
                .values({c: sa.bindparam(c) for c in COLUMNS if c != "event_id"}),
                [dict(row, key=row["event_id"])],
            )
        written += 1
    flush()
    return written


def _session_for_odd_values(conn: sa.Connection) -> None:
    if conn.dialect.name != "postgresql":
        # Zero and impossible dates (E-K3) are refused in MariaDB's default strict mode; an
        # old-style TIMESTAMP would silently gain ON UPDATE CURRENT_TIMESTAMP.
        conn.exec_driver_sql(
            "SET SESSION sql_mode = 'STRICT_TRANS_TABLES,ALLOW_INVALID_DATES,NO_ENGINE_SUBSTITUTION'"
        )
        conn.exec_driver_sql("SET SESSION explicit_defaults_for_timestamp = 1")


def create_registry(
    url: str,
    registry: GeneratedRegistry | None = None,
    *,
    until: datetime | None = None,
    **generate: Any,
) -> GeneratedRegistry:
    """Create ``civil_events`` in the database at ``url`` and write a registry's history into it.

    Args:
        url: the database, as a URI with an account that may create tables
            (``postgresql://…``, ``mysql://…``, ``mariadb://…``).
        registry: the history to write; default: `generate_registry` with ``generate``'s
            arguments (``mysql`` set from the server).
        until: write only the versions with ``updated_at < until`` (default: all of them).
        **generate: arguments of `generate_registry` when ``registry`` is None.

    Returns:
        The registry written (``state(until)`` is what the table now holds).
    """
    hook = registry_hook(url)
    family = hook.family
    if registry is None:
        generate.setdefault("mysql", family == "mysql")
        registry = generate_registry(**generate)
    elif generate:
        raise TypeError("pass either a registry or generate_registry arguments, not both")
    if registry.mysql and family != "mysql":
        raise ValueError(
            "this registry holds MySQL-only values; it cannot be written to PostgreSQL"
        )
    engine = hook.get_sqlalchemy_engine()
    try:
        with engine.begin() as conn:
            _session_for_odd_values(conn)
            conn.exec_driver_sql(
                f"DROP TABLE IF EXISTS {conn.dialect.identifier_preparer.quote(TABLE)}"
            )
            for statement in _ddl(family, registry.loose):
                conn.exec_driver_sql(statement)
            _write(conn, registry, _between(registry, None, until))
    finally:
        engine.dispose()
    return registry


def apply_versions(
    url: str, registry: GeneratedRegistry, *, since: datetime, until: datetime | None = None
) -> int:
    """Write the versions with ``since <= updated_at < until`` (after a `create_registry` up to
    ``since``); return how many were written."""
    hook = registry_hook(url)
    engine = hook.get_sqlalchemy_engine()
    try:
        with engine.begin() as conn:
            _session_for_odd_values(conn)
            return _write(conn, registry, _between(registry, since, until))
    finally:
        engine.dispose()


def _between(
    registry: GeneratedRegistry, since: datetime | None, until: datetime | None
) -> Iterator[RegistryVersion]:
    for version in registry.versions:
        if since is not None and version.updated_at < since:
            continue
        if until is not None and version.updated_at >= until:
            break
        yield version
