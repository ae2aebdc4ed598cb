"""Audit: run a dataset's Great Expectations suites on a staged batch, in the warehouse.

Two suites per dataset: ``batch.json`` runs on every row received (batch-level
rules, which hold the batch) and ``rows.json`` on the rows left after collapsing
duplicates (row-level rules, which quarantine or flag). Each expectation names
its rule in ``meta`` (rule_id, dimension, level, action). GX reports how many
rows fail; the rows themselves come back by key with set-based SQL: GX's own
``unexpected_index_query`` for built-in column expectations, and the
expectation's ``unexpected_rows_query`` for SQL rules. Findings, rule results
and pass rates per dimension go to the audit schema; a failed batch-level hold rule,
or a dimension under its threshold, puts the batch on hold (a batch-level fix or flag
rule that finds something is recorded, and holds nothing).
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from lienthong.pipeline import batches, data_docs
from lienthong.pipeline.dataset import DIMENSIONS, Dataset
from lienthong.pipeline.staging import BATCH_SCAN_SETTINGS, qualified, scan_batches

log = logging.getLogger(__name__)

SUITES = {"batch": "received", "rows": "rows"}

#: Expectation types of SQL rules: their failing rows are the rows their
#: ``unexpected_rows_query`` selects. Ours (`lienthong.pipeline.rule_query`) runs the query once
#: in GX; GX's own runs it twice, and is validated the same way.
SQL_RULE_TYPES = frozenset({"unexpected_rows_expectation", "unexpected_row_count_expectation"})


def _with_session_settings(sqlalchemy_url: str) -> str:
    """The URL with `BATCH_SCAN_SETTINGS` added to the session options libpq sends: GX's
    sessions read whole batches too."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url)
    settings = " ".join(f"-c {name}={value}" for name, value in BATCH_SCAN_SETTINGS.items())
    options = " ".join(filter(None, (url.query.get("options"), settings)))
    return url.update_query_dict({"options": options}).render_as_string(hide_password=False)


class RuleError(RuntimeError):
    """An expectation could not run (bad SQL, missing column): a broken rule, not bad data."""


def _observed(result: dict, rows: list[dict] | None = None) -> str | None:
    """What an expectation saw, for the audit log and hold messages: the value, and for SQL
    rules the first unexpected rows (P-S3's missing fields, P-L1's newest timestamp)."""
    if "observed_value" not in result:
        return None
    observed = str(result["observed_value"])
    if rows:
        shown = "; ".join(
            ", ".join(f"{k}={v}" for k, v in row.items()) if isinstance(row, dict) else str(row)
            for row in rows[:10]
        )
        observed += f": {shown}" + ("; …" if len(rows) > 10 else "")
    return observed


def _exception_message(info: dict | None) -> str | None:
    """The error of an expectation that raised; GX nests it per metric for some expectations."""
    if not info:
        return None
    if info.get("raised_exception"):
        return info.get("exception_message") or "unknown error"
    for value in info.values():
        if isinstance(value, dict) and (
            value.get("raised_exception") or value.get("exception_message")
        ):
            return value.get("exception_message") or "unknown error"
    return None


@dataclass(frozen=True)
class Outcome:
    """What validation decided for a batch."""

    batch_no: int
    status: str  # "validated" or "held"
    hold_reasons: list[str]
    pass_rates: dict[str, float]
    failed_rules: dict[str, int]  # rule id → failing rows (or observed value for batch rules)


def load_suite(path: Path, mode: str, *, batch_no: int | None = None) -> tuple[str, list]:
    """A suite file as GX expectations, keeping only those that apply to this extraction mode.

    A SQL rule's query may live in its own file beside the suite
    (``"unexpected_rows_query": {"file": "sql/P-C3.sql"}``), written as plain SQL with
    ``{batch}`` for the batch's table and ``{batch_no}`` for its number: a batch-level rule
    that must judge a batch with no rows at all (an empty file) reads what it needs from the
    audit tables by that number. Given ``batch_no``, each SQL rule of our type keeps the rows
    its query selects in a table of its own (`rows_table`), so that its findings need no
    second run of the query."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from lienthong.pipeline import rule_query  # noqa: F401  (registers the SQL rules' type)

    spec = json.loads(path.read_text(encoding="utf-8"))
    expectations = []
    for number, item in enumerate(spec["expectations"]):
        meta = dict(item["meta"])
        for field in ("rule_id", "dimension", "level", "action"):
            if field not in meta:
                raise ValueError(f"{path}: expectation {number} has no meta.{field}")
        if mode not in meta.get("modes", [mode]):
            continue
        meta["expectation_no"] = number
        kwargs = {k: _sql_file(path, v, batch_no) for k, v in item["kwargs"].items()}
        if item["type"] == "unexpected_row_count_expectation" and batch_no is not None:
            # Ours, never the suite's: the metric drops and creates this table.
            kwargs["rows_table"] = rows_table(batch_no, path.stem, number)
        config = ExpectationConfiguration(
            type=item["type"], kwargs=kwargs, meta=meta, description=item["description"]
        )
        expectations.append(config.to_domain_obj())
    return spec["name"], expectations


def rows_table(batch_no: int, suite: str, expectation_no: int) -> str:
    """Where one SQL rule's failing rows of a batch are kept while the batch is validated
    (`lienthong.pipeline.rule_query`); dropped with the batch's views."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", suite):
        raise ValueError(f"suite {suite!r} cannot name a rule's rows table")
    return f"staging.rule_rows_b{int(batch_no)}_{suite}_{int(expectation_no)}"


def _drop_rows_tables(conn: psycopg.Connection, batch_no: int) -> None:
    tables = conn.execute(
        """SELECT tablename FROM pg_tables WHERE schemaname = 'staging'
           AND tablename LIKE %s""",
        (f"rule\\_rows\\_b{int(batch_no)}\\_%",),
    ).fetchall()
    if tables:
        names = sql.SQL(", ").join(sql.Identifier("staging", table) for (table,) in tables)
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(names))


def rule_queries(path: Path) -> dict[int, str]:
    """The SQL of a suite's SQL rules as a reader writes it (files read, braces single), by
    the expectation's position in the suite: what a person, or the review view, reads."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    queries = {}
    for number, item in enumerate(spec["expectations"]):
        query = item["kwargs"].get("unexpected_rows_query")
        if isinstance(query, dict) and set(query) == {"file"}:
            text = (path.parent / query["file"]).read_text(encoding="utf-8")
            query = "\n".join(
                line for line in text.splitlines() if not line.lstrip().startswith("--")
            )
        elif isinstance(query, str):
            query = query.replace("{{", "{").replace("}}", "}")
        if query is not None:
            queries[number] = query
    return queries


def _sql_file(suite: Path, value: Any, batch_no: int | None = None) -> Any:
    """A ``{"file": …}`` value as the query GX expects: GX formats the query with
    ``str.format(batch=…)``, so every other brace is doubled; ``{batch_no}`` is the batch's
    number (left as it is when none is given)."""
    if not (isinstance(value, dict) and set(value) == {"file"}):
        return value
    text = (suite.parent / value["file"]).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    query = "\n".join(lines).strip().rstrip(";")
    if batch_no is not None:
        query = query.replace("{batch_no}", str(int(batch_no)))
    return query.replace("{", "{{").replace("}", "}}").replace("{{batch}}", "{batch}")


def _view(dataset: Dataset, batch_no: int, kind: str) -> str:
    return f"{dataset.name}_b{batch_no}_{kind}"


def _create_views(conn: psycopg.Connection, dataset: Dataset, batch: dict[str, Any]) -> None:
    table, batch_no = qualified(dataset.staging_table), batch["batch_no"]
    # The batch's extraction time, province and what the extraction learned of its source
    # ride along, for the liveness, date, place and batch rules: as constants, of the types
    # audit.batches gives them. Joined from audit.batches, they left each rule's condition
    # to be tested above the parallel scan, row by row in one process (a million population
    # rows: P-C5 0.74 s, as constants 0.19 s, its dates computed once).
    for kind, condition in (("received", "TRUE"), ("rows", "s.collapsed IS NULL")):
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE VIEW staging.{} AS SELECT s.*,"
                " {}::timestamptz AS extracted_at, {}::character(2) AS batch_province,"
                " {}::jsonb AS source_facts FROM {} s WHERE s.batch_no = {} AND {}"
            ).format(
                sql.Identifier(_view(dataset, batch_no, kind)),
                sql.Literal(batch["extracted_at"]),
                sql.Literal(batch["province"]),
                sql.Literal(Jsonb(batch["source_facts"])),
                table,
                sql.Literal(batch_no),
                sql.SQL(condition),
            )
        )


def _drop_views(conn: psycopg.Connection, dataset: Dataset, batch_no: int) -> None:
    for kind in ("received", "rows"):
        conn.execute(
            sql.SQL("DROP VIEW IF EXISTS staging.{}").format(
                sql.Identifier(_view(dataset, batch_no, kind))
            )
        )


def run_suites(
    sqlalchemy_url: str, dataset: Dataset, batch: dict[str, Any]
) -> list[tuple[str, Any]]:
    """Run both suites with GX; return (view name, validation result) per suite."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from lienthong.pipeline import rule_query

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    url = _with_session_settings(sqlalchemy_url)
    source = context.data_sources.add_sql("warehouse", connection_string=url)
    parameters = {**dataset.suite_parameters(batch), "announced_total": batch["announced_total"]}
    suites = []
    for suite_file, kind in SUITES.items():
        view = _view(dataset, batch["batch_no"], kind)
        name, expectations = load_suite(
            dataset.suites_dir / f"{suite_file}.json", batch["mode"], batch_no=batch["batch_no"]
        )
        suites.append((view, name, expectations))
    # The SQL rules' rows, stored while GX runs the rest (`rule_query.stored_ahead`).
    ahead = {
        expectation.rows_table: expectation.unexpected_rows_query.format(batch=f"staging.{view}")
        for view, _, expectations in suites
        for expectation in expectations
        if isinstance(expectation, rule_query.UnexpectedRowCountExpectation)
        and expectation.rows_table
    }
    results = []
    with rule_query.stored_ahead(url, ahead):
        for view, name, expectations in suites:
            suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            asset = source.add_table_asset(view, table_name=view, schema_name="staging")
            definition = context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=f"{name}.{batch['batch_no']}",
                    data=asset.add_batch_definition_whole_table("batch"),
                    suite=suite,
                )
            )
            result = definition.run(
                expectation_parameters=parameters,
                # BASIC with the index query: the failing rows are selected later, in the
                # warehouse, by the SQL GX hands back; COMPLETE would fetch every unexpected
                # value.
                result_format={
                    "result_format": "BASIC",
                    "unexpected_index_column_names": ["row_no"],
                    "return_unexpected_index_query": True,
                    "partial_unexpected_count": 0,
                },
            )
            results.append((view, result))
    data_docs.build(context, dataset.name, batch["batch_no"])
    return results


def _failing_rows_sql(expectation_type: str, kwargs: dict, result: dict, view: str) -> str:
    """SQL selecting (row_no, offending value) of every failing row of one expectation."""
    if expectation_type in SQL_RULE_TYPES and kwargs.get("rows_table"):
        return f"SELECT q.row_no, NULL::text FROM {kwargs['rows_table']} q"
    if expectation_type in SQL_RULE_TYPES:
        # The same substitution GX makes ({{ and }} are literal braces).
        query = kwargs["unexpected_rows_query"].format(batch=f"staging.{view}")
        return f"SELECT q.row_no, NULL::text FROM ({query}) q"
    query = result.get("unexpected_index_query")
    if not isinstance(query, str):
        raise RuntimeError(f"GX gave no unexpected_index_query for {expectation_type}")
    column = sql.Identifier(kwargs["column"]).as_string()
    return f"SELECT q.row_no, q.{column}::text FROM ({query.rstrip().rstrip(';')}) q"


def _sample_rows(conn: psycopg.Connection, kwargs: dict, view: str) -> list[dict]:
    """The first failing rows of a SQL rule, for the record and the hold message (GX's BASIC
    results leave them out): from the rows its run kept, else from its query run again."""
    from psycopg.rows import dict_row

    if kwargs.get("rows_table"):
        with conn.cursor(row_factory=dict_row) as cur:
            return cur.execute(f"SELECT * FROM {kwargs['rows_table']} LIMIT 11").fetchall()
    query = kwargs["unexpected_rows_query"]

    text = query.format(batch=f"staging.{view}")
    # MATERIALIZED: planned for all its rows, not for the first 11. Failing rows are rare, so
    # a plan that hopes to stop early (nested loops) reads the whole batch the slow way.
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL("WITH q AS MATERIALIZED ({}) SELECT * FROM q LIMIT 11").format(sql.SQL(text))
        ).fetchall()


def record_results(
    conn: psycopg.Connection, batch_no: int, results: list[tuple[str, Any]]
) -> dict[str, int]:
    """Write rule results and findings for a batch (replacing an earlier run's); return failures by rule."""
    for table in ("audit.findings", "audit.rule_results", "audit.dimension_scores"):
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE batch_no = %s").format(qualified(table)),
            (batch_no,),
        )
    scan_batches(conn)
    failed: dict[str, int] = {}
    for view, suite_result in results:
        scanned = _select_failing_column_rows(conn, view, suite_result.results)
        for position, item in enumerate(suite_result.results):
            config = item.expectation_config
            meta, result = config.meta, item.result or {}
            error = _exception_message(item.exception_info)
            if error:
                raise RuleError(
                    f"{suite_result.suite_name}: rule {meta['rule_id']} ({config.type},"
                    f" expectation {meta['expectation_no']}) could not run: {error}"
                )
            # Column expectations count unexpected values; SQL rules report their row count.
            unexpected = result.get("unexpected_count", result.get("observed_value"))
            sample = None
            if not item.success and meta["level"] == "row":
                first = _record_findings(
                    conn, batch_no, config, meta, result, view, scanned.get(position)
                )
                if config.type in SQL_RULE_TYPES:
                    # A row rule's query selects row_no alone: its first rows are its findings'.
                    sample = [{"row_no": row_no} for row_no in first]
            elif not item.success and config.type in SQL_RULE_TYPES:
                sample = _sample_rows(conn, config.kwargs, view)
            conn.execute(
                """INSERT INTO audit.rule_results (batch_no, suite, expectation_no, rule_id,
                       dimension, level, action, expectation, description, success, element_count,
                       unexpected_count, observed_value)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    batch_no,
                    suite_result.suite_name,
                    meta["expectation_no"],
                    meta["rule_id"],
                    meta["dimension"],
                    meta["level"],
                    meta["action"],
                    config.type,
                    config.description,
                    bool(item.success),
                    result.get("element_count"),
                    unexpected if isinstance(unexpected, int) else None,
                    _observed(result, sample),
                ),
            )
            if not item.success:
                failed[meta["rule_id"]] = failed.get(meta["rule_id"], 0) + (
                    unexpected if isinstance(unexpected, int) else 1
                )
        if scanned:
            conn.execute("DROP TABLE failing_column_rows")
    return failed


# The query GX hands back for a column rule's failing rows (``unexpected_index_query``, with
# ``row_no`` as the index column): SQLAlchemy's rendering of select(row_no, column).where(...).
_INDEX_QUERY = re.compile(
    r"SELECT row_no, (?P<column>[^\s,]+) \nFROM (?P<source>\S+) \nWHERE (?P<condition>.+)", re.S
)


def _select_failing_column_rows(conn: psycopg.Connection, view: str, items: list) -> dict[int, str]:
    """The failing rows of a suite's failed column rules, selected in one scan of the batch.

    Each failed column rule's rows were selected by its own query, a scan of the whole batch
    each (a fifth of validation where a batch fails a dozen rules: 0.06 s each at 300k rows).
    Their conditions are read from GX's queries and evaluated in one pass over the rows that
    fail any of them, into ``failing_column_rows`` (``n``: the rule's position in the suite);
    returned: for each rule it holds, the SQL selecting (row_no, value) of its rows. A query
    not of the shape GX writes keeps its own scan (absent from the result)."""
    conditions: dict[int, tuple[str, str]] = {}
    for position, item in enumerate(items):
        config, result = item.expectation_config, item.result or {}
        if (
            item.success
            or _exception_message(item.exception_info)
            or config.meta.get("level") != "row"
            or config.type in SQL_RULE_TYPES
            or "column" not in config.kwargs
        ):
            continue
        query = result.get("unexpected_index_query")
        if not isinstance(query, str):
            continue
        match = _INDEX_QUERY.fullmatch(query.strip().removesuffix(";"))
        column = config.kwargs["column"]
        if (
            match is not None
            and match["source"] == f"staging.{view}"
            and match["column"] in (column, sql.Identifier(column).as_string(conn))
        ):
            conditions[position] = (column, match["condition"])
    if len(conditions) < 2:
        return {}
    any_failing = " OR ".join(f"({condition})" for _, condition in conditions.values())
    per_rule = "\nUNION ALL ".join(
        f"SELECT {position}, s.{sql.Identifier(column).as_string(conn)}::text WHERE ({condition})"
        for position, (column, condition) in conditions.items()
    )
    # A condition's bare column names are the row's (s), as they were the view's in GX's query.
    conn.execute(
        f"""CREATE TEMPORARY TABLE failing_column_rows ON COMMIT DROP AS
            SELECT x.n, s.row_no, x.value
            FROM (SELECT * FROM staging.{view} WHERE {any_failing}) AS s
            CROSS JOIN LATERAL ({per_rule}) AS x(n, value)"""
    )
    return {
        position: f"SELECT row_no, value FROM failing_column_rows WHERE n = {position}"
        for position in conditions
    }


def _record_findings(
    conn: psycopg.Connection,
    batch_no: int,
    config: Any,
    meta: dict,
    result: dict,
    view: str,
    select: str | None = None,
) -> list[int]:
    """Write one failed row rule's findings (a row failing two expectations of one rule gets
    both reasons); return the first 11 rows' numbers, for the record. ``select``: SQL of its
    (row_no, value) already selected (`_select_failing_column_rows`), else its own query."""
    select = select or _failing_rows_sql(config.type, config.kwargs, result, view)
    # The failing rows land in a table of their own first: PostgreSQL scans the batch on every
    # core for CREATE TABLE AS, never for INSERT ... SELECT. (No parameters here, so the
    # GX-built SQL goes as it is.)
    conn.execute(
        f"""CREATE TEMPORARY TABLE failing_rows ON COMMIT DROP AS
            SELECT * FROM ({select}) AS f(row_no, value)"""
    )
    conn.execute(
        """INSERT INTO audit.findings (batch_no, row_no, rule_id, dimension, action, reason)
            SELECT %(b)s, f.row_no, %(rule)s, %(dim)s, %(action)s,
                   %(desc)s || coalesce(' (got "' || f.value || '")', '')
            FROM failing_rows f
            ON CONFLICT (batch_no, row_no, rule_id)
            DO UPDATE SET reason = audit.findings.reason || '; ' || EXCLUDED.reason""",
        {
            "b": batch_no,
            "rule": meta["rule_id"],
            "dim": meta["dimension"],
            "action": meta["action"],
            "desc": config.description,
        },
    )
    first = conn.execute("SELECT row_no FROM failing_rows ORDER BY row_no LIMIT 11").fetchall()
    conn.execute("DROP TABLE failing_rows")
    return [row_no for (row_no,) in first]


def score_dimensions(
    conn: psycopg.Connection, dataset: Dataset, batch_no: int, thresholds: dict[str, float]
) -> dict[str, float]:
    """Pass rate per dimension: the share of checked rows failing no quarantine rule of it."""
    table = qualified(dataset.staging_table)
    checked = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE batch_no = %s AND collapsed IS NULL").format(table),
        (batch_no,),
    ).fetchone()[0]
    failed = dict(
        conn.execute(
            """SELECT dimension, count(DISTINCT row_no) FROM audit.findings
               WHERE batch_no = %s AND action = 'quarantine' GROUP BY dimension""",
            (batch_no,),
        ).fetchall()
    )
    rates = {}
    for dimension in DIMENSIONS:
        rows_failed = failed.get(dimension, 0)
        rate = 1.0 if checked == 0 else 1 - rows_failed / checked
        rates[dimension] = rate
        conn.execute(
            """INSERT INTO audit.dimension_scores (batch_no, dimension, rows_checked, rows_failed,
                   pass_rate, threshold) VALUES (%s, %s, %s, %s, %s, %s)""",
            (batch_no, dimension, checked, rows_failed, rate, thresholds[dimension]),
        )
    return rates


def prepare_staging(
    conn: psycopg.Connection,
    staging_table: str,
    *,
    batch_no: int | None = None,
    rows: int | None = None,
) -> None:
    """Statistics, hint bits and visibility for the rows just staged, before the suites read them.

    Without statistics the planner guesses, and validating the same batch took four times as
    long one run as the next. Without a VACUUM, the first suite to read freshly copied rows
    sets their hint bits (writing every page again) and no index-only scan is possible: the
    same batch validated 1.46x slower than after autovacuum had passed (docs/BENCHMARKS.md).
    The VACUUM reads only pages not yet all-visible (this batch's), leaves index cleanup and
    truncation to autovacuum (no index scans, no exclusive lock against a concurrent COPY),
    and waits for another source's VACUUM of the same table. VACUUM cannot run inside a
    transaction: a connection that is not in autocommit mode gets ANALYZE alone (where
    statistics need it).

    Staging analysed the table as it collapsed the batch's duplicates; given the batch
    (``batch_no``, ``rows`` received), statistics are made again only where the planner's
    estimate of its rows shows they do not know it (another source's batch, staged at the
    same time, may have replaced them with statistics that never saw this one). An ANALYZE
    samples the whole table: 0.6 s on 300k rows, half of an incremental sync of 3,000.
    """
    table = qualified(staging_table)
    analyse = batch_no is None or rows is None or not _statistics_know(conn, table, batch_no, rows)
    idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if conn.autocommit and idle:
        options = (
            "ANALYZE, INDEX_CLEANUP OFF, TRUNCATE OFF"
            if analyse
            else "INDEX_CLEANUP OFF, TRUNCATE OFF"
        )
        conn.execute(sql.SQL("VACUUM ({}) {}").format(sql.SQL(options), table))
    elif analyse:
        conn.execute(sql.SQL("ANALYZE {}").format(table))


#: How far the planner's estimate of a batch's rows may be from its count for statistics to
#: be taken as knowing the batch: half the count, and a thousand rows for a small batch (one
#: that the sample of an ANALYZE would hardly see better).
_ESTIMATE_SLACK = 1_000


def _statistics_know(
    conn: psycopg.Connection, table: sql.Composable, batch_no: int, rows: int
) -> bool:
    """Whether the planner's estimate of the batch's rows is near what was staged."""
    with conn.transaction():
        plan = conn.execute(
            sql.SQL("EXPLAIN (FORMAT JSON) SELECT 1 FROM {} WHERE batch_no = {}").format(
                table, sql.Literal(batch_no)
            )
        ).fetchone()[0]
    estimate = plan[0]["Plan"]["Plan Rows"]
    return abs(estimate - rows) <= max(rows / 2, _ESTIMATE_SLACK)


def validate(
    conn: psycopg.Connection,
    sqlalchemy_url: str,
    dataset: Dataset,
    batch_no: int,
    *,
    thresholds: dict[str, float] | None = None,
) -> Outcome:
    """Validate a staged batch; mark it validated or held. Rerunning gives the same outcome.

    ``thresholds`` (pass rate per dimension) default to the dataset's."""
    started = time.monotonic()
    thresholds = {**dataset.thresholds, **(thresholds or {})}
    batch = batches.get(conn, batch_no=batch_no)
    if batch["status"] == "failed" and "extract" in batch["timings"]:
        # A retry after a failed validation or publication: the staged rows are whole.
        batches.resume(conn, batch_no, "staged")
        batch = batches.get(conn, batch_no=batch_no)
    if batch["status"] == "published":
        # A rerun after publishing: the recorded outcome stands, nothing is validated again.
        return Outcome(batch_no, "published", [], _recorded_rates(conn, batch_no), {})
    if batch["status"] not in ("staged", "validated", "held"):
        raise batches.BatchError(
            f"{dataset.name} batch {batch_no} is {batch['status']}; only a staged batch can be validated"
        )
    with conn.transaction():
        _create_views(conn, dataset, batch)
    prepare_staging(conn, dataset.staging_table, batch_no=batch_no, rows=batch["received"])
    try:
        results = run_suites(sqlalchemy_url, dataset, batch)
        with conn.transaction():
            failed = record_results(conn, batch_no, results)
            rates = score_dimensions(conn, dataset, batch_no, thresholds)
            reasons = [
                f"{dataset.name}: rule {r['rule_id']} ({r['dimension']}) failed: {r['description']}"
                f" (observed {r['observed_value']})"
                for r in _failed_batch_rules(conn, batch_no)
            ]
            for dimension, rate in rates.items():
                if rate < thresholds[dimension]:
                    worst = _worst_rule(conn, batch_no, dimension)
                    reasons.append(
                        f"{dataset.name}: dimension {dimension} pass rate {rate:.2%} is below "
                        f"{thresholds[dimension]:.0%} (most failures: rule {worst})"
                    )
            status = "held" if reasons else "validated"
            batches.update(
                conn,
                batch_no,
                status=status,
                hold_reason="\n".join(reasons) or None,
                timing=("validate", time.monotonic() - started),
            )
    finally:
        with conn.transaction():
            _drop_views(conn, dataset, batch_no)
            _drop_rows_tables(conn, batch_no)
    log.info(
        "%s batch %s: validate: %s, %s rows in %.1f s; pass rates %s",
        dataset.name,
        batch_no,
        status,
        f"{batch['received'] or 0:,}",
        time.monotonic() - started,
        {dimension: round(rate, 4) for dimension, rate in rates.items()},
    )
    return Outcome(batch_no, status, reasons, rates, failed)


def _failed_batch_rules(conn: psycopg.Connection, batch_no: int) -> list[dict]:
    """The batch-level hold rules that failed. A batch-level ``fix`` or ``flag`` rule whose
    query finds something records what was repaired or marked (a file read in a legacy
    encoding, blank rows dropped) and holds nothing."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """SELECT rule_id, dimension, description, observed_value FROM audit.rule_results
               WHERE batch_no = %s AND level = 'batch' AND action = 'hold' AND NOT success
               ORDER BY expectation_no""",
            (batch_no,),
        ).fetchall()


def _worst_rule(conn: psycopg.Connection, batch_no: int, dimension: str) -> str:
    row = conn.execute(
        """SELECT rule_id FROM audit.findings WHERE batch_no = %s AND dimension = %s
           AND action = 'quarantine' GROUP BY rule_id ORDER BY count(*) DESC, rule_id LIMIT 1""",
        (batch_no, dimension),
    ).fetchone()
    return row[0] if row else "none"


def _recorded_rates(conn: psycopg.Connection, batch_no: int) -> dict[str, float]:
    return {
        dimension: float(rate)
        for dimension, rate in conn.execute(
            "SELECT dimension, pass_rate FROM audit.dimension_scores WHERE batch_no = %s",
            (batch_no,),
        )
    }
