"""
### population: national population API → warehouse

Pulls citizen records from the Ministry of Public Security's population API
(connection `ministry_population`), incrementally from the warehouse's
watermark (or in full when `full` is set or no watermark exists yet), stages
them by COPY, validates the batch with the Great Expectations suites in
`expectations/population/` (rules P-* of shared/spec/RULES.md), then publishes
in one transaction: valid rows to `core.population`, failing rows to
`quarantine.records`, counts to `audit.batches`.

A batch-level rule (P-S2, P-S3, P-L1) or a dimension under its pass-rate
threshold puts the batch **on hold**: nothing is published, and the `review`
task waits for a person (a Required Action naming the dataset, dimension and
rule; the webhook of connection `lienthong_webhook` is told). Approving
publishes the batch as it stands, rejecting marks it rejected; the same
decision can be taken in the Data quality view. A failed run is notified to
the same webhook.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

from lienthong.review.held_batch import HeldBatchApproval
from lienthong.review.notifier import WebhookNotifier

POPULATION_CORE = Asset("warehouse://core/population")


@dag(
    dag_id="population",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lienthong", "population", "source:ministry-api"],
    doc_md=__doc__,
    on_failure_callback=WebhookNotifier(event="run_failed", dataset="population"),
    default_args={
        "owner": "lienthong",
        "retries": 3,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={
        "full": Param(
            False, type="boolean", description="Extract everything, not from the watermark"
        ),
        "required_action": Param(
            True,
            type="boolean",
            description="A held batch waits for a person in a Required Action (off: the run"
            " fails and the batch is decided in Data quality, e.g. under `airflow dags test`)",
        ),
    },
)
def population():
    @task
    def prepare_warehouse() -> None:
        from lienthong.population import sync

        sync.prepare_warehouse()

    @task
    def extract(params=None, run_id=None) -> int:
        from lienthong.population import sync

        return sync.extract(f"population:{run_id}", full=bool(params["full"]))

    @task
    def validate(batch_no: int) -> int:
        import logging

        from lienthong.pipeline.batches import BatchHeld
        from lienthong.population import sync

        try:
            sync.validate(batch_no)
        except BatchHeld as held:  # a person decides, in the review task
            logging.getLogger(__name__).warning("batch %s is on hold:\n%s", batch_no, held)
        return batch_no

    @task(outlets=[POPULATION_CORE])
    def publish(batch_no: int) -> dict[str, int]:
        from lienthong.population import sync

        return sync.publish(batch_no)

    batch_no = extract()
    prepare_warehouse() >> batch_no
    validated = validate(batch_no)
    review = HeldBatchApproval(task_id="review", dataset="population", batch_no=validated)
    review >> publish(validated)


population()
