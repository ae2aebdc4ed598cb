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
"""

from __future__ import annotations

import argparse
import json
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--page-size", type=int, required=True)
    parser.add_argument("--dataset-name", required=True)
    parser.add_argument("--pipelines-dir", required=True)
    args = parser.parse_args()
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")

    import dlt
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
            "method": "rest_api_source (cursor paginator) → postgres, append, insert_values",
            "dlt": dlt.__version__,
        },
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
