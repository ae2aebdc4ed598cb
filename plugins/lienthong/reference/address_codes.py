"""Answers about administrative codes that the population rules ask (P-C6, P-K4, P-L3)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

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
    """Lookups over the current and pre-2025 administrative units, built once per process."""

    def __init__(self) -> None:
        self.current = {(c.province_code, c.code) for c in admin_units.current_communes()}
        self.legacy = {(c.province_code, c.code) for c in admin_units.legacy_communes()}
        province_of = {c.code: c.province_code for c in admin_units.current_communes()}
        targets: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for legacy_code, code in admin_units.commune_conversion():
            targets[legacy_code].append((province_of[code], code))
        self._remaps = {k: Remap(k, tuple(sorted(v))) for k, v in targets.items()}
        self.birth_province_codes = sorted(f"0{p.code}" for p in admin_units.legacy_provinces())

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
