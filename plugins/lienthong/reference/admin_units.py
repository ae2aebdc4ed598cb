"""Vietnam's administrative units: current (since 2025-07-01), pre-2025, and the conversion.

Everything is read from the data files shipped inside the `vietnamadminunits` package
(`data/dataset.db`, `data/converter_2025.json`); nothing goes to the network and nothing is
geocoded. docs/REFERENCE.md says why this package was chosen over `vietnam-provinces`, and how
the code-level conversion is derived from the package's name-keyed converter.

All public functions are cached: the data is read once per process, on first use.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.metadata
import importlib.util
import json
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

SOURCE_PACKAGE = "vietnamadminunits"

# A converter key: "province_district_commune" for old communes, (province, commune) for new.
_Key = TypeVar("_Key", str, tuple[str, str])

# Dataset names, in the order the ref tables must be filled (parents before children);
# each is the name of its table in the `ref` schema.
DATASETS = ("provinces", "communes", "legacy_provinces", "legacy_communes", "commune_conversion")


@dataclass(frozen=True)
class Province:
    """A province-level unit: 2-digit code and its short name with diacritics ("Hà Nội")."""

    code: str
    name: str


@dataclass(frozen=True)
class Commune:
    """A commune-level unit (xã, phường, thị trấn, đặc khu): 5-digit code, full name."""

    code: str
    name: str
    province_code: str


class ReferenceDataError(ValueError):
    """The package data contradicts itself (a code with two names, an unknown converter key)."""


def _package_data_dir() -> Path:
    # find_spec locates the package without importing it: importing vietnamadminunits loads
    # its parser tables and pulls in geopy/shapely, none of which is needed here.
    spec = importlib.util.find_spec(SOURCE_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {SOURCE_PACKAGE!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _query(sql: str) -> list[tuple[Any, ...]]:
    """Run one read-only query on the package's SQLite dataset."""
    uri = f"{(_package_data_dir() / 'dataset.db').as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
        return db.execute(sql).fetchall()


def _unique_provinces(rows: Iterable[tuple[str, str]]) -> tuple[Province, ...]:
    """Provinces from (code, name) rows that repeat once per commune; one name per code."""
    names: dict[str, str] = {}
    for code, name in rows:
        if names.setdefault(code, name) != name:
            raise ReferenceDataError(f"province {code} has two names: {names[code]!r}, {name!r}")
    return tuple(Province(code, names[code]) for code in sorted(names))


def _communes(rows: Iterable[tuple[str, str, str]]) -> tuple[Commune, ...]:
    communes: dict[str, Commune] = {}
    for code, name, province_code in rows:
        if code in communes:
            raise ReferenceDataError(f"commune code {code} appears twice")
        communes[code] = Commune(code, name, province_code)
    return tuple(communes[code] for code in sorted(communes))


@functools.cache
def current_provinces() -> tuple[Province, ...]:
    """The 34 provincial units since 2025-07-01, ordered by code."""
    return _unique_provinces(_query("SELECT provinceCode, provinceShort FROM admin_units"))


@functools.cache
def current_communes() -> tuple[Commune, ...]:
    """The 3,321 communes since 2025-07-01, ordered by code."""
    return _communes(_query("SELECT wardCode, ward, provinceCode FROM admin_units"))


@functools.cache
def legacy_provinces() -> tuple[Province, ...]:
    """The 63 provinces before 2025-07-01, ordered by code."""
    return _unique_provinces(_query("SELECT provinceCode, provinceShort FROM admin_units_legacy"))


@functools.cache
def legacy_communes() -> tuple[Commune, ...]:
    """The 10,035 communes before 2025-07-01, ordered by code.

    The source also lists five island districts that had no commune at all (Bạch Long Vĩ,
    Cồn Cỏ, Hoàng Sa, Lý Sơn, Côn Đảo) as rows without a commune code; they are not communes
    and are left out.
    """
    return _communes(
        _query(
            "SELECT wardCode, ward, provinceCode FROM admin_units_legacy WHERE wardCode IS NOT NULL"
        )
    )


def _converter_pairs(
    converter: dict[str, Any],
) -> Iterator[tuple[str, str, str]]:
    """(new province key, new commune key, old "province_district_commune" key) triples."""
    # Old communes that went whole: new commune -> the old communes it absorbed.
    for province_key, new_communes in converter["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for commune_key, old_keys in new_communes.items():
            for old_key in old_keys:
                yield province_key, commune_key, old_key
    # Old communes that were split: old commune -> every new commune that got a part.
    for province_key, old_communes in converter["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old_key, parts in old_communes.items():
            for part in parts:
                yield province_key, part["newWardKey"], old_key


def _unique_keys(items: Iterable[tuple[_Key, str]]) -> dict[_Key, str]:
    """Converter key -> code; a key naming two communes would make the conversion ambiguous."""
    codes: dict[_Key, str] = {}
    for key, code in items:
        if codes.setdefault(key, code) != code:
            raise ReferenceDataError(f"converter key {key!r} names two communes")
    return codes


@functools.cache
def commune_conversion() -> tuple[tuple[str, str], ...]:
    """(legacy_commune_code, commune_code) pairs, sorted: where each pre-2025 commune went.

    One pair for an old commune means it went whole into one new commune; several pairs
    mean it was split. The package's converter is keyed by normalised names, not codes; the
    keys are resolved to codes through the same package's unit tables (docs/REFERENCE.md).
    """
    new_codes = _unique_keys(
        ((province_key, commune_key), code)
        for province_key, commune_key, code in _query(
            "SELECT provinceKey, wardKey, wardCode FROM admin_units"
        )
    )
    legacy_codes = _unique_keys(
        (f"{province_key}_{district_key}_{commune_key}", code)
        for province_key, district_key, commune_key, code in _query(
            "SELECT provinceKey, districtKey, wardKey, wardCode FROM admin_units_legacy"
            " WHERE wardCode IS NOT NULL"
        )
    )
    converter = json.loads((_package_data_dir() / "converter_2025.json").read_text("utf-8"))
    pairs: set[tuple[str, str]] = set()
    for province_key, commune_key, old_key in _converter_pairs(converter):
        if old_key.endswith("_"):
            # An island district without communes ("thanhphohaiphong_huyenbachlongvi_"): it
            # became a đặc khu, but there is no legacy commune code to convert from.
            continue
        if old_key not in legacy_codes:
            raise ReferenceDataError(f"converter names an unknown legacy commune {old_key!r}")
        if (province_key, commune_key) not in new_codes:
            raise ReferenceDataError(f"converter names an unknown commune {commune_key!r}")
        pairs.add((legacy_codes[old_key], new_codes[province_key, commune_key]))
    return tuple(sorted(pairs))


def _package_licence(package: str) -> str:
    """The licence a distribution declares: its SPDX expression, classifier or License field."""
    metadata = importlib.metadata.metadata(package)
    if expression := metadata.get("License-Expression"):
        return expression
    for classifier in metadata.get_all("Classifier") or []:
        if classifier.startswith("License :: "):
            name = classifier.rsplit(" :: ", 1)[-1]
            return {"MIT License": "MIT"}.get(name, name)
    return metadata.get("License") or "unknown"


@functools.cache
def _source_rows() -> tuple[tuple[str, int], ...]:
    return (
        ("provinces", len(current_provinces())),
        ("communes", len(current_communes())),
        ("legacy_provinces", len(legacy_provinces())),
        ("legacy_communes", len(legacy_communes())),
        ("commune_conversion", len(commune_conversion())),
    )


def source_info() -> list[dict[str, Any]]:
    """Per dataset: dataset, package, version, licence and rows, the columns of ref.sources."""
    version = importlib.metadata.version(SOURCE_PACKAGE)
    licence = _package_licence(SOURCE_PACKAGE)
    return [
        {
            "dataset": dataset,
            "package": SOURCE_PACKAGE,
            "version": version,
            "licence": licence,
            "rows": rows,
        }
        for dataset, rows in _source_rows()
    ]
