"""dlt's load of the same records: its REST API source pages our API, its postgres destination
loads them. dlt validates nothing.

Runs in dlt's own virtualenv (`bench.peers.dlt_peer`), which has neither lienthong nor psycopg
3: this module imports only dlt and the standard library, and prints the same JSON report line
as the other measured steps (see `bench.measure`).

``python -m bench.peers.dlt_load --api-url URL --path /v1/... --page-size N --dataset-name S
--pipelines-dir DIR`` with the bearer token in ``BENCH_API_TOKEN`` and the destination in
``BENCH_DLT_CREDENTIALS`` (a ``postgresql://`` URI).

dlt's normal way for a paged JSON API: ``rest_api_source`` with bearer auth and a cursor
paginator (``next_cursor`` → ``cursor``), items under ``items``, the default write
disposition (append) and loader file format (insert_values). Its three stages are timed apart.

For a landed file (``--csv FILE`` instead of ``--api-url`` and ``--path``): dlt's
``filesystem`` source lists the file and a transformer reads it with ``csv.DictReader`` in
chunks of ``--page-size`` rows, as dlt's own ``read_jsonl`` reader does for JSON lines (dlt's
``read_csv`` reader needs pandas, and ``read_csv_duckdb`` DuckDB, neither of which dlt's
``postgres`` extra installs); then the same destination, disposition and file format.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def _api_source(args: argparse.Namespace) -> tuple[Any, str, str]:
    """dlt's REST API source over our API; (source, table, method)."""
    from dlt.sources.rest_api import rest_api_source

    resource = args.path.strip("/").rsplit("/", 1)[-1]
    source = rest_api_source(
        {
            "client": {
                "base_url": args.api_url,
                "auth": {"type": "bearer", "token": os.environ["BENCH_API_TOKEN"]},
                "paginator": {
                    "type": "cursor",
                    "cursor_path": "next_cursor",
                    "cursor_param": "cursor",
                },
            },
            "resources": [
                {
                    "name": resource,
                    "endpoint": {
                        "path": args.path.lstrip("/"),
                        "params": {"limit": args.page_size},
                        "data_selector": "items",
                    },
                }
            ],
        }
    )
    return source, resource, "rest_api_source (cursor paginator) → postgres, append, insert_values"


def _csv_source(args: argparse.Namespace) -> tuple[Any, str, str]:
    """dlt's filesystem source and a csv.DictReader transformer over one file; (source,
    table, method)."""
    import dlt
    from dlt.sources.filesystem import filesystem

    chunk = args.page_size

    def read_csv_rows(items: Iterable[Any]) -> Iterator[list[dict[str, str]]]:
        for file_obj in items:
            with file_obj.open(mode="rt", encoding="utf-8", newline="") as stream:
                rows: list[dict[str, str]] = []
                for row in csv.DictReader(stream):
                    rows.append(row)
                    if len(rows) >= chunk:
                        yield rows
                        rows = []
                if rows:
                    yield rows

    table = args.dataset_name.removeprefix("dlt_")
    path = args.csv.resolve()
    source = filesystem(bucket_url=str(path.parent), file_glob=path.name) | dlt.transformer(
        name=table
    )(read_csv_rows)
    method = "filesystem source + csv.DictReader transformer → postgres, append, insert_values"
    return source, table, method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--api-url")
    where.add_argument("--csv", type=Path, help="a landed file to read instead of an API")
    parser.add_argument("--path", help="the API's endpoint (with --api-url)")
    parser.add_argument("--page-size", type=int, required=True)
    parser.add_argument("--dataset-name", required=True)
    parser.add_argument("--pipelines-dir", required=True)
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

    import dlt

    if args.csv is not None:
        source, resource, method = _csv_source(args)
    else:
        if not args.path:
            parser.error("--api-url needs --path")
        source, resource, method = _api_source(args)
    pipeline = dlt.pipeline(
        pipeline_name=f"bench_{args.dataset_name}",
        destination=dlt.destinations.postgres(credentials=os.environ["BENCH_DLT_CREDENTIALS"]),
        dataset_name=args.dataset_name,
        pipelines_dir=args.pipelines_dir,
    )
    steps = {}
    began = started = time.perf_counter()
    for name, stage in (
        ("extract", lambda: pipeline.extract(source)),
        ("normalize", pipeline.normalize),
        ("load", pipeline.load),
    ):
        stage()
        now = time.perf_counter()
        steps[name] = now - started
        started = now
    seconds = time.perf_counter() - began
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            f"SELECT count(*) FROM {client.make_qualified_table_name(resource)}"
        )
    report = {
        "rows": rows[0][0],
        "seconds": seconds,
        "steps": steps,
        "details": {
            "method": method,
            "dlt": dlt.__version__,
        },
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
