"""The datasets an operator reviews: every dataset of the catalogue (`lienthong.datasets`),
with the few facts the review needs from each (`pipeline.dataset.Dataset` carries them: which
fields are personal, which column places a row in a province, how a payload is prepared
again). Nothing here is specific to one dataset.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from lienthong.datasets import CATALOGUE, dataset
from lienthong.pipeline.dataset import Dataset, Preparer


@dataclass(frozen=True)
class ReviewedDataset:
    """What the review needs to know about one dataset."""

    #: the pipeline's dataset: staging table, key, suites, publishing SQL, review facts
    dataset: Dataset
    #: the DAG of a batch that names no source (every batch since sources names its own)
    dag_id: str

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def province_column(self) -> str | None:
        return self.dataset.province_column

    @property
    def personal_fields(self) -> frozenset[str]:
        return self.dataset.personal_fields

    def preparer(self) -> Preparer:
        """The contract's preparer, used again on released (and corrected) items."""
        return self.dataset.preparer(None)

    def release_item(self, payload: dict[str, Any], staged: dict[str, Any]) -> Any:
        """The item the preparer takes for a released row."""
        if self.dataset.release_item is None:
            return payload
        return self.dataset.release_item(payload, staged)


class UnknownDataset(KeyError):
    """A dataset name the catalogue does not know."""


@cache
def reviewed() -> dict[str, ReviewedDataset]:
    """Every dataset under review, by name."""
    return {name: ReviewedDataset(dataset(name), name) for name in CATALOGUE}


def get(name: str) -> ReviewedDataset:
    """The review's facts about one dataset; ``UnknownDataset`` when the catalogue has none."""
    try:
        return reviewed()[name]
    except KeyError:
        raise UnknownDataset(f"no dataset {name!r} in the catalogue") from None
