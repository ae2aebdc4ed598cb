"""The population DAG on real Airflow (dag.test(), SQLite metadata) against the demo server
and a real PostgreSQL warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from lienthong.settings import PROJECT_ROOT
from lienthong_demo.citizens import generate_citizens

from .population_fixtures import TOKEN, ministry

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def test_dag_files_import_without_errors(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("population")
    assert dag is not None
    assert dag.max_active_runs == 1
    assert {"lienthong", "population"} <= set(dag.tags)
    assert dag.default_args["owner"] == "lienthong"
    assert dag.default_args["retries"] >= 1
    assert [t.task_id for t in dag.topological_sort()] == [
        "prepare_warehouse",
        "extract",
        "validate",
        "publish",
    ]


def _population_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).get_dag("population")


def test_dag_test_publishes_a_batch_then_holds_a_bad_one(
    airflow_db, warehouse_url, monkeypatch, caplog, capfd
):
    now = datetime.now(UTC)
    items = [c.item for c in generate_citizens(800, seed=21, defect_rate=0.03, now=now)]
    dag = _population_dag()
    with ministry(monkeypatch, items):
        run = dag.test(run_conf={"full": True})
    assert run.state == "success"
    with psycopg.connect(warehouse_url) as conn:
        status, received, published, quarantined, collapsed = conn.execute(
            "SELECT status, received, published, quarantined, collapsed FROM audit.batches"
        ).fetchone()
        assert (status, received) == ("published", 800)
        assert published + quarantined + collapsed == 800
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == published
    # The bearer token never reaches a log line.
    out, err = capfd.readouterr()
    assert TOKEN not in caplog.text + out + err

    # The source announces more than it sends: rule P-S2 holds the batch, the run fails.
    with ministry(monkeypatch, items, total_offset=3):
        run = dag.test(run_conf={"full": True})
    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["validate"] == "failed"
    assert states["publish"] in ("upstream_failed", None)
    with psycopg.connect(warehouse_url) as conn:
        held = conn.execute(
            "SELECT hold_reason FROM audit.batches WHERE status = 'held'"
        ).fetchone()[0]
        assert "rule P-S2 (sufficient)" in held
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == published
    # The bearer token never reaches a log line.
    out, err = capfd.readouterr()
    assert TOKEN not in caplog.text + out + err


def test_a_warehouse_connection_that_cannot_be_read_fails_the_run_and_starts_nothing(
    airflow_db, tmp_path
):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {
        **os.environ,
        # A secrets backend with a hiccup, as a deployment would configure one.
        "AIRFLOW__SECRETS__BACKEND": "tests.support.failing_secrets.FailingSecretsBackend",
        "PYTHONPATH": str(PROJECT_ROOT),
        "LIENTHONG_HOME": str(tmp_path / "home"),
    }
    env.pop("LIENTHONG_WAREHOUSE_URL", None)
    run = subprocess.run(
        # One attempt of the first task (a whole run would also wait out its retries).
        [
            str(Path(sys.executable).with_name("airflow")),
            *("tasks", "test", "population", "prepare_warehouse"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert "WarehouseConfigError" in output
    assert "refusing to fall back to the embedded warehouse" in output
    assert "FailingSecretsBackend: ConnectionError" in output
    # No embedded server was started: nothing was written to the runtime folder.
    assert not (tmp_path / "home" / "pgdata").exists()


def test_no_log_line_of_a_run_holds_the_warehouse_password(
    airflow_db, warehouse_url, monkeypatch, caplog, capfd
):
    from psycopg.conninfo import make_conninfo

    password = "Wh-pass-7f3a9c1e"
    # The test servers trust local connections: the password is carried, not checked.
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", make_conninfo(warehouse_url, password=password))
    now = datetime.now(UTC)
    items = [c.item for c in generate_citizens(100, seed=4, defect_rate=0.05, now=now)]
    with ministry(monkeypatch, items):
        run = _population_dag().test(run_conf={"full": True})
    assert run.state == "success"
    out, err = capfd.readouterr()
    logs = caplog.text + out + err
    assert "batch" in logs  # the run did log
    assert password not in logs
