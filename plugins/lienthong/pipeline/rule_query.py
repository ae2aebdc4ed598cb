"""The expectation of a SQL rule: its query, run on the batch, selects no rows.

GX's own `UnexpectedRowsExpectation` runs a rule's query twice: once to count its rows and once
more to fetch up to 200 of them, which BASIC results then leave out; validation then ran it a
third time to record every failing row. A rule's query usually reads the whole batch (a failing
row is rare, so nothing stops it early): at a million rows each run takes seconds. This
expectation runs it once: GX's metric stores the rows the query selects in a table of the
batch's own (``rows_table``, an unlogged table in ``staging``, named by
`lienthong.pipeline.validation.rows_table`) and counts them as it stores them; the expectation
succeeds when there are none, and validation records its findings from that table, then drops
it. Without a ``rows_table`` the rows are counted and not kept, as GX does.

Suites name it ``unexpected_row_count_expectation``; a suite that keeps GX's
``unexpected_rows_expectation`` is validated the same way, only slower.

GX runs one metric at a time. While it does, `stored_ahead` has the rules' queries store their
rows in sessions of their own, two at a time, and the metric of a rule stored ahead only takes
its count: the server works on every core while the task would have waited for one query
after another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, ClassVar

from great_expectations.compatibility import pydantic
from great_expectations.compatibility.sqlalchemy import sqlalchemy as sa
from great_expectations.core.metric_domain_types import MetricDomainTypes
from great_expectations.core.result_format import ResultFormat
from great_expectations.execution_engine import SqlAlchemyExecutionEngine
from great_expectations.expectations.core.unexpected_rows_expectation import (
    UnexpectedRowsExpectation,
)
from great_expectations.expectations.metrics.metric_provider import metric_value
from great_expectations.expectations.metrics.query_metrics.query_row_count.unexpected_rows_query_row_count import (
    UnexpectedRowsQueryRowCount,
)

#: The metric: the query's rows, stored in ``rows_table`` when one is given, counted.
METRIC = "unexpected_rows_query.stored_row_count"

# A rows table is one of ours (`lienthong.pipeline.validation.rows_table`): the metric drops
# it, so nothing else may be named here.
_ROWS_TABLE = re.compile(r"^staging\.rule_rows_b[0-9]+_[a-z0-9_]+$")


#: A rows table stored ahead, by its name: the count of rows its query stored.
_AHEAD: dict[str, Future[int]] = {}

#: Sessions storing rows ahead at once: two kept both cores of the server busy (the SQL rules
#: of a million population rows, 5.4 s one after another, 4.3 s two at a time; three, no better).
AHEAD_SESSIONS = 2


@contextmanager
def stored_ahead(sqlalchemy_url: str, rules: Mapping[str, str]) -> Iterator[None]:
    """While in the block, each ``rows_table: query`` of ``rules`` (the query on the batch
    itself, ``{batch}`` replaced) is stored in its table by sessions of their own, for the
    metric to count. An error is the metric's, raised where it would have run the query. On
    leaving, what has not started is cancelled and what has is waited for."""
    for table in rules:
        if not _ROWS_TABLE.match(table):
            raise ValueError(f"rows_table {table!r} is not a rule's rows table in staging")
    engine = sa.create_engine(sqlalchemy_url, pool_size=AHEAD_SESSIONS)
    pool = ThreadPoolExecutor(AHEAD_SESSIONS, thread_name_prefix="rule-rows")
    try:
        for table, query in rules.items():
            _AHEAD[table] = pool.submit(_store, engine, table, query)
        yield
    finally:
        for table in rules:
            _AHEAD.pop(table, None)
        pool.shutdown(wait=True, cancel_futures=True)
        engine.dispose()


def _store(engine: Any, table: str, query: str) -> int:
    """Store the rows ``query`` selects in ``table`` (committed); their count."""
    with engine.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        stored = connection.execute(
            sa.text(f"CREATE UNLOGGED TABLE {table} AS SELECT * FROM ({query}) AS q")
        )
        return int(stored.rowcount)


class UnexpectedRowsQueryStoredRowCount(UnexpectedRowsQueryRowCount):
    """The rows a SQL rule's query selects from the batch, stored in ``rows_table`` (committed,
    so that validation's own connection reads them) and counted in the same statement."""

    metric_name = METRIC
    value_keys = ("unexpected_rows_query", "rows_table")

    @metric_value(engine=SqlAlchemyExecutionEngine)
    def _sqlalchemy(
        cls,
        execution_engine: SqlAlchemyExecutionEngine,
        metric_domain_kwargs: dict,
        metric_value_kwargs: dict,
        metrics: dict[str, Any],
        runtime_configuration: dict,
    ) -> int:
        table = metric_value_kwargs.get("rows_table")
        batch_selectable, _, _ = execution_engine.get_compute_domain(
            metric_domain_kwargs, domain_type=MetricDomainTypes.TABLE
        )
        query = cls._get_substituted_batch_subquery_from_query_and_batch_selectable(
            query=cls._get_query_from_metric_value_kwargs(metric_value_kwargs),
            batch_selectable=batch_selectable,
            execution_engine=execution_engine,
        )
        if not table:
            row = execution_engine.execute_query(
                sa.text(f"SELECT count(*) FROM ({query}) AS q")
            ).fetchone()
            return int(row[0])
        if not _ROWS_TABLE.match(table):
            raise ValueError(f"rows_table {table!r} is not a rule's rows table in staging")
        ahead = _AHEAD.pop(table, None)
        if ahead is not None:
            return ahead.result()
        return _store(execution_engine.engine, table, str(query))


class UnexpectedRowCountExpectation(UnexpectedRowsExpectation):
    """Expect the SQL rule's ``unexpected_rows_query`` to select no rows of the batch; the
    result's ``observed_value`` is how many it selects, kept in ``rows_table`` when given."""

    rows_table: str | None = pydantic.Field(
        None, description="A table (schema.name) to keep the selected rows in, for the findings."
    )

    metric_dependencies: ClassVar[tuple[str, ...]] = (METRIC,)
    success_keys: ClassVar[tuple[str, ...]] = ("unexpected_rows_query", "rows_table")

    def _validate(
        self,
        metrics: dict,
        runtime_configuration: dict | None = None,
        execution_engine: Any = None,
    ) -> dict:
        count = metrics[METRIC]
        result_format = self._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format", ResultFormat.SUMMARY)
        if result_format == ResultFormat.BOOLEAN_ONLY:
            return {"success": count == 0}
        return {"success": count == 0, "result": {"observed_value": count}}
