"""The sources file: every source lienthong pulls from, as configuration.

One YAML file lists the sources; the project ships ``sources.yaml`` with the demo's, and the
environment variable ``LIENTHONG_SOURCES`` names another file, which replaces it. Each entry
becomes one Airflow DAG (``dags/sources.py``) whose id is stable: the dataset's name for a
national source (``population``), ``<dataset>_<province>`` for a provincial one
(``civil_events_01``).

An entry::

    - dataset: civil_events        # one of lienthong.datasets.CATALOGUE
      province: "01"               # current 2-digit code; absent for a national source
      conn_id: registry_01         # Airflow connection of an API or database source
      path: /data/landing/dossiers/01   # landing folder of a file source
      schedule: "*/30 * * * *"     # cron or preset; the dataset's default when absent
      thresholds: {correct: 0.9}   # pass rate per dimension; 0.95 when absent
      commit_lag_seconds: 120      # database sources: how far behind the source's clock to read

The file is checked entry by entry: a bad entry gives an error naming the entry and the field,
and every other entry still loads.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from lienthong.datasets import CATALOGUE
from lienthong.settings import PROJECT_ROOT

ENV_VAR = "LIENTHONG_SOURCES"

#: The sources file shipped with the project (the demo's sources).
DEFAULT_FILE = PROJECT_ROOT / "sources.yaml"

_PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
)
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]+$")

Dimension = Literal["correct", "sufficient", "clean", "live"]


class SourcesFileError(ValueError):
    """The sources file cannot be read at all, or some of its entries are invalid."""


class Source(BaseModel):
    """One entry of the sources file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    province: str | None = None
    conn_id: str | None = None
    path: str | None = None
    schedule: str | None = Field(default=None, validate_default=False)
    thresholds: dict[Dimension, float] = Field(default_factory=dict)
    page_size: int | None = Field(default=None, ge=1, le=5000)
    commit_lag_seconds: int | None = Field(default=None, ge=0, le=86_400)

    @field_validator("thresholds", "page_size", "commit_lag_seconds", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        # YAML reads yes/no/on/off/true as booleans, which pydantic would take as 1 and 0: a
        # threshold of 100 %, a page of one item, a lag of one second, all without a word.
        values = value.values() if isinstance(value, dict) else [value]
        if any(isinstance(v, bool) for v in values):
            raise ValueError(f"{value!r}: a boolean (YAML's yes/no/on/off) is not a number")
        return value

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str) -> str:
        if value not in CATALOGUE:
            raise ValueError(f"unknown dataset {value!r}; known: {', '.join(sorted(CATALOGUE))}")
        return value

    @field_validator("province", mode="before")
    @classmethod
    def _current_province(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            value = f"{value:02d}"  # YAML reads 01 as 1
        if not isinstance(value, str) or not re.fullmatch(r"\d{2}", value):
            raise ValueError(f'{value!r} is not a 2-digit province code (quote it: "01")')
        from lienthong.reference.admin_units import current_provinces

        if value not in {p.code for p in current_provinces()}:
            raise ValueError(f"{value!r} is not a current province code (34 units since 2025)")
        return value

    @field_validator("conn_id")
    @classmethod
    def _conn_id(cls, value: str | None) -> str | None:
        if value is not None and not _CONN_ID.match(value):
            raise ValueError(f"{value!r} is not an Airflow connection id")
        return value

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str | None) -> str | None:
        if value is None or value in _PRESETS:
            return value
        from croniter import CroniterBadDateError, croniter

        if not croniter.is_valid(value):
            raise ValueError(
                f"{value!r} is neither a cron expression nor one of {sorted(_PRESETS)}"
            )
        try:
            croniter(value, datetime.now(UTC)).get_next(datetime)
        except CroniterBadDateError:
            # "0 0 31 2 *", or a year gone by: Airflow would load the DAG, log croniter's
            # traceback, and never run it.
            raise ValueError(f"{value!r} never fires (no such date from now on)") from None
        return value

    @field_validator("thresholds")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for dimension, rate in value.items():
            if not 0 <= rate <= 1:
                raise ValueError(f"{dimension}: {rate} is not a pass rate between 0 and 1")
        return value

    @model_validator(mode="after")
    def _fits_the_dataset(self) -> Source:
        kind = CATALOGUE[self.dataset]
        if kind.scope == "national" and self.province is not None:
            raise ValueError(f"province: {self.dataset} is national; an entry has no province")
        if kind.scope == "provincial" and self.province is None:
            raise ValueError(f"province: {self.dataset} is provincial; give the province code")
        if kind.reads in ("api", "database") and not self.conn_id:
            raise ValueError(f"conn_id: a {self.dataset} source needs its Airflow connection")
        if kind.reads == "files" and not self.path:
            raise ValueError(f"path: a {self.dataset} source needs its landing folder")
        if kind.reads != "files" and self.path:
            raise ValueError(f"path: a {self.dataset} source reads no files")
        if self.commit_lag_seconds is not None and kind.reads != "database":
            raise ValueError("commit_lag_seconds: only database sources have one")
        return self

    @property
    def key(self) -> str:
        """The source's stable id: its DAG id, its batches' source, its lock."""
        return self.dataset if self.province is None else f"{self.dataset}_{self.province}"

    @property
    def dag_id(self) -> str:
        """The id of the source's DAG (the same as `key`)."""
        return self.key

    @property
    def effective_schedule(self) -> str:
        """The entry's schedule, or its dataset's default."""
        return self.schedule or CATALOGUE[self.dataset].schedule

    @property
    def scope(self) -> str:
        """The watermark scope: the province, or ``all`` for a national source."""
        return self.province or "all"


@dataclass(frozen=True)
class SourcesFile:
    """A read sources file: the valid entries, and an error per invalid one."""

    path: Path
    sources: tuple[Source, ...]
    errors: tuple[str, ...]

    def get(self, key: str) -> Source:
        """The valid source with this key (DAG id)."""
        for source in self.sources:
            if source.key == key:
                return source
        problem = next((e for e in self.errors if f"({key})" in e), None)
        raise SourcesFileError(problem or f"{self.path}: no source {key!r}")


def sources_path() -> Path:
    """The sources file in use: ``LIENTHONG_SOURCES``, else the shipped one."""
    return Path(os.environ.get(ENV_VAR) or DEFAULT_FILE)


def load_sources(path: Path | None = None) -> SourcesFile:
    """Read and check a sources file, entry by entry.

    Raises:
        SourcesFileError: the file cannot be read or is not a list of entries.
    """
    path = path or sources_path()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SourcesFileError(f"{path}: cannot read the sources file ({exc.strerror})") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A file saved as Windows-1258 or UTF-16 (Vietnamese comments): say which file and where,
        # which a bare UnicodeDecodeError, as the DAG files' import error, did not.
        line = raw[: exc.start].count(b"\n") + 1
        raise SourcesFileError(
            f"{path}: line {line}: not UTF-8 (byte 0x{raw[exc.start]:02x}); save the sources "
            "file as UTF-8"
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesFileError(f"{path}: not valid YAML: {exc}") from exc
    entries = document.get("sources") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise SourcesFileError(f"{path}: expected a mapping with a 'sources' list")
    sources: list[Source] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    for number, entry in enumerate(entries, start=1):
        label = _label(entry)
        try:
            if not isinstance(entry, dict):
                raise SourcesFileError("an entry is a mapping of fields")
            source = Source.model_validate(entry)
        except ValidationError as exc:
            errors += [f"{path}: entry {number} ({label}): {_field_error(e)}" for e in exc.errors()]
            continue
        except (SourcesFileError, ValueError) as exc:
            errors.append(f"{path}: entry {number} ({label}): {exc}")
            continue
        if source.key in seen:
            errors.append(
                f"{path}: entry {number} ({source.key}): duplicate of entry {seen[source.key]}"
                " (one entry per dataset and province)"
            )
            continue
        seen[source.key] = number
        sources.append(source)
    return SourcesFile(path, tuple(sources), tuple(errors))


def _label(entry: Any) -> str:
    if not isinstance(entry, dict):
        return "?"
    dataset, province = entry.get("dataset", "?"), entry.get("province")
    if isinstance(province, int) and not isinstance(province, bool):
        province = f"{province:02d}"
    return f"{dataset}_{province}" if province is not None else str(dataset)


def _field_error(error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "not a field of a source entry"
    # Errors raised after the fields are read name their field in the message itself.
    return f"{location}: {message}" if location else message
