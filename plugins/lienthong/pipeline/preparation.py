"""Preparing a batch's items for staging, spread over the machine's cores.

Preparing an item (its contract check, fixes, hash, and the row's COPY format) is Python work
that holds one core per item; on a large batch that work, not the source or COPY, sets the
pace. Once a batch has shown itself large, its chunks go to worker processes in order and
come back formatted for COPY (`lienthong.pipeline.staging.StagedChunk`), which the staging loop
writes in the order the chunks were read: the rows, their numbers and their fixes are those of
a one-process read, only sooner. The same for every dataset: a worker runs the dataset's own
preparer.

Workers are forked: they need nothing but the preparer, whose modules the parent has loaded
(spawned or forkserver workers would import the parent's main script, Airflow's CLI, once
each). They touch neither the parent's connections nor its threads, and leave when the parent
is gone (killed mid-batch), so a crash leaves no process behind.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from lienthong.pipeline.dataset import Preparer
from lienthong.pipeline.extraction import EncodedChunk
from lienthong.pipeline.staging import AS_PREPARED, ChunkLayout, StagedChunk, format_chunk

log = logging.getLogger(__name__)

#: Items prepared in-process before workers start, unless the source announced at least this
#: many: then they start after the first chunk. A small batch is done before workers would be
#: (forking them, and their first touches of what they inherit, cost an incremental sync of
#: 10,000 items 0.3 s, a seventh of it); a large one gains from them early (a 100,000-row
#: dossier file prepared by workers from its 20,000th row cost the task 31 us a row, from its
#: 5,000th 20 us).
WORKERS_FROM = 20_000

#: Chunks each worker may have waiting or done ahead of the staging loop (memory stays flat).
AHEAD_PER_WORKER = 2


def worker_count() -> int:
    """How many processes prepare a large batch: ``LIENTHONG_PREPARE_WORKERS``, else one per
    core; 1 prepares every chunk in the task's own process."""
    configured = os.environ.get("LIENTHONG_PREPARE_WORKERS", "").strip()
    if not configured:
        return os.cpu_count() or 1
    try:
        count = int(configured)
    except ValueError:
        raise ValueError(
            f"LIENTHONG_PREPARE_WORKERS is {configured!r}, not a whole number of processes"
        ) from None
    if count < 1:
        raise ValueError(f"LIENTHONG_PREPARE_WORKERS is {count}: at least 1 process prepares")
    return count


def prepare_chunk(
    preparer: Preparer,
    batch_no: int,
    start: int,
    items: Iterable[Any] | EncodedChunk,
    layout: ChunkLayout = AS_PREPARED,
) -> StagedChunk:
    """One chunk's items, numbered from ``start``, prepared and formatted for COPY (an
    `EncodedChunk` decoded first, here) as ``layout`` says: the payload apart, in the binary
    format where it can be (`lienthong.pipeline.staging.format_chunk`)."""
    with _collector_paused():
        if isinstance(items, EncodedChunk):
            items = items.items()
        prepare_many = getattr(preparer, "prepare_many", None)
        if prepare_many is not None:
            prepared = prepare_many(start, items)
        else:
            prepared = [preparer.prepare(start + i, item) for i, item in enumerate(items)]
        staged = format_chunk(batch_no, prepared, layout)
        # Freed while the collector is paused: resumed with them alive, it walked their
        # every container at its next allocation (16 ms a chunk of 5,000, for nothing).
        del prepared, items
    return staged


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """What the process holds when a batch's staging loop starts (Airflow's, GX's, pandas'
    modules: a few hundred thousand objects) left out of the collector's full collections
    until it ends.

    The loop's threads (reading a file or the next page, unpacking the workers' chunks)
    allocate fast enough to set off a full collection every few chunks, each walking the
    whole heap for nothing: a tenth to a third of the reading of a dossier file (measured
    with Airflow, GX and pandas imported). Frozen, what the loop makes is still collected; the
    heap is thawed afterwards, unless something else had frozen it first."""
    thaw = gc.get_freeze_count() == 0
    gc.freeze()
    try:
        yield
    finally:
        if thaw:
            gc.unfreeze()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused for one chunk.

    Preparing an item allocates some thirty containers (decoded objects, rows, fixes) that
    reference counting frees; none is in a cycle. The collector, which looks at young objects
    every 700 allocations, found nothing here and cost a fifth of the preparation
    (``bench/``); paused, a chunk's work is the same, and anything cyclic it leaves is
    collected once the chunk is done.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def staged_chunks(
    preparer: Preparer,
    batch_no: int,
    chunks: Iterable[Sequence[Any] | EncodedChunk],
    *,
    workers: int | None = None,
    workers_from: int | None = None,
    announced: Callable[[], int | None] | None = None,
    layout: ChunkLayout = AS_PREPARED,
) -> Iterator[StagedChunk]:
    """The chunks of a batch prepared for COPY, in order: in this process until
    ``workers_from`` items have been read (or only the first chunk, when ``announced``, asked
    as the chunks come, says the source announced at least that many), then (with ``workers``
    above 1) by worker processes, at most ``AHEAD_PER_WORKER`` chunks each ahead of the caller.
    By default ``workers`` is `worker_count` and ``workers_from`` `WORKERS_FROM`.

    An error in a worker (or a worker's death) is raised here, at the chunk it prepared.
    """
    with _heap_frozen():
        yield from _staged_chunks(
            preparer, batch_no, chunks, workers, workers_from, announced, layout
        )


def _staged_chunks(
    preparer: Preparer,
    batch_no: int,
    chunks: Iterable[Sequence[Any] | EncodedChunk],
    workers: int | None,
    workers_from: int | None,
    announced: Callable[[], int | None] | None,
    layout: ChunkLayout,
) -> Iterator[StagedChunk]:
    workers = worker_count() if workers is None else workers
    if multiprocessing.current_process().daemon:
        workers = 1  # a daemonic process (some executors' workers) may not start children
    workers_from = WORKERS_FROM if workers_from is None else workers_from
    received = 0
    pool: ProcessPoolExecutor | None = None
    pending: deque[Future[StagedChunk]] = deque()
    try:
        for chunk in chunks:
            start, received = received, received + len(chunk)
            large = start >= workers_from or (
                start > 0 and announced is not None and (announced() or 0) >= workers_from
            )
            if pool is None and (workers < 2 or not large):
                yield prepare_chunk(preparer, batch_no, start, chunk, layout)
                continue
            if pool is None:
                log.info("preparing from item %s on in %s worker processes", f"{start:,}", workers)
                pool = ProcessPoolExecutor(
                    workers,
                    mp_context=multiprocessing.get_context("fork"),
                    initializer=_adopt,
                    initargs=(preparer, os.getpid()),
                )
            pending.append(pool.submit(_prepare, batch_no, start, chunk, layout))
            while len(pending) >= workers * AHEAD_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    except BaseException:
        if pool is not None:
            # Chunks still queued are not worth waiting for; a running one ends on its own.
            pool.shutdown(wait=False, cancel_futures=True)
            pool = None
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


# The worker's preparer, set once by `_adopt` (forked: it is the parent's, not a copy sent).
_preparer: Preparer | None = None


def _adopt(preparer: Preparer, parent: int) -> None:
    global _preparer
    _preparer = preparer
    # What the worker inherited is the parent's: its own collections need not walk it again
    # (nor touch, and so copy, the pages it lies on).
    gc.freeze()
    threading.Thread(target=_leave_with, args=(parent,), name="parent-watch", daemon=True).start()


def _leave_with(parent: int) -> None:
    # A parent killed mid-batch never tells its workers: they would wait for chunks forever.
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _prepare(
    batch_no: int,
    start: int,
    items: Sequence[Any] | EncodedChunk,
    layout: ChunkLayout,
) -> StagedChunk:
    assert _preparer is not None, "a preparation worker runs only after _adopt"
    return prepare_chunk(_preparer, batch_no, start, items, layout)
