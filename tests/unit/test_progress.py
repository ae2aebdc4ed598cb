"""Progress lines a person watching a long extraction reads in the task log."""

from __future__ import annotations

import logging

from lienthong.pipeline.progress import Progress


def test_progress_says_how_far_how_fast_and_how_long_is_left(caplog):
    log = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        progress = Progress("population batch 7: extract", log, interval=0.0)
        progress.update(250_000, 1_000_000)
        progress.update(500_000, None)
        progress.done(1_000_000)
    first, second, last = (record.getMessage() for record in caplog.records)
    assert first.startswith("population batch 7: extract: 250,000 of 1,000,000 rows (25.0%)")
    assert "rows/s" in first and "s left" in first
    assert second.startswith("population batch 7: extract: 500,000 rows,")
    assert last.startswith("population batch 7: extract: done, 1,000,000 rows in ")


def test_progress_keeps_quiet_between_intervals(caplog):
    log = logging.getLogger("test.progress")
    with caplog.at_level(logging.INFO, logger="test.progress"):
        progress = Progress("step", log, interval=3600)
        for rows in range(0, 100_000, 5000):
            progress.update(rows, 100_000)
    assert caplog.records == []
