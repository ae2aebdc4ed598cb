"""Run DAGs as ``airflow dags test`` does (``DAG.test()``), several in one process.

The demo runs dozens of DAG runs (a file source runs until it finds nothing ready); one
process for a phase saves starting Airflow and importing Great Expectations every time.
Usage: ``python -m lienthong_demo.dag_runs [--until-idle] [--conf JSON] DAG_ID...``; the
environment (Airflow's home, the warehouse URL, connections) is the caller's. It exits 1
when a run failed for another reason than a batch put on hold.
"""

from __future__ import annotations

import argparse
import json
import sys


def _newest_batch() -> int:
    from lienthong.warehouse.connection import connect

    with connect() as conn:
        return conn.execute("SELECT coalesce(max(batch_no), 0) FROM audit.batches").fetchone()[0]


def _held(batch_no: int) -> bool:
    from lienthong.warehouse.connection import connect

    with connect() as conn:
        row = conn.execute(
            "SELECT status FROM audit.batches WHERE batch_no = %s", (batch_no,)
        ).fetchone()
    return row is not None and row[0] == "held"


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_ids", nargs="+")
    parser.add_argument("--conf", default="{}", help="the runs' conf, as JSON")
    parser.add_argument(
        "--until-idle", action="store_true", help="run each DAG until a run makes no batch"
    )
    parser.add_argument("--limit", type=int, default=20, help="most runs of one DAG")
    args = parser.parse_args(argv)

    from airflow.dag_processing.dagbag import DagBag

    from lienthong.review.held_batch import WAIT_PARAM
    from lienthong.settings import PROJECT_ROOT

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    failed = 0
    for dag_id in args.dag_ids:
        dag = bag.get_dag(dag_id)
        if dag is None:
            print(f"no DAG {dag_id}: {bag.import_errors}", file=sys.stderr)
            failed += 1
            continue
        for _ in range(args.limit if args.until_idle else 1):
            before = _newest_batch()
            # Nobody answers a Required Action here: a held batch fails its run and waits
            # in Data quality.
            run = dag.test(run_conf={WAIT_PARAM: False, **json.loads(args.conf)})
            after = _newest_batch()
            if run.state != "success" and not (after > before and _held(after)):
                failed += 1
                break
            if after == before:
                break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
