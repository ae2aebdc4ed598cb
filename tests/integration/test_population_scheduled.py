"""A large batch under Airflow's scheduler and LocalExecutor: the extract task, run by Airflow's
task supervisor, prepares its items in worker processes, and the batch is published whole."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import preparation
from lienthong_demo.citizens import generate_citizens
from lienthong_demo.ministry_server import MinistryServer

from ..airflow_stack import SCHEDULING, TRIGGERED_RUNS_ONLY, AirflowApi, AirflowStack
from .population_fixtures import TOKEN, ministry_connection

pytestmark = [pytest.mark.integration, pytest.mark.airflow]

#: A batch announced past the point where workers take over (pages of 1,000 items).
ITEMS = preparation.WORKERS_FROM + 3_000


@pytest.fixture(scope="module")
def scheduled(module_warehouse, tmp_path_factory) -> Iterator[AirflowStack]:
    now = datetime.now(UTC) - timedelta(hours=1)
    items = [c.item for c in generate_citizens(ITEMS, seed=9, defect_rate=0.0, now=now)]
    with MinistryServer(items, token=TOKEN) as source:
        stack = AirflowStack(
            tmp_path_factory.mktemp("airflow"),
            warehouse_url=module_warehouse,
            lienthong_home=tmp_path_factory.mktemp("lienthong-home"),
            extra_env={
                "AIRFLOW_CONN_MINISTRY_POPULATION": ministry_connection(source.port),
                "LIENTHONG_PREPARE_WORKERS": "2",
                **TRIGGERED_RUNS_ONLY,
            },
        )
        with stack.running(SCHEDULING):
            yield stack


def test_a_scheduled_run_prepares_a_large_batch_in_workers_and_publishes_it(
    scheduled, module_warehouse
):
    api = AirflowApi(scheduled)
    run_id = api.trigger()
    assert api.wait_run(run_id) == "success"

    with psycopg.connect(module_warehouse) as conn:
        status, received, published = conn.execute(
            "SELECT status, received, published FROM audit.batches WHERE batch_key = %s",
            (f"population:{run_id}",),
        ).fetchone()
        core = conn.execute("SELECT count(*) FROM core.population").fetchone()[0]
    assert (status, received, published, core) == ("published", ITEMS, ITEMS, ITEMS)
    # The extract task's log (structured lines) says where its items were prepared.
    log = api.client.get(
        f"/dags/population/dagRuns/{run_id}/taskInstances/extract/logs/1",
        params={"full_content": True},
    ).json()["content"]
    events = [line.get("event", "") for line in log if isinstance(line, dict)]
    # The API announced more than WORKERS_FROM items: workers from the second page on.
    said = "preparing from item 1,000 on in 2 worker processes"
    assert said in events, events
