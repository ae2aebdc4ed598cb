"""The population sync's steps, as the DAG runs them: extract+stage, validate, publish.

Each step is its own transaction against the warehouse and can be killed and
rerun: a rerun of the same Airflow run reuses the same batch (and window).
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from datetime import UTC, datetime

from lienthong.ministry.hook import MinistryPopulationHook
from lienthong.pipeline import batches, staging, validation, watermark
from lienthong.pipeline import publish as publishing
from lienthong.population.contract import Preparer
from lienthong.population.dataset import POPULATION
from lienthong.settings import MINISTRY_CONN_ID
from lienthong.warehouse.bootstrap import ensure_ready
from lienthong.warehouse.connection import connect, sqlalchemy_url, warehouse_url

log = logging.getLogger(__name__)


def prepare_warehouse() -> dict[str, object]:
    """Migrations and reference data, before any batch."""
    with connect() as conn:
        return ensure_ready(conn)


def extract(
    batch_key: str,
    *,
    full: bool = False,
    ministry_conn_id: str = MINISTRY_CONN_ID,
    page_size: int = 1000,
    now: datetime | None = None,
) -> int:
    """Stream the population API into staging for one batch; return its batch number.

    Incremental from the watermark unless ``full`` or there is no watermark yet. The window's
    start is fixed when the batch opens, so a rerun reads from the same point; its clock
    (``extracted_at``) is the attempt's own.
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    with connect() as conn:
        since = None if full else watermark.read(conn, POPULATION.name)
        batch = batches.open_batch(
            conn,
            batch_key=batch_key,
            dataset=POPULATION.name,
            mode="full" if since is None else "incremental",
            updated_since=since,
            extracted_at=now,
        )
        batch_no = batch["batch_no"]
        if batch["status"] in ("published", "held", "rejected"):
            log.info("population batch %s is %s; not extracting again", batch_no, batch["status"])
            return batch_no
        hook = MinistryPopulationHook(ministry_conn_id, page_size=page_size)
        preparer = Preparer()
        received, total = 0, None
        with conn.transaction():
            staging.clear(conn, POPULATION, batch_no)
            # A retry reads the source as it is now: the liveness rules must judge it by now too.
            batches.update(conn, batch_no, extracted_at=now)
            for page in hook.iter_pages(updated_since=batch["updated_since"]):
                total = page.total
                prepared = [
                    preparer.prepare(received + i, item) for i, item in enumerate(page.items)
                ]
                staging.copy_chunk(conn, POPULATION, batch_no, prepared)
                received += len(prepared)
            staging.collapse_duplicates(conn, POPULATION, batch_no)
            new_fields = conn.execute(
                """SELECT coalesce(array_agg(DISTINCT k ORDER BY k), '{}')
                   FROM staging.population, jsonb_object_keys(extra) AS k WHERE batch_no = %s""",
                (batch_no,),
            ).fetchone()[0]
            batches.update(
                conn,
                batch_no,
                status="staged",
                announced_total=total if total is not None else 0,
                received=received,
                new_fields=new_fields,
                timing=("extract", time.monotonic() - started),
            )
        if new_fields:
            log.warning(
                "population source sends fields the contract does not document: %s", new_fields
            )
        log.info("population batch %s staged: %s rows of %s announced", batch_no, received, total)
        return batch_no


def validate(batch_no: int) -> dict[str, object]:
    """Run the population suites on a staged batch; raise ``BatchHeld`` when it is held."""
    url = warehouse_url()
    with connect(url) as conn:
        outcome = validation.validate(conn, sqlalchemy_url(url), POPULATION, batch_no)
    if outcome.status == "held":
        raise batches.BatchHeld("\n".join(outcome.hold_reasons))
    return asdict(outcome)


def publish(batch_no: int) -> dict[str, int]:
    """Publish a validated population batch; a published one is left as it is."""
    with connect() as conn:
        return publishing.publish(conn, POPULATION, batch_no)
