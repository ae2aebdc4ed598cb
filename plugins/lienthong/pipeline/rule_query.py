"""The expectation of a SQL rule: its query, run on the batch, selects no rows.

GX's own `UnexpectedRowsExpectation` runs a rule's query twice: once to count its rows and once
more to fetch up to 200 of them, which BASIC results then leave out. A rule's query usually reads
the whole batch (a failing row is rare, so nothing stops it early): at a million rows each run
takes seconds. Validation gathers the failing rows itself, by key, in the warehouse
(`lienthong.pipeline.validation`), so this expectation asks GX for the count alone: one run of
the query in GX instead of two. Suites name it ``unexpected_row_count_expectation``; a suite
that keeps GX's ``unexpected_rows_expectation`` is validated the same way, only slower.
"""

from __future__ import annotations

from typing import Any, ClassVar

from great_expectations.core.result_format import ResultFormat
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)


class UnexpectedRowCountExpectation(UnexpectedRowsExpectation):
    """Expect the SQL rule's ``unexpected_rows_query`` to select no rows of the batch; the
    result's ``observed_value`` is how many it selects."""

    metric_dependencies: ClassVar[tuple[str, ...]] = ("unexpected_rows_query.row_count",)

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict:
        count = metrics["unexpected_rows_query.row_count"]
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": count == 0}
        return {"success": count == 0, "result": {"observed_value": count}}
