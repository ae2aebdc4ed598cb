"""The datasets the benchmark runs, and what each brings: one entry a dataset.

A dataset is read one of two ways, as its source is:

- **API-served** (population): its records are written as JSON lines (``write_records`` into
  an items file), `bench.server` serves them at ``api_path`` (pages of ``items`` with
  ``next_cursor``), and our sync and the peers page through that server. It has changed
  versions (``write_changes``) for an incremental sync.
- **file-landed** (dossiers): its records are written as a province's file drop under a
  landing root (``write_records`` into a folder: the export and its manifest in
  ``landing_folder(root)``); our sync takes the file from a copy of that folder, as the DAG
  does, and the peers read the same file (``export_file(root)``). A file is its own batch:
  there is no incremental sync. Its rules may need citizens in ``core.population``
  (``applicants(root)``: population items the harness publishes first, not timed).
- **registry-read** (civil_events): its records are written into a table of a PostgreSQL
  database of their own on the benchmark's server (``write_records`` given the database's
  URL); our sync reads it through an Airflow connection, as the DAG does, and raw COPY loads
  the same rows. New versions of some rows (``write_changes`` given the URL) make an
  incremental sync. No other peer reads a registry.

Adding a dataset is one `BenchDataset` in `DATASETS` and a module like `bench.population`,
`bench.dossiers` or `bench.civil_events`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import civil_events, dossiers, population


@dataclass(frozen=True)
class BenchDataset:
    """One dataset as the benchmark runs it.

    Attributes:
        name: the dataset's name in `lienthong.datasets.CATALOGUE`.
        sizes: the record counts of a default run.
        write_records: (where, rows, now) → writes the records (into an items file for an API
            dataset, under a landing root for a file dataset, into the database at a URL for
            a registry); returns the count.
        flat_columns: the raw COPY table's columns (text).
        flat_rows: where the records are (as above) → their rows for raw COPY.
        derive_columns: DataFrame → DataFrame with the columns the peers' suite needs (None:
            the pandas peer does not run for the dataset).
        peer_expectations: (today, the file the peer read or None) → the GX expectations the
            pandas peer runs.
        api_path: the endpoint our sync and the peers page through (API datasets).
        write_changes: new versions of a fraction of the records, for the incremental sync:
            (items, changes, fraction, stamp) → writes them, stamped ``stamp`` (API datasets);
            (URL, fraction) → writes them, stamped now (registry datasets); returns the count.
        registry: whether the records are a registry's table (read as the DAG reads one).
        commit_lag_seconds: how far behind the registry's clock our read ends.
        province: the province whose landing folder the file lands in (file datasets), or
            whose registry is read.
        landing_folder: landing root → the province's landing folder (the Source's path).
        export_file: landing root → the data file the peers read.
        read_frame: the data file → the pandas peer's DataFrame.
        applicants: landing root → population items that must be in ``core.population``
            before our sync, or None.
    """

    name: str
    sizes: tuple[int, ...]
    write_records: Callable[[Any, int, datetime], int]
    flat_columns: tuple[str, ...]
    flat_rows: Callable[[Any], Iterator[tuple[str | None, ...]]]
    derive_columns: Callable[[Any], Any] | None = None
    peer_expectations: Callable[[datetime, Path | None], list[Any]] | None = None
    api_path: str | None = None
    write_changes: Callable[..., int] | None = None
    registry: bool = False
    commit_lag_seconds: int | None = None
    province: str | None = None
    landing_folder: Callable[[Path], Path] | None = None
    export_file: Callable[[Path], Path] | None = None
    read_frame: Callable[[Path], Any] | None = None
    applicants: Callable[[Path], Path] | None = None

    @property
    def file_landed(self) -> bool:
        """Whether its records are a landed file rather than an API's pages or a registry."""
        return self.api_path is None and not self.registry

    @property
    def incremental(self) -> bool:
        """Whether an incremental sync is measured (datasets with changed versions)."""
        return self.write_changes is not None

    def records_at(self, where: str) -> Any:
        """Where the records are, as its functions take it: a path, or a registry's URL."""
        return where if self.registry else Path(where)


DATASETS: dict[str, BenchDataset] = {
    "population": BenchDataset(
        name="population",
        sizes=(100_000, 1_000_000),
        write_records=population.write_items,
        flat_columns=population.FLAT_COLUMNS,
        flat_rows=population.flat_rows,
        derive_columns=population.derive_columns,
        peer_expectations=population.peer_expectations,
        api_path="/v1/citizens",
        write_changes=population.write_changes,
    ),
    "dossiers": BenchDataset(
        name="dossiers",
        sizes=(100_000,),
        write_records=dossiers.write_export,
        flat_columns=dossiers.FLAT_COLUMNS,
        flat_rows=dossiers.flat_rows,
        derive_columns=dossiers.derive_columns,
        peer_expectations=dossiers.peer_expectations,
        province=dossiers.PROVINCE,
        landing_folder=dossiers.landing_folder,
        export_file=dossiers.export_csv,
        read_frame=dossiers.read_frame,
        applicants=dossiers.applicants_file,
    ),
    "civil_events": BenchDataset(
        name="civil_events",
        sizes=(100_000,),
        write_records=civil_events.write_registry,
        flat_columns=civil_events.FLAT_COLUMNS,
        flat_rows=civil_events.flat_rows,
        write_changes=civil_events.write_changes,
        registry=True,
        commit_lag_seconds=civil_events.COMMIT_LAG_SECONDS,
        province=civil_events.PROVINCE,
    ),
}
