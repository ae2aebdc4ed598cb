"""One source's sync, as its DAG runs it: prepare the warehouse, extract and stage, validate,
publish. The same steps for every dataset; what differs is the `Dataset` and its source.

Each step is its own transaction against the warehouse and can be killed and rerun: a rerun
of the same Airflow run (the same ``batch_key``) reuses the same batch and window. A failed
extraction is recorded on its batch (status ``failed``, with the error), which frees the
source for the next run.
"""

from __future__ import annotations

import logging
import time
from contextlib import closing
from dataclasses import asdict
from datetime import UTC, datetime

import psycopg
from psycopg.types.json import Jsonb

from lienthong.datasets import dataset as dataset_named
from lienthong.pipeline import batches, retention, staging, validation, watermark
from lienthong.pipeline import publish as publishing
from lienthong.pipeline.dataset import Dataset
from lienthong.pipeline.extraction import ExtractRequest
from lienthong.pipeline.prefetch import read_ahead
from lienthong.pipeline.preparation import staged_chunks
from lienthong.pipeline.progress import Progress
from lienthong.sources import Source
from lienthong.warehouse.bootstrap import ensure_ready
from lienthong.warehouse.connection import connect, sqlalchemy_url, warehouse_url

log = logging.getLogger(__name__)


def prepare_warehouse() -> dict[str, object]:
    """Migrations and reference data, before any batch."""
    with connect() as conn:
        return ensure_ready(conn)


def extract(
    source: Source, batch_key: str, *, full: bool = False, now: datetime | None = None
) -> int | None:
    """Read the source into staging for one batch; return its batch number, or None when the
    source has nothing to read now.

    Incremental from the source's watermark unless ``full`` or there is none yet. The window's
    start is fixed when the batch opens, so a rerun reads from the same point; its clock
    (``extracted_at``) is the attempt's own.

    Raises:
        SourceBusy: another batch of the source is open.
    """
    started = time.monotonic()
    now = now or datetime.now(UTC)
    dataset = dataset_named(source.dataset)
    with connect() as conn:
        existing = _existing(conn, batch_key)
        if existing is not None and existing["status"] in ("published", "held", "rejected"):
            log.info(
                "%s batch %s is %s; not extracting again",
                source.key,
                existing["batch_no"],
                existing["status"],
            )
            return existing["batch_no"]
        if existing is not None:
            since = existing["updated_since"]
        elif full or not dataset.incremental:
            since = None
        else:
            since = watermark.read(conn, dataset.name, source.scope)
        extraction = dataset.extractor(ExtractRequest(source, since, now, batch_key, conn))
        if extraction is None:
            log.info("%s: nothing to extract", source.key)
            return None
        batch = batches.open_batch(
            conn,
            batch_key=batch_key,
            source=source.key,
            dataset=dataset.name,
            province=source.province,
            mode=extraction.mode,
            updated_since=since,
            extracted_at=now,
        )
        batch_no = batch["batch_no"]
        try:
            _stage(conn, dataset, source, batch_no, extraction, now, started)
        except BaseException as exc:
            batches.fail(conn, batch_no, exc)
            raise
        return batch_no


def _existing(conn: psycopg.Connection, batch_key: str) -> dict | None:
    try:
        return batches.get(conn, batch_key=batch_key)
    except batches.BatchError:
        return None


def _stage(conn, dataset, source, batch_no, extraction, now, started) -> None:
    preparer = dataset.preparer(source)
    progress = Progress(f"{source.key} batch {batch_no}: extract", log)
    received = 0
    with conn.transaction():
        staging.clear(conn, dataset, batch_no)
        # A retry reads the source as it is now: the liveness rules must judge it by now too.
        batches.update(conn, batch_no, extracted_at=now)
        chunks = extraction.chunks()
        if getattr(extraction, "read_ahead", False):
            chunks = read_ahead(chunks)
        layout = staging.chunk_layout(dataset, conn)
        # What the source announced is known once it has sent a page (a file, its manifest).
        prepared = staged_chunks(
            preparer, batch_no, chunks, announced=lambda: extraction.announced_total, layout=layout
        )
        # Closed on the way out, an error's too: its workers stopped and the heap thawed then,
        # not whenever the traceback that holds this frame is dropped.
        with closing(prepared):
            for staged in prepared:
                staging.copy_staged(conn, dataset, staged)
                received += staged.count
                progress.update(received, extraction.announced_total)
        finish = getattr(extraction, "finish", None)
        if finish is not None:
            finish()
        copied = time.monotonic()
        staging.collapse_duplicates(conn, dataset, batch_no, rows=received)
        new_fields = staging.new_fields(conn, dataset, batch_no)
        log.info(
            "%s batch %s: staged by COPY in %.1f s, copies collapsed in %.1f s",
            source.key,
            batch_no,
            copied - started,
            time.monotonic() - copied,
        )
        batches.update(
            conn,
            batch_no,
            status="staged",
            announced_total=extraction.announced_total,
            received=received,
            new_fields=new_fields,
            window_end=extraction.window_end,
            window_closed=extraction.window_closed,
            source_facts=Jsonb(getattr(extraction, "facts", None) or {}),
            timing=("extract", time.monotonic() - started),
        )
    progress.done(received)
    if new_fields:
        log.warning("%s sends fields the contract does not document: %s", source.key, new_fields)
    log.info(
        "%s batch %s staged from %s: %s rows of %s announced",
        source.key,
        batch_no,
        extraction.describe(),
        received,
        extraction.announced_total,
    )


def validate(source: Source, batch_no: int) -> dict[str, object]:
    """Run the dataset's suites on a staged batch; raise ``BatchHeld`` when it is held."""
    dataset = dataset_named(source.dataset)
    url = warehouse_url()
    with connect(url) as conn:
        try:
            outcome = validation.validate(
                conn, sqlalchemy_url(url), dataset, batch_no, thresholds=source.thresholds
            )
        except batches.SourceBusy:
            raise
        except Exception as exc:
            batches.fail(conn, batch_no, exc)
            raise
    if outcome.status == "held":
        with connect(url) as conn:
            after_outcome(conn, dataset, batch_no)
        raise batches.BatchHeld("\n".join(outcome.hold_reasons))
    return asdict(outcome)


def publish(source: Source, batch_no: int) -> dict[str, int]:
    """Publish a validated batch (a published one is left as it is), then delete the staged
    rows of the source's batches that no one needs any more (`lienthong.pipeline.retention`)."""
    dataset = dataset_named(source.dataset)
    keep = retention.retention()  # a bad setting is named before anything is published
    with connect() as conn:
        batch = batches.get(conn, batch_no=batch_no)
        if batch["status"] == "failed" and "validate" in batch["timings"]:
            batches.resume(conn, batch_no, "validated")
        try:
            counts = publishing.publish(conn, dataset, batch_no)
        except (batches.BatchHeld, batches.SourceBusy):
            raise
        except Exception as exc:
            batches.fail(conn, batch_no, exc)
            raise
        after_outcome(conn, dataset, batch_no)
        try:
            retention.expire(conn, source.key, older_than=keep)
        except psycopg.Error as exc:
            # The publication stands; expired rows wait for the source's next publication.
            log.warning("%s: the staging retention failed, to retry next time: %s", source.key, exc)
        return counts


def after_outcome(
    conn: psycopg.Connection, dataset: Dataset, batch_no: int, note: str | None = None
) -> None:
    """Let the dataset act on a batch that is held, published or rejected (a file source
    moves its file); the outcome is already committed, so a rerun acts again, harmlessly."""
    if dataset.after_outcome is None:
        return
    batch = batches.get(conn, batch_no=batch_no)
    if batch["status"] in ("held", "published", "rejected"):
        dataset.after_outcome(conn, batch, note)


def fail_run(batch_key: str, error: str) -> int | None:
    """Fail the open batch of a run that ended without finishing it (for the DAG's failure
    callback: a killed task whose retries are exhausted must not hold its source forever)."""
    with connect() as conn:
        return batches.fail_run(conn, batch_key, error)
