"""The datasets the benchmark runs, and what each brings: one entry a dataset.

Adding a dataset (dossiers, once it is on main) is one `BenchDataset` in `DATASETS` and a
module like `bench.population` that writes its records and their changed versions, flattens a
record for raw COPY and gives the pandas peer its suite. Every dataset here is read from an API
served by `bench.server` (``api_path``, pages of ``items`` with ``next_cursor``); a file-source
dataset would need its records offered as landing files instead, and its peers to read those:
that is the seam to widen when one arrives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import population


@dataclass(frozen=True)
class BenchDataset:
    """One dataset as the benchmark runs it.

    Attributes:
        name: the dataset's name in `lienthong.datasets.CATALOGUE`.
        sizes: the record counts of a default run.
        api_path: the endpoint our sync and the peers page through.
        write_items: (path, rows, now) → writes the records as JSON lines, in API order.
        write_changes: (items, changes, fraction, stamp) → writes new versions of that
            fraction of the records, stamped ``stamp``, for the incremental sync.
        flat_columns: the raw COPY table's columns (text).
        flat_rows: records file → its rows for raw COPY.
        derive_columns: DataFrame → DataFrame with the columns the peers' suite needs.
        peer_expectations: today → the GX expectations the pandas peer runs.
    """

    name: str
    sizes: tuple[int, ...]
    api_path: str
    write_items: Callable[[Path, int, datetime], int]
    write_changes: Callable[[Path, Path, float, datetime], int]
    flat_columns: tuple[str, ...]
    flat_rows: Callable[[Path], Iterator[tuple[str | None, ...]]]
    derive_columns: Callable[[Any], Any]
    peer_expectations: Callable[[datetime], list[Any]]


DATASETS: dict[str, BenchDataset] = {
    "population": BenchDataset(
        name="population",
        sizes=(100_000, 1_000_000),
        api_path="/v1/citizens",
        write_items=population.write_items,
        write_changes=population.write_changes,
        flat_columns=population.FLAT_COLUMNS,
        flat_rows=population.flat_rows,
        derive_columns=population.derive_columns,
        peer_expectations=population.peer_expectations,
    ),
    # "dossiers": BenchDataset(name="dossiers", sizes=(100_000,), ...) once the dataset is
    # on main (see the module docstring for what a file source needs here).
}
