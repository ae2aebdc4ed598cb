"""The floor: the same records, already flat, COPY'd into an unindexed table.

``python -m bench.peers.raw_copy --csv FILE --table schema.name --columns a,b,...`` with the
database in ``BENCH_PEER_DB``. The table (every column text, no index, no constraint) is
created first; only the COPY is timed: the CSV file is sent in 1 MiB blocks through psycopg's
``COPY ... FROM STDIN (FORMAT csv)``, which is what ``psql \\copy`` does.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.measure import Measurement, python_module, report_line, run_child

BLOCK = 1 << 20


def load(url: str, csv_file: Path, table: str, columns: list[str]) -> tuple[int, float]:
    """Create ``table`` and COPY ``csv_file`` into it; (rows, seconds of the COPY)."""
    schema, _, name = table.partition(".")
    target = sql.Identifier(schema, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(target))
        conn.execute(
            sql.SQL("CREATE TABLE {} ({})").format(
                target,
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns),
            )
        )
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(target)) as copy,
            csv_file.open("rb") as stream,
        ):
            while block := stream.read(BLOCK):
                copy.write(block)
        seconds = time.perf_counter() - started
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0]
    return rows, seconds


def measure(csv_file: Path, table: str, columns: tuple[str, ...], url: str) -> Measurement:
    """Run this peer in a fresh process (the harness's side)."""
    command = python_module(
        __name__, "--csv", str(csv_file), "--table", table, "--columns", ",".join(columns)
    )
    return run_child("raw COPY", command, {"BENCH_PEER_DB": url})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--columns", required=True)
    args = parser.parse_args()
    rows, seconds = load(os.environ["BENCH_PEER_DB"], args.csv, args.table, args.columns.split(","))
    print(report_line(rows, seconds, {"COPY": seconds}, method="psycopg COPY FROM STDIN, CSV"))


if __name__ == "__main__":
    main()
