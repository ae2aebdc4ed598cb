"""The population DAG on real Airflow (dag.test(), SQLite metadata) against the demo server
and a real PostgreSQL warehouse."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import psycopg
import pytest

from lienthong.settings import PROJECT_ROOT
from lienthong_demo.citizens import generate_citizens

from ..webhook_receiver import WebhookReceiver
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
        "review",
        "publish",
    ]


def _population_dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).get_dag("population")


def test_dag_test_publishes_a_batch_then_holds_a_bad_one_for_a_person(
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

    # The source announces more than it sends: rule P-S2 holds the batch; the run waits for a
    # person in its Required Action, and the webhook is told once.
    seen: dict[str, object] = {}

    def respond() -> None:
        # dag.test() runs in the main thread (it sets signal handlers); a person answers here.
        try:
            ti_id = _awaiting_input("population", "review")
            with psycopg.connect(warehouse_url) as conn:
                seen["batch"] = conn.execute(
                    "SELECT batch_no, status, hold_reason FROM audit.batches ORDER BY batch_no DESC"
                ).fetchone()
                seen["core"] = conn.execute("SELECT count(*) FROM core.population").fetchone()[0]
            _answer(ti_id, "Approve", user="chi", reason="the source's total is off by three")
        except BaseException:
            _give_up("population")
            raise

    with ministry(monkeypatch, items, total_offset=3), WebhookReceiver() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_LIENTHONG_WEBHOOK", hook.connection)
        person = _InThread(respond)
        run = dag.test(run_conf={"full": True})
        person.result()
    batch_no, status, held = seen["batch"]
    assert status == "held" and "rule P-S2 (sufficient)" in held
    assert seen["core"] == published  # nothing of the held batch published while it waited
    assert run.state == "success"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states["validate"] == "success" and states["review"] == "success"
    assert states["publish"] == "success"
    assert len(hook.messages) == 1
    message = hook.messages[0]
    assert {
        k: message[k] for k in ("event", "dataset", "province", "batch_no", "dimension", "rule")
    } == {
        "event": "batch_held",
        "dataset": "population",
        "province": None,
        "batch_no": batch_no,
        "dimension": "sufficient",
        "rule": "P-S2",
    }
    assert "population batch" in message["text"] and "P-S2" in message["text"]
    with psycopg.connect(warehouse_url) as conn:
        assert (
            conn.execute(
                "SELECT status FROM audit.batches WHERE batch_no = %s", (batch_no,)
            ).fetchone()[0]
            == "published"
        )
        assert conn.execute(
            "SELECT decided_by, action, reason, via FROM audit.decisions"
        ).fetchall() == [
            ("chi", "approve_batch", "the source's total is off by three", "required_action")
        ]
        assert conn.execute(
            "SELECT notified_at IS NOT NULL, task_id FROM audit.batch_reviews"
        ).fetchone() == (True, "review")
    # The bearer token never reaches a log line.
    out, err = capfd.readouterr()
    assert TOKEN not in caplog.text + out + err


def test_a_run_that_fails_tells_the_webhook_after_the_held_batch(
    airflow_db, warehouse_url, monkeypatch
):
    # With nobody to answer (required_action false), a held batch fails the run: the webhook
    # hears of the held batch, then of the failed run (a DAG-level callback, which
    # `airflow dags test` runs with the serialized DAG), both naming the batch.
    items = [
        c.item for c in generate_citizens(300, seed=22, defect_rate=0.0, now=datetime.now(UTC))
    ]
    dag = _population_dag()
    with ministry(monkeypatch, items, total_offset=3), WebhookReceiver() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_LIENTHONG_WEBHOOK", hook.connection)
        run = dag.test(run_conf={"full": True, "required_action": False})
    assert run.state == "failed"
    with psycopg.connect(warehouse_url) as conn:
        batch_no, status = conn.execute("SELECT batch_no, status FROM audit.batches").fetchone()
    assert status == "held"
    assert [m["event"] for m in hook.messages] == ["batch_held", "run_failed"]
    failed = hook.messages[1]
    assert (failed["dataset"], failed["batch_no"], failed["dag_id"]) == (
        "population",
        batch_no,
        "population",
    )
    assert failed["run_id"] == run.run_id
    assert f"batch {batch_no}, held" in failed["text"]


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


class _InThread:
    """Run a blocking call (dag.test waiting for a Required Action) in a thread."""

    def __init__(self, call):
        self._result, self._error = None, None

        def run():
            try:
                self._result = call()
            except BaseException as error:  # handed to the test
                self._error = error

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def result(self, timeout: float = 2400):
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the DAG run did not finish")
        if self._error:
            raise self._error
        return self._result


def _awaiting_input(dag_id: str, task_id: str, timeout: float = 240):
    """The id of a task instance once it waits for a person (its Required Action)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as session:
            ti_id = session.scalar(
                select(TaskInstance.id).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == task_id,
                    TaskInstance.state == "awaiting_input",
                )
            )
        if ti_id:
            return ti_id
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id}.{task_id} never waited for input")


def _give_up(dag_id: str) -> None:
    """Fail the running DAG run, so that dag.test() returns when the test cannot answer."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        for run in session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.state == "running"):
            for ti in run.get_task_instances(session=session):
                if ti.state not in ("success", "failed", "skipped"):
                    ti.state = "failed"
            run.state = "failed"


def _answer(ti_id, option: str, *, user: str, reason: str) -> None:
    """Answer a Required Action as Airflow's REST endpoint does (response, then resume)."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import handle_event_submit
    from airflow.triggers.base import TriggerEvent
    from airflow.utils import timezone
    from airflow.utils.session import create_session

    with create_session() as session:
        ti = session.get(TaskInstance, ti_id)
        detail = session.get(HITLDetail, ti_id)
        assert detail.subject.endswith("is on hold") and "P-S2" in detail.body
        detail.responded_by = {"id": user, "name": user}
        detail.responded_at = timezone.utcnow()
        detail.chosen_options = [option]
        detail.params_input = {"reason": reason}
        handle_event_submit(
            TriggerEvent(detail.as_resume_event_payload()), task_instance=ti, session=session
        )
