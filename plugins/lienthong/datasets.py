"""The datasets lienthong knows, and what kind of source each reads.

This is the light catalogue that the sources file is checked against when Airflow parses the
DAGs; each dataset's full definition (contract, rules, publishing) is imported only when a
task runs it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from lienthong.pipeline.dataset import Dataset


@dataclass(frozen=True)
class DatasetKind:
    """What a sources-file entry of this dataset must say, and where its definition lives.

    Attributes:
        name: the dataset's name, as written in the sources file.
        scope: ``national`` (one source for the country, no province) or ``provincial``.
        reads: ``api`` and ``database`` sources need a ``conn_id``; ``files`` sources a ``path``.
        schedule: the schedule when an entry gives none.
        definition: ``module:attribute`` of the `Dataset`.
        description: one line for the DAG's documentation.
        core_tables: the core tables its batches publish into (the DAGs' assets).
    """

    name: str
    scope: Literal["national", "provincial"]
    reads: Literal["api", "database", "files"]
    schedule: str
    definition: str
    description: str
    core_tables: tuple[str, ...]


CATALOGUE: dict[str, DatasetKind] = {
    kind.name: kind
    for kind in (
        DatasetKind(
            "population",
            "national",
            "api",
            "@hourly",
            "lienthong.population.dataset:POPULATION",
            "citizens from the Ministry of Public Security's national population API",
            ("core.population",),
        ),
        DatasetKind(
            "civil_events",
            "provincial",
            "database",
            "*/15 * * * *",
            "lienthong.civil_events.dataset:CIVIL_EVENTS",
            "births and deaths from a province's civil-status registry database",
            ("core.civil_events",),
        ),
        DatasetKind(
            "dossiers",
            "provincial",
            "files",
            "*/30 * * * *",
            "lienthong.dossiers.dataset:DOSSIERS",
            "online public-service dossiers, the daily CSV exports a province drops (with their "
            "manifests) into its landing folder",
            ("core.dossiers",),
        ),
        DatasetKind(
            "p06_tasks",
            "provincial",
            "files",
            "@hourly",
            "lienthong.p06_tasks.dataset:P06_TASKS",
            "Project 06 task progress, the monthly XLSX workbooks a province drops into its "
            "landing folder",
            ("core.p06_tasks",),
        ),
    )
}


def dataset(name: str) -> Dataset:
    """The full definition of a dataset (imported on first use)."""
    module, _, attribute = CATALOGUE[name].definition.partition(":")
    return getattr(importlib.import_module(module), attribute)
