"""Preparing a batch in worker processes changes nothing but the time: the same chunks, in
the same order, with the same row numbers and fixes, as one process prepares them."""

from __future__ import annotations

import gc
import multiprocessing
import os
import weakref

import pytest

from lienthong.pipeline.dataset import Fix
from lienthong.pipeline.preparation import prepare_chunk, staged_chunks, worker_count


class Upper:
    """A preparer: one text column, upper-cased, with a fix where it changed; it notes the
    process that prepared each row."""

    def prepare(self, row_no, item):
        fixed = item.upper()
        fixes = [Fix("X-1", "name", item, fixed)] if fixed != item else []
        return (row_no, fixed, os.getpid()), fixes


class BreaksOn:
    def __init__(self, bad: str) -> None:
        self.bad = bad

    def prepare(self, row_no, item):
        if item == self.bad:
            raise ValueError(f"cannot prepare row {row_no}: {item!r}")
        return (row_no, item), []


def _chunks(count: int, size: int):
    items = [f"name {n}" if n % 3 else f"NAME {n}" for n in range(count)]
    return [items[start : start + size] for start in range(0, count, size)]


def _rows(staged) -> list[list[str]]:
    """The COPY text's rows, the preparing process's pid left out."""
    return [line.split("\t")[:3] for chunk in staged for line in chunk.rows.decode().splitlines()]


def test_workers_prepare_the_same_rows_in_the_same_order_as_one_process():
    chunks = _chunks(1000, 37)
    alone = list(staged_chunks(Upper(), 7, chunks, workers=1))
    spread = list(staged_chunks(Upper(), 7, chunks, workers=2, workers_from=100))

    assert [c.count for c in spread] == [len(c) for c in chunks]
    assert _rows(spread) == _rows(alone)
    assert _rows(alone)[:2] == [["7", "0", "NAME 0"], ["7", "1", "NAME 1"]]
    assert [c.fixes for c in spread] == [c.fixes for c in alone]
    assert sum(c.fixes.count(b"\n") for c in alone) == len([n for n in range(1000) if n % 3])
    # The first 100 items (three chunks of 37) were prepared here, the rest elsewhere.
    pids = [{line.split("\t")[3] for line in chunk.rows.decode().splitlines()} for chunk in spread]
    assert all(p == {str(os.getpid())} for p in pids[:3])
    assert all(str(os.getpid()) not in p for p in pids[3:])
    assert len(set().union(*pids[3:])) == 2


def _prepared_here(staged) -> list[bool]:
    """Per chunk: whether this process prepared it."""
    here = str(os.getpid())
    return [
        {line.split("\t")[3] for line in chunk.rows.decode().splitlines()} == {here}
        for chunk in staged
    ]


@pytest.mark.parametrize(
    ("announced", "chunks_here"),
    [
        (1000, 1),  # announced large: workers from the second chunk
        (100, 1),  # exactly the threshold is large
        (99, 3),  # announced small: here until 100 items are read
        (None, 3),  # not announced (yet): the same
    ],
)
def test_a_batch_announced_large_goes_to_workers_after_its_first_chunk(announced, chunks_here):
    chunks = _chunks(300, 37)
    asked = []

    def announced_total():
        asked.append(True)
        return announced

    spread = list(
        staged_chunks(Upper(), 7, chunks, workers=2, workers_from=100, announced=announced_total)
    )
    here = _prepared_here(spread)
    assert here == [True] * chunks_here + [False] * (len(chunks) - chunks_here)
    assert _rows(spread) == _rows(staged_chunks(Upper(), 7, chunks, workers=1))
    assert asked  # asked as the chunks came, not once before them


def test_an_error_in_a_worker_is_raised_at_its_chunk():
    chunks = _chunks(500, 50)
    seen = []
    with pytest.raises(ValueError, match=r"cannot prepare row 322: 'name 322'"):
        for chunk in staged_chunks(BreaksOn("name 322"), 1, chunks, workers=2, workers_from=0):
            seen.append(chunk.count)
    assert sum(seen) == 300  # every chunk before the broken one came through, in order


def test_the_number_of_workers_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("LIENTHONG_PREPARE_WORKERS", raising=False)
    assert worker_count() == (os.cpu_count() or 1)
    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "3")
    assert worker_count() == 3
    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "two")
    with pytest.raises(ValueError, match="LIENTHONG_PREPARE_WORKERS is 'two'"):
        worker_count()
    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        worker_count()


def test_an_item_that_cannot_reach_a_worker_is_an_error_not_a_hang():
    chunks = [["a", "b"], ["c", (lambda: "not picklable")], ["d"]]
    with pytest.raises(Exception, match="pickle"):
        list(staged_chunks(BreaksOn("never"), 1, chunks, workers=2, workers_from=0))


def _stage_in_a_daemon(results) -> None:
    chunks = _chunks(300, 50)
    results.put(_rows(staged_chunks(Upper(), 1, chunks, workers=2, workers_from=0)))


def test_a_daemonic_process_prepares_in_itself():
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    daemon = context.Process(target=_stage_in_a_daemon, args=(results,), daemon=True)
    daemon.start()
    rows = results.get(timeout=30)
    daemon.join(timeout=30)
    assert daemon.exitcode == 0
    assert rows == _rows(staged_chunks(Upper(), 1, _chunks(300, 50), workers=1))


def test_items_that_break_the_contract_cross_to_workers_unchanged():
    # What a careless or hostile API sends reaches a worker as it came: a key given twice,
    # an item too deep to parse, NaN, a lone surrogate, an item that is not an object.
    from lienthong.ministry.page import parse_page
    from lienthong.population.contract import Preparer

    body = (
        '{"items": [{"personal_id": "001", "personal_id": "002", "updated_at": 5},'
        ' {"full_name": NaN}, {"full_name": "\\ud800"}, 7, "text",'
        f' {{"deep": {"[" * 40}{"]" * 40}}}],'
        ' "next_cursor": null, "total": 6}'
    ).encode()
    items = parse_page(body).items
    chunks = [items[:3], items[3:]]
    alone = list(staged_chunks(Preparer(), 1, chunks, workers=1))
    spread = list(staged_chunks(Preparer(), 1, chunks, workers=2, workers_from=0))

    assert [c.rows for c in spread] == [c.rows for c in alone]
    text = b"".join(c.rows for c in spread).decode()
    assert "personal_id: the key occurs more than once" in text
    assert "is not a JSON number" in text and "invalid Unicode" in text
    assert "not an object" in text and "nested deeper than" in text


class NotesCollector:
    """A preparer that notes whether Python's cyclic collector was on, and how many objects
    the worker's collector may still walk."""

    def prepare(self, row_no, item):
        return (row_no, gc.isenabled(), gc.get_freeze_count() > 0), []


class TrackedFixes(list):
    """A row's fixes that can be watched for being freed."""


class Tracked:
    """A preparer whose rows' fixes are watched (by weak references) for being freed."""

    def __init__(self) -> None:
        self.fixes: list[weakref.ref] = []

    def prepare(self, row_no, item):
        fixes = TrackedFixes([Fix("X-1", "name", item, item.upper())])
        self.fixes.append(weakref.ref(fixes))
        return (row_no, item), fixes


def test_a_chunks_rows_are_freed_before_the_collector_resumes():
    # Resumed with a chunk's rows still alive, the collector walked them all for nothing at
    # its next allocation (a sixth of a population chunk's preparation).
    preparer = Tracked()
    alive_when_collecting: list[int] = []

    def watch(phase, info):
        if phase == "start":
            alive_when_collecting.append(sum(ref() is not None for ref in preparer.fixes))

    gc.callbacks.append(watch)
    try:
        staged = prepare_chunk(preparer, 1, 0, [f"name {i}" for i in range(3000)])
        # Enough allocations since the chunk began that the collector runs at the next ones.
        for _ in range(2000):
            [[] for _ in range(5)]
    finally:
        gc.callbacks.remove(watch)
    assert staged.count == 3000 and len(preparer.fixes) == 3000
    assert alive_when_collecting, "the collector never ran"
    assert max(alive_when_collecting) == 0


def test_the_collector_is_paused_while_a_chunk_is_prepared_and_back_after():
    assert gc.isenabled() and gc.get_freeze_count() == 0
    # In this process (the first chunk) and in workers, whose inherited objects are frozen.
    chunks = _chunks(200, 50)
    staged = list(staged_chunks(NotesCollector(), 3, chunks, workers=2, workers_from=50))
    rows = [line.split("\t") for chunk in staged for line in chunk.rows.decode().splitlines()]
    assert len(rows) == 200
    assert {row[2] for row in rows} == {"f"}  # never enabled during a chunk
    # What this process held when the loop began is frozen while it runs, and thawed after.
    assert {row[3] for row in rows} == {"t"}
    assert gc.isenabled() and gc.get_freeze_count() == 0
    # A chunk that fails leaves the collector on and the heap thawed.
    with pytest.raises(ValueError):
        list(staged_chunks(BreaksOn("name 4"), 1, _chunks(10, 10), workers=1))
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_heap_frozen_before_the_loop_is_left_frozen():
    gc.freeze()
    try:
        assert gc.get_freeze_count() > 0
        staged = list(staged_chunks(NotesCollector(), 1, _chunks(10, 10), workers=1))
        assert staged[0].count == 10
        # Still frozen (frozen objects freed meanwhile leave it, so the count may fall).
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
