"""The pandas baseline: page the API, ``json_normalize`` (or ``read_csv`` a landed file),
``to_sql``, then validate the DataFrame with Great Expectations: the loader people write by
hand.

``python -m bench.peers.pandas_gx --dataset NAME --api-url URL --page-size N --table s.name``
with the bearer token in ``BENCH_API_TOKEN`` and the database in ``BENCH_PEER_DB``; for a
file dataset ``--csv FILE`` instead of ``--api-url`` and ``--page-size``.

Each part is timed: ``fetch`` (``requests`` pages, ``json()``) and ``normalize``
(``pd.json_normalize``), or for a file ``read_csv`` (the dataset's ``read_frame``); ``to_sql``
(pandas' default method through SQLAlchemy 2 and psycopg 3, whose batched ``executemany``
("insertmanyvalues") ran 15× faster here than ``method="multi"``: the baseline is pandas at
its best, not at its worst) and ``validate``
(the dataset's derived columns, then its GX suite on the DataFrame through an ephemeral
context, ``result_format="COMPLETE"`` so that, like our sync, it names the failing rows). It
neither quarantines nor upserts.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from bench.datasets import DATASETS, BenchDataset
from bench.measure import Measurement, python_module, report_line, run_child


def fetch(api_url: str, token: str, page_size: int) -> list[dict[str, Any]]:
    """Every item of a cursor walk of ``api_url``."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": page_size}
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        while True:
            response = session.get(api_url, params=params, timeout=300)
            response.raise_for_status()
            page = response.json()
            items.extend(page["items"])
            if not page["next_cursor"]:
                return items
            params["cursor"] = page["next_cursor"]


def validate(dataset: BenchDataset, frame: Any, records: Path | None = None) -> dict[str, int]:
    """Run the dataset's peer suite on ``frame`` (read from ``records`` for a file dataset);
    counts of expectations and failures."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("bench").add_dataframe_asset("records")
    definition = asset.add_batch_definition_whole_dataframe("all")
    suite = gx.ExpectationSuite(name="peer")
    for expectation in dataset.peer_expectations(datetime.now(UTC), records):
        suite.add_expectation(expectation)
    batch = definition.get_batch(batch_parameters={"dataframe": dataset.derive_columns(frame)})
    result = batch.validate(suite, result_format="COMPLETE")
    failed = [r for r in result.results if not r.success]
    return {
        "expectations": len(result.results),
        "expectations_failed": len(failed),
        "unexpected_values": sum(r.result.get("unexpected_count") or 0 for r in failed),
    }


def run(
    dataset: BenchDataset,
    api_url: str | None,
    page_size: int,
    table: str,
    csv_file: Path | None = None,
) -> str:
    """The whole baseline, from the API at ``api_url`` or the file ``csv_file``; its report
    line."""
    # Imported before the clock starts, as in every measured process (see bench.ours).
    import great_expectations  # noqa: F401
    import pandas as pd
    import sqlalchemy

    from lienthong.warehouse.connection import sqlalchemy_url

    steps: dict[str, float] = {}
    began = started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        steps[name] = now - started
        started = now

    if csv_file is not None:
        assert dataset.read_frame is not None
        frame = dataset.read_frame(csv_file)
        lap("read_csv")
        method = "pd.read_csv + to_sql (default method) + GX on the DataFrame"
    else:
        assert api_url is not None
        items = fetch(api_url, os.environ["BENCH_API_TOKEN"], page_size)
        lap("fetch")
        frame = pd.json_normalize(items)
        del items
        lap("normalize")
        method = "requests + pd.json_normalize + to_sql (default method) + GX on the DataFrame"
    schema, _, name = table.partition(".")
    engine = sqlalchemy.create_engine(sqlalchemy_url(os.environ["BENCH_PEER_DB"]))
    with engine.begin() as conn:
        conn.execute(sqlalchemy.schema.CreateSchema(schema, if_not_exists=True))
        frame.to_sql(name, conn, schema=schema, index=False)
    engine.dispose()
    lap("to_sql")
    counts = validate(dataset, frame, csv_file)
    lap("validate")
    return report_line(len(frame), time.perf_counter() - began, steps, method=method, **counts)


def measure(
    dataset: str,
    api_url: str | None,
    token: str,
    page_size: int,
    table: str,
    url: str,
    csv_file: Path | None = None,
) -> Measurement:
    """Run this peer in a fresh process (the harness's side): on the API at ``api_url``, or
    on the file ``csv_file``."""
    source = ["--csv", str(csv_file)] if csv_file is not None else ["--api-url", str(api_url)]
    command = python_module(
        __name__,
        "--dataset",
        dataset,
        *source,
        "--page-size",
        str(page_size),
        "--table",
        table,
    )
    # TQDM_DISABLE: GX draws a progress bar per validation otherwise.
    env = {"BENCH_PEER_DB": url, "BENCH_API_TOKEN": token, "TQDM_DISABLE": "1"}
    return run_child("pandas + GX", command, env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=sorted(DATASETS))
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--api-url")
    where.add_argument("--csv", type=Path, help="a file dataset's data file")
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--table", required=True)
    args = parser.parse_args()
    dataset = DATASETS[args.dataset]
    print(run(dataset, args.api_url, args.page_size, args.table, args.csv), flush=True)


if __name__ == "__main__":
    main()
