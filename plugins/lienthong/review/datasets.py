"""The datasets an operator reviews, and the few facts about each that the review needs.

The review knows no dataset by itself: a dataset takes part by declaring a
``ReviewedDataset`` (its pipeline ``Dataset``, its DAG, how an item becomes a
staging row, which column places a row in a province, which fields are personal)
and being listed in ``REGISTERED``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from lienthong.pipeline.dataset import Dataset
from lienthong.pipeline.staging import FixLike


class Preparer(Protocol):
    """A dataset's contract: one raw item → (staging row in ``staging_columns`` order, fixes)."""

    def prepare(self, row_no: int, item: dict[str, Any]) -> tuple[tuple, Sequence[FixLike]]: ...


@dataclass(frozen=True)
class ReviewedDataset:
    """What the review needs to know about one dataset."""

    #: the pipeline's dataset: staging table, key, suites, publishing SQL
    dataset: Dataset
    #: the DAG that loads it: its Required Actions, and whose permissions decide who may act
    dag_id: str
    #: makes the contract's preparer, used again on released (and corrected) items
    preparer: Callable[[], Preparer]
    #: the staging column that places a row in a province (filters and trends), if any
    province_column: str | None
    #: payload fields and staging columns holding personal IDs and names: masked for those
    #: who may view but not act
    personal_fields: frozenset[str]

    @property
    def name(self) -> str:
        return self.dataset.name


#: ``module:attribute`` of every dataset under review; a new dataset adds its line.
REGISTERED = ("lienthong.population.review:POPULATION_REVIEW",)


class UnknownDataset(KeyError):
    """A dataset name no ``ReviewedDataset`` declares."""


@cache
def reviewed() -> dict[str, ReviewedDataset]:
    """Every dataset under review, by name."""
    found = {}
    for entry in REGISTERED:
        module, _, attribute = entry.partition(":")
        declared: ReviewedDataset = getattr(importlib.import_module(module), attribute)
        found[declared.name] = declared
    return found


def get(name: str) -> ReviewedDataset:
    """The review's facts about one dataset; ``UnknownDataset`` when none are declared."""
    try:
        return reviewed()[name]
    except KeyError:
        raise UnknownDataset(f"no dataset {name!r} is under review (see REGISTERED)") from None
