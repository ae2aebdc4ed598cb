"""Our sync, as one measured process: ``python -m bench.ours sync|stability ...``.

``sync`` runs one batch through `lienthong.pipeline.sync` exactly as the DAG's tasks call it
(extract → validate → publish, every rule), full or incremental, and reports its seconds, the
step timings the mechanism recorded in ``audit.batches``, and the batch's counts.

``stability`` stages one batch and validates it three times: at once, again, and after a
``VACUUM ANALYZE`` of the warehouse (what autovacuum would have done), then stages the same
records again as a second batch beside the first and validates that (what a staging table's
earlier batches cost), noting each time whether the staging table had statistics; optionally
the extraction runs under cProfile and the report carries its top functions.

The warehouse is ``LIENTHONG_WAREHOUSE_URL``; the source's Airflow connection comes from its
``AIRFLOW_CONN_`` variable. Both are set by the harness (`bench.run`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import sys
import time
import warnings
from typing import Any

import psycopg

from bench.measure import BESIDE_LABEL, SETTLE, cpu_spent, cpu_times, report_line


def _source(spec: str):
    from lienthong.sources import Source

    return Source(**json.loads(spec))


def _batch(url: str, batch_no: int) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT status, received, published, quarantined, collapsed, fixed, timings
               FROM audit.batches WHERE batch_no = %s""",
            (batch_no,),
        ).fetchone()
    keys = ("status", "received", "published", "quarantined", "collapsed", "fixed", "timings")
    return dict(zip(keys, row, strict=True))


def run_sync(spec: str, batch_key: str, full: bool) -> str:
    """One whole sync; the report line."""
    from lienthong.pipeline import batches, sync
    from lienthong.warehouse.connection import warehouse_url

    source = _source(spec)
    timings: dict[str, float] = {}
    cpu: dict[str, dict] = {}

    def step(name: str, run) -> Any:
        # Each step's seconds, and where its CPU went; the wait for that reading is no step's.
        before = cpu_times()
        started = time.perf_counter()
        try:
            return run()
        finally:
            timings[name] = time.perf_counter() - started
            cpu[name] = cpu_spent(before, cpu_times(settle=SETTLE))

    batch_no = step("extract", lambda: sync.extract(source, batch_key, full=full))
    if batch_no is None:
        return report_line(0, timings["extract"], timings)
    held = False
    try:
        step("validate", lambda: sync.validate(source, batch_no))
    except batches.BatchHeld:
        held = True
    if not held:
        step("publish", lambda: sync.publish(source, batch_no))
    batch = _batch(warehouse_url(), batch_no)
    return report_line(
        batch["received"],
        sum(timings.values()),
        timings,
        batch_no=batch_no,
        cpu=cpu,
        cores=os.cpu_count() or 1,
        **batch,
    )


def _statistics(conn: psycopg.Connection, table: str) -> str:
    """Whether ``schema.table`` has planner statistics, and from what."""
    schema, _, name = table.partition(".")
    row = conn.execute(
        """SELECT last_analyze, last_autoanalyze, n_mod_since_analyze
           FROM pg_stat_user_tables WHERE schemaname = %s AND relname = %s""",
        (schema, name),
    ).fetchone()
    if row is None or (row[0] is None and row[1] is None):
        return "no statistics"
    source = (
        "ANALYZE" if row[0] is not None and (row[1] is None or row[0] >= row[1]) else "autovacuum"
    )
    return f"statistics from {source}, {row[2]:,} rows changed since"


def run_stability(spec: str, batch_key: str, profile_top: int) -> str:
    """Stage a batch, validate it three times, then a second batch beside it; the report
    line."""
    from lienthong.datasets import dataset
    from lienthong.pipeline import batches, sync
    from lienthong.warehouse.connection import warehouse_url

    source = _source(spec)
    table = dataset(source.dataset).staging_table
    url = warehouse_url()
    profiler = cProfile.Profile() if profile_top else None
    if profiler:
        # cProfile sees this process alone: the items are prepared here, so that it sees them.
        os.environ["LIENTHONG_PREPARE_WORKERS"] = "1"
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    batch_no = sync.extract(source, batch_key, full=True)
    if profiler:
        profiler.disable()
    extract_s = time.perf_counter() - started
    validations = []
    for label in ("validate", "validate again", "after VACUUM ANALYZE"):
        with psycopg.connect(url, autocommit=True) as conn:
            if label == "after VACUUM ANALYZE":
                conn.execute("VACUUM ANALYZE")
            statistics = _statistics(conn, table)
        began = time.perf_counter()
        # A held batch was validated all the same: its time counts.
        with contextlib.suppress(batches.BatchHeld):
            sync.validate(source, batch_no)
        validations.append(
            {"label": label, "seconds": time.perf_counter() - began, "statistics": statistics}
        )
    # The same records staged again as the next batch, beside the first (as a warehouse's
    # staging holds its earlier batches): what they cost its validation.
    sync.fail_run(batch_key, "the stability run's first batch, set aside")
    again = sync.extract(source, f"{batch_key}:again", full=True)
    with psycopg.connect(url, autocommit=True) as conn:
        statistics = _statistics(conn, table)
    began = time.perf_counter()
    with contextlib.suppress(batches.BatchHeld):
        sync.validate(source, again)
    validations.append(
        {
            "label": BESIDE_LABEL,
            "seconds": time.perf_counter() - began,
            "statistics": statistics,
        }
    )
    batch = _batch(url, batch_no)
    return report_line(
        batch["received"],
        extract_s,
        {"extract": extract_s} | {v["label"]: v["seconds"] for v in validations},
        batch_no=batch_no,
        validations=validations,
        profiled=profiler is not None,
        profile=_top(profiler, profile_top) if profiler else None,
    )


def _top(profiler: cProfile.Profile, count: int) -> str:
    """The top ``count`` functions by own time and by cumulative time."""
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    stats.sort_stats("tottime").print_stats(count)
    stats.sort_stats("cumulative").print_stats(count)
    # pstats opens with blank lines and a title per listing; keep the tables.
    return "\n".join(line.rstrip() for line in text.getvalue().splitlines() if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("sync", "stability"))
    parser.add_argument("--source", required=True, help="the Source's fields as JSON")
    parser.add_argument("--batch-key", required=True)
    parser.add_argument("--full", action="store_true", help="sync: a full walk")
    parser.add_argument("--profile-top", type=int, default=0, help="stability: profile extract")
    args = parser.parse_args()
    # Imports are not the sync's work: every measured process makes them before its clock
    # starts (GX here, pandas and GX in the pandas peer, dlt in dlt's). Airflow also sets up
    # logging when first imported: import it first, then set ours.
    import great_expectations  # noqa: F401

    import lienthong.ministry.hook
    import lienthong.pipeline.sync
    import lienthong.registry.hook  # noqa: F401

    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="  %(name)s: %(message)s", force=True
    )
    # Our progress lines (rows so far, rows/s, time left) and each step's last line.
    logging.getLogger("lienthong").setLevel(logging.INFO)
    # GX sets its own loggers up when imported (later): keep its chatter out at the handler.
    for handler in logging.getLogger().handlers:
        handler.addFilter(
            lambda record: (
                record.levelno >= logging.ERROR or not record.name.startswith("great_expectations")
            )
        )
    # We use GX's generic SQL datasource on purpose (see pyproject's pytest filters).
    warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
    if args.mode == "sync":
        line = run_sync(args.source, args.batch_key, args.full)
    else:
        line = run_stability(args.source, args.batch_key, args.profile_top)
    print(line, flush=True)


if __name__ == "__main__":
    main()
