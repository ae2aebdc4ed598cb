"""The population dataset, as the operators' review sees it."""

from __future__ import annotations

from lienthong.population.contract import Preparer
from lienthong.population.dataset import POPULATION
from lienthong.review.datasets import ReviewedDataset

POPULATION_REVIEW = ReviewedDataset(
    dataset=POPULATION,
    dag_id="population",
    preparer=Preparer,
    province_column="perm_province_code",
    personal_fields=frozenset({"personal_id", "full_name"}),
)
