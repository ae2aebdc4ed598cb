"""Progress of a long step in the task log: rows so far of the announced total, rows per
second and the time left, at a steady interval, and a final line with rows and seconds."""

from __future__ import annotations

import logging
import time


class Progress:
    """Reports one step's progress to ``log`` at most every ``interval`` seconds."""

    def __init__(self, step: str, log: logging.Logger, *, interval: float = 30.0) -> None:
        self.step = step
        self.log = log
        self.interval = interval
        self.started = self._last = time.monotonic()

    def update(self, rows: int, total: int | None) -> None:
        """Note that ``rows`` are done; log a line when the interval has passed."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self.started
        rate = rows / elapsed if elapsed else 0.0
        if total:
            left = (total - rows) / rate if rate and total > rows else 0.0
            self.log.info(
                "%s: %s of %s rows (%.1f%%), %.0f rows/s, about %.0f s left",
                self.step,
                f"{rows:,}",
                f"{total:,}",
                100 * rows / total,
                rate,
                left,
            )
        else:
            self.log.info("%s: %s rows, %.0f rows/s", self.step, f"{rows:,}", rate)

    def done(self, rows: int) -> None:
        """The step's final line: rows and seconds."""
        elapsed = time.monotonic() - self.started
        self.log.info(
            "%s: done, %s rows in %.1f s (%.0f rows/s)",
            self.step,
            f"{rows:,}",
            elapsed,
            rows / elapsed if elapsed else 0.0,
        )
