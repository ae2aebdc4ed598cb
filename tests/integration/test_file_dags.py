"""The dossiers and p06_tasks DAGs on real Airflow (dag.test(), SQLite metadata), real files in
local landing folders and a real PostgreSQL warehouse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.settings import PROJECT_ROOT
from lienthong_demo.dossier_files import (
    DeliveryOptions,
    demo_population,
    generate_dossier_delivery,
)
from lienthong_demo.task_workbooks import generate_task_workbook

from .file_fixtures import ledger, load_population

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _dags(monkeypatch, tmp_path):
    from airflow.dag_processing.dagbag import DagBag

    sources = tmp_path / "sources.yaml"
    sources.write_text(
        f"""sources:
  - dataset: dossiers
    province: "40"
    path: {tmp_path / "landing" / "dossiers" / "40"}
  - dataset: p06_tasks
    province: "40"
    path: {tmp_path / "landing" / "p06_tasks" / "40"}
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("LIENTHONG_SOURCES", str(sources))
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == ["dossiers_40", "p06_tasks_40", "population_liveness"]
    return bag


def _states(run) -> dict[str, str | None]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def test_the_file_dags_publish_skip_and_hold(airflow_db, warehouse_url, monkeypatch, tmp_path):
    bag = _dags(monkeypatch, tmp_path)
    landing = tmp_path / "landing"
    people = demo_population(300, seed=6)
    load_population(warehouse_url, people)
    # Yesterday in Vietnam: in time by rule D-L1.
    yesterday = (datetime.now(UTC) + timedelta(hours=7)).date() - timedelta(days=1)
    export = generate_dossier_delivery(
        "40", yesterday, count=150, seed=2, defect_rate=0.02, population=people
    )
    export.write(landing)

    dossiers = bag.get_dag("dossiers_40")
    assert [t.task_id for t in dossiers.topological_sort()] == [
        "prepare_warehouse",
        "extract",
        "validate",
        "review",
        "publish",
    ]
    # Nobody answers a Required Action under dag.test(): a held batch fails its run instead.
    no_person = {"required_action": False}
    run = dossiers.test(run_conf=no_person)
    assert run.state == "success", _states(run)
    with psycopg.connect(warehouse_url) as conn:
        published = conn.execute(
            "SELECT published FROM audit.batches WHERE source = 'dossiers_40'"
        ).fetchone()[0]
        assert conn.execute("SELECT count(*) FROM core.dossiers").fetchone()[0] == published > 140
    (record,) = ledger(warehouse_url, "dossiers_40")
    assert record["outcome"] == "published"
    assert (landing / "dossiers" / "40_archive" / str(record["file_no"]) / export.csv_name).exists()

    # Nothing ready: the run skips its steps and succeeds.
    run = dossiers.test(run_conf=no_person)
    assert run.state == "success"
    assert _states(run)["extract"] == "skipped"

    # A file whose manifest lies about its checksum: held, the run fails, the file set aside.
    lying = generate_dossier_delivery(
        "40",
        yesterday - timedelta(days=1),
        count=20,
        seed=3,
        defect_rate=0.0,
        population=people,
        options=DeliveryOptions(manifest="wrong_sha256"),
    )
    lying.write(landing)
    run = dossiers.test(run_conf=no_person)
    assert run.state == "failed"
    states = _states(run)
    assert states["validate"] == "success" and states["review"] == "failed"
    assert states["publish"] in ("upstream_failed", None)
    held = next(r for r in ledger(warehouse_url, "dossiers_40") if r["name"] == lying.csv_name)
    assert held["outcome"] == "held"
    assert (landing / "dossiers" / "40_held" / str(held["file_no"]) / lying.csv_name).exists()

    # The task workbook DAG: last month's workbook is published, then nothing is left.
    this_month = (datetime.now(UTC) + timedelta(hours=7)).date().replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    workbook = generate_task_workbook("40", last_month, seed=3, defect_rate=0.0)
    workbook.write(landing)
    tasks = bag.get_dag("p06_tasks_40")
    run = tasks.test(run_conf=no_person)
    assert run.state == "success", _states(run)
    with psycopg.connect(warehouse_url) as conn:
        month, assigned = conn.execute(
            "SELECT report_month, tasks_assigned FROM marts.p06_task_progress"
        ).fetchone()
    assert (month, assigned) == (last_month, len(workbook.task_codes))
    run = tasks.test(run_conf=no_person)
    assert run.state == "success" and _states(run)["extract"] == "skipped"
