"""Answers about administrative codes that the population rules ask (P-C6, P-K4, P-L3)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache, cached_property

from lienthong.reference import admin_units


@dataclass(frozen=True)
class Remap:
    """Where a pre-2025 commune went: one current commune (whole) or several (split)."""

    legacy_commune_code: str
    targets: tuple[tuple[str, str], ...]  # (province_code, commune_code) of each current unit

    @property
    def whole(self) -> bool:
        return len(self.targets) == 1


class AddressCodes:
    """Lookups over the current and pre-2025 administrative units, each built once per process
    on first use: a validation needs only the birth-province codes, and a batch whose addresses
    are all current never reads the pre-2025 units or their conversion (a third of a second
    of a small batch's sync, in each task's process)."""

    @cached_property
    def current(self) -> set[tuple[str, str]]:
        """(province_code, commune_code) of every current commune."""
        return {(c.province_code, c.code) for c in admin_units.current_communes()}

    @cached_property
    def legacy(self) -> set[tuple[str, str]]:
        """(province_code, commune_code) of every pre-2025 commune."""
        return {(c.province_code, c.code) for c in admin_units.legacy_communes()}

    @cached_property
    def _remaps(self) -> dict[str, Remap]:
        province_of = {c.code: c.province_code for c in admin_units.current_communes()}
        targets: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for legacy_code, code in admin_units.commune_conversion():
            targets[legacy_code].append((province_of[code], code))
        return {k: Remap(k, tuple(sorted(v))) for k, v in targets.items()}

    @cached_property
    def birth_province_codes(self) -> list[str]:
        """The three-digit birth-province prefixes of a personal ID: "0" and a pre-2025
        province code, sorted."""
        return sorted(f"0{p.code}" for p in admin_units.legacy_provinces())

    def is_current(self, province_code: str | None, commune_code: str | None) -> bool:
        """The pair names a current commune lying in that current province."""
        return (province_code, commune_code) in self.current

    def legacy_remap(self, province_code: str | None, commune_code: str | None) -> Remap | None:
        """Where a pre-2025 address went, when the pair is not current but was valid before 2025."""
        if self.is_current(province_code, commune_code):
            return None
        if (province_code, commune_code) not in self.legacy:
            return None
        return self._remaps.get(commune_code)


@cache
def address_codes() -> AddressCodes:
    """The process-wide lookups (reference data loads once)."""
    return AddressCodes()
