"""A real Airflow (api-server, and for DAG runs a scheduler and a dag-processor) on loopback,
with project-local configuration: SQLite metadata in a temporary AIRFLOW_HOME, this repo's
DAGs and plugins, Airflow's simple auth manager with known users and passwords."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))

#: user → (Airflow's simple auth manager role, password)
USERS = {
    "operator": ("user", "operator-password"),  # may answer Required Actions: may decide
    "viewer": ("viewer", "viewer-password"),  # may read DAGs: may look, not decide
}


#: Airflow's processes that run DAGs, besides serving the UI and API.
SCHEDULING = ("api-server", "scheduler", "dag-processor")

#: Environment for a stack whose DAGs run only when a test triggers them.
TRIGGERED_RUNS_ONLY = {
    "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AirflowStack:
    """Airflow's processes for one test session, started and stopped by the test."""

    def __init__(
        self, home: Path, *, warehouse_url: str, lienthong_home: Path, extra_env: dict | None = None
    ):
        self.home = home
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        passwords = home / "passwords.json"
        home.mkdir(parents=True, exist_ok=True)
        passwords.write_text(json.dumps({u: p for u, (_, p) in USERS.items()}))
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{u}:{r}" for u, (r, _) in USERS.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": f"{self.base_url}/",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "600",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "LIENTHONG_WAREHOUSE_URL": warehouse_url,
            "LIENTHONG_HOME": str(lienthong_home),
            "NO_PROXY": "127.0.0.1,localhost",
            **(extra_env or {}),
        }
        self.processes: dict[str, subprocess.Popen] = {}

    def airflow(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, check=check, timeout=600
        )

    def start(self, components: Iterable[str] = ("api-server",)) -> AirflowStack:
        self.airflow("db", "migrate")
        for name in components:
            log = open(self.home / f"{name}.log", "w")  # noqa: SIM115 (closed with the process)
            self.processes[name] = subprocess.Popen(
                [AIRFLOW, name],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if "api-server" in self.processes:
            self._wait_healthy()
        return self

    def _wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"airflow {name} exited:\n{self.log_tail(name)}")
            try:
                if (
                    httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code
                    == 200
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError(f"the api-server did not come up:\n{self.log_tail('api-server')}")

    def log_tail(self, name: str, chars: int = 6000) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def token(self, user: str) -> str:
        """A JWT for a user, from the simple auth manager's token endpoint."""
        response = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": user, "password": USERS[user][1]},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    @contextmanager
    def running(self, components: Iterable[str] = ("api-server",)) -> Iterator[AirflowStack]:
        """The stack started, printing each process's log tail when anything fails, and
        stopped at the end."""
        components = tuple(components)
        try:
            yield self.start(components)
        except BaseException:
            for name in components:
                print(f"--- {name}\n{self.log_tail(name)}")
            raise
        finally:
            self.stop()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()

    def __enter__(self) -> AirflowStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class AirflowApi:
    """Airflow's REST API as the operator, for the population DAG's runs."""

    def __init__(self, stack: AirflowStack) -> None:
        self.client = httpx.Client(
            base_url=f"{stack.base_url}/api/v2",
            headers={"Authorization": f"Bearer {stack.token('operator')}"},
            timeout=60,
        )

    def wait(self, what: str, check, timeout: float = 240):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(1)
        raise TimeoutError(f"waited {timeout} s for {what}")

    def trigger(self) -> str:
        self.wait("the DAG to be parsed", lambda: self.client.get("/dags/population").is_success)
        response = self.client.post(
            "/dags/population/dagRuns", json={"logical_date": None, "conf": {"full": True}}
        )
        response.raise_for_status()
        return response.json()["dag_run_id"]

    def task_state(self, run_id: str, task_id: str) -> str | None:
        response = self.client.get(f"/dags/population/dagRuns/{run_id}/taskInstances/{task_id}")
        return response.json().get("state") if response.is_success else None

    def wait_task(self, run_id: str, task_id: str, state: str) -> None:
        def reached():
            now = self.task_state(run_id, task_id)
            if now in ("failed", "upstream_failed") and state not in ("failed", "upstream_failed"):
                raise AssertionError(f"{task_id} of {run_id} is {now}")
            return now == state

        self.wait(f"{task_id} of {run_id} to be {state}", reached)

    def wait_run(self, run_id: str) -> str:
        return self.wait(
            f"run {run_id} to end",
            lambda: (
                (s := self.client.get(f"/dags/population/dagRuns/{run_id}").json()["state"])
                in ("success", "failed")
                and s
            ),
        )

    def required_action(self, run_id: str) -> dict:
        return self.client.get(
            f"/dags/population/dagRuns/{run_id}/taskInstances/review/-1/hitlDetails"
        ).json()
