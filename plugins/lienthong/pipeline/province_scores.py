"""A national dataset's pass rates per province: of each province's rows of a batch, per
dimension, how many were checked (collapsed copies are not) and how many fail a quarantine rule
of that dimension.

The review reads them from the staged rows (its province trend); the staging retention keeps
them in ``audit.province_scores`` before it deletes a batch's staged rows, so that the review
reads an expired batch from there. One query serves both, so they cannot disagree.
"""

from __future__ import annotations

from psycopg import sql

from lienthong.pipeline.dataset import Dataset
from lienthong.pipeline.staging import qualified

#: The staged rows' scores, of the rows (aliased ``s``) that ``{where}`` keeps; its parameter
#: ``dimensions`` is the list of dimensions.
_STAGED = """
SELECT s.batch_no, s.{column} AS province_code, dim.dimension,
       count(*) FILTER (WHERE s.collapsed IS NULL) AS rows_checked,
       count(*) FILTER (WHERE s.collapsed IS NULL AND EXISTS (
           SELECT 1 FROM audit.findings f
           WHERE f.batch_no = s.batch_no AND f.row_no = s.row_no
             AND f.dimension = dim.dimension AND f.action = 'quarantine')) AS rows_failed
FROM {staging} s
CROSS JOIN unnest(%(dimensions)s::text[]) AS dim(dimension)
WHERE s.{column} IS NOT NULL AND {where}
GROUP BY s.batch_no, s.{column}, dim.dimension"""


def staged(dataset: Dataset, where: sql.Composable) -> sql.Composed:
    """A query of (batch_no, province_code, dimension, rows_checked, rows_failed) from the
    dataset's staged rows that ``where`` (a condition on staging, aliased ``s``) keeps, one row
    per batch, province and dimension; parameter ``dimensions``, the dimensions' names. A
    province whose rows all collapsed has ``rows_checked`` 0. The dataset must have a
    ``province_column``."""
    if not dataset.province_column:
        raise ValueError(f"{dataset.name} has no province column: its batches are provincial")
    return sql.SQL(_STAGED).format(
        staging=qualified(dataset.staging_table),
        column=sql.Identifier(dataset.province_column),
        where=where,
    )
