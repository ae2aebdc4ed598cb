"""
### population_liveness: deaths registered but not reflected (rule P-L4)

Runs whenever `core.population` or `core.civil_events` changes (Airflow assets, updated by
the sources' `publish` tasks), never on a clock: it re-evaluates the P-L4 flags, a death
registered in a province's civil-status registry whose person's population record has no
`date_of_death`, and records how many were checked and flagged (`audit.flag_evaluations`).
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import Asset, dag, task

POPULATION = Asset("warehouse://core/population")
CIVIL_EVENTS = Asset("warehouse://core/civil_events")


@dag(
    dag_id="population_liveness",
    schedule=(POPULATION | CIVIL_EVENTS),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lienthong", "population", "civil_events", "rule:P-L4"],
    doc_md=__doc__,
    default_args={"owner": "lienthong", "retries": 2},
)
def population_liveness():
    @task
    def evaluate_p_l4() -> dict[str, int]:
        from lienthong.population import liveness
        from lienthong.warehouse.connection import connect

        with connect() as conn:
            return liveness.evaluate(conn)

    evaluate_p_l4()


population_liveness()
