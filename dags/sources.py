"""
### One DAG per source of the sources file

Each entry of the sources file (`sources.yaml`, or the file named by `LIENTHONG_SOURCES`)
becomes a DAG with a stable id: `population` for the national population API,
`<dataset>_<province>` for a provincial source (`civil_events_01`). Every DAG runs the same
steps on its source (`lienthong.pipeline.sync`):

1. `prepare_warehouse`: migrations and reference data.
2. `extract`: the source read into staging by COPY, from the source's watermark (or in full
   when the run's `full` parameter is set or there is no watermark yet). A file source reads
   the next ready file of its landing folder, oldest first, and the run **skips** when none
   is ready (files waiting for their manifest are logged with how long they have waited).
3. `validate`: the dataset's Great Expectations suites; a failed batch-level rule or a
   dimension under its threshold puts the batch **on hold** and the task fails without
   retrying, naming the dataset, dimension and rule (a file source's file moves to
   `<path>_held/`).
4. `publish`: valid rows to core, failing rows to quarantine, counts to the audit log, the
   watermark forward, in one transaction; the core tables it updates are the task's assets
   (a file source's file moves to `<path>_archive/`).

An invalid entry is left out here and reported by `dags/sources_file.py` as an import error
that names the entry and the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Asset, Param, dag, task

from lienthong.datasets import CATALOGUE
from lienthong.review.held_batch import WAIT_PARAM, HeldBatchApproval
from lienthong.review.notifier import WebhookNotifier
from lienthong.sources import Source, SourcesFileError, load_sources


def sync_dag(source: Source):
    """The DAG of one source."""
    kind = CATALOGUE[source.dataset]

    @dag(
        dag_id=source.dag_id,
        schedule=source.effective_schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        tags=["lienthong", source.dataset, f"reads:{kind.reads}"]
        + ([f"province:{source.province}"] if source.province else []),
        doc_md=f"**{source.dag_id}**: {kind.description}"
        + (f", province {source.province}" if source.province else "")
        + "\n"
        + __doc__,
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
            WAIT_PARAM: Param(
                True,
                type="boolean",
                description="A held batch waits for a person in a Required Action (off: the run"
                " fails and the batch is decided in Data quality, e.g. under `airflow dags test`)",
            ),
        },
        on_failure_callback=[
            _fail_open_batch,
            WebhookNotifier(event="run_failed", dataset=source.dataset),
        ],
    )
    def sync():
        @task
        def prepare_warehouse() -> None:
            from lienthong.pipeline import sync

            sync.prepare_warehouse()

        @task
        def extract(params=None, run_id=None) -> int | None:
            from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

            from lienthong.pipeline import batches, sync

            try:
                batch_no = sync.extract(source, f"{source.key}:{run_id}", full=bool(params["full"]))
            except batches.SourceBusy as busy:  # waiting cannot help this run
                raise AirflowFailException(str(busy)) from busy
            if batch_no is None:
                raise AirflowSkipException(f"{source.key}: nothing to extract")
            return batch_no

        @task
        def validate(batch_no: int) -> int:
            import logging

            from lienthong.pipeline import batches, sync

            try:
                sync.validate(source, batch_no)
            except batches.BatchHeld as held:  # a person decides, in the review task
                logging.getLogger(__name__).warning("batch %s is on hold:\n%s", batch_no, held)
            return batch_no

        @task(outlets=[Asset(f"warehouse://{t.replace('.', '/')}") for t in kind.core_tables])
        def publish(batch_no: int) -> dict[str, int]:
            from lienthong.pipeline import sync

            return sync.publish(source, batch_no)

        batch_no = extract()
        prepare_warehouse() >> batch_no
        validated = validate(batch_no)
        review = HeldBatchApproval(task_id="review", dataset=source.dataset, batch_no=validated)
        review >> publish(validated)

    return sync()


def _fail_open_batch(context) -> None:
    """A run that ends failed must not leave its batch holding the source."""
    from lienthong.pipeline import sync

    run = context["dag_run"]
    sync.fail_run(f"{run.dag_id}:{run.run_id}", f"the Airflow run {run.run_id} failed")


try:
    _sources = load_sources().sources
except SourcesFileError:
    _sources = ()  # dags/sources_file.py reports why
for _source in _sources:
    globals()[_source.dag_id] = sync_dag(_source)
