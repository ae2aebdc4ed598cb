"""A registry application writing while lienthong extracts: the adversary of rule E-L1.

`RegistryWriter` plays the provincial registry's application on a real database, in threads:
each transaction stamps ``updated_at`` with the application's clock (whole seconds, so many
rows share one), inserts a batch of new events, corrects events or soft-deletes one, and some
transactions sleep before they commit (a *late commit*: the row becomes visible with an
``updated_at`` older than rows other threads committed meanwhile). The contract allows 60 s of
such delay; tests scale it down to ``max_commit_delay`` seconds and extract with a matching
small ``commit_lag``.

The writer records what it committed: ``truth`` is every event's newest committed version,
what a complete, exactly-once extraction must end up with. Each thread owns its events (no
two threads write one event), so the order of an event's versions is the order in which its
thread committed them, and the record is exact. A correction is written only when the clock
has moved past the event's last ``updated_at``, so two versions of one event never share one
(they would be indistinguishable to any reader keyed on ``(event_id, updated_at)``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from lienthong_demo.registry import EventFactory, civil_events_table, driver_values
from lienthong_demo.registry_databases import registry_hook

log = logging.getLogger(__name__)


class RegistryWriter:
    """Threads inserting, correcting and soft-deleting ``civil_events`` rows, with late commits.

    Args:
        url: the registry database (an account that may write), as a URI.
        province_code: province whose communes the events are registered in.
        seed: seeds every thread's choices (the timing still depends on the machine).
        threads: concurrent writers, each with its own connection.
        transactions: transactions per thread before it stops by itself.
        max_commit_delay: longest sleep, in seconds, between writing and committing.
        late_share: share of transactions that sleep before committing.
        batch_max: most new events one insert transaction writes (all with one updated_at).
        pause: longest pause, in seconds, between two transactions of a thread.
    """

    def __init__(
        self,
        url: str,
        *,
        province_code: str = "01",
        seed: int = 1,
        threads: int = 3,
        transactions: int = 40,
        max_commit_delay: float = 1.5,
        late_share: float = 0.3,
        batch_max: int = 6,
        pause: float = 0.05,
    ) -> None:
        self.url = url
        self.province_code = province_code
        self.seed = seed
        self.transactions = transactions
        self.max_commit_delay = max_commit_delay
        self.late_share = late_share
        self.batch_max = batch_max
        self.pause = pause
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(n,), name=f"registry-writer-{n}", daemon=True)
            for n in range(threads)
        ]
        self._errors: list[BaseException] = []
        self._truth: dict[str, dict[str, Any]] = {}
        self._committed: list[dict[str, Any]] = []
        self.late_commits = 0
        self.aborted = 0

    # -- control -----------------------------------------------------------------------------

    def start(self) -> RegistryWriter:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Ask every thread to stop after its current transaction."""
        self._stop.set()

    def join(self) -> None:
        """Wait for every thread; re-raise the first error one of them hit."""
        for thread in self._threads:
            thread.join()
        if self._errors:
            raise self._errors[0]

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def __enter__(self) -> RegistryWriter:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        self.join()

    # -- what was committed ------------------------------------------------------------------

    @property
    def truth(self) -> dict[str, dict[str, Any]]:
        """event_id → its newest committed version (values as an extraction yields them)."""
        with self._lock:
            return {event_id: dict(values) for event_id, values in self._truth.items()}

    @property
    def committed(self) -> list[dict[str, Any]]:
        """Every committed version, in commit order."""
        with self._lock:
            return [dict(values) for values in self._committed]

    @property
    def last_updated_at(self) -> datetime | None:
        """The newest ``updated_at`` committed so far."""
        with self._lock:
            return max((v["updated_at"] for v in self._committed), default=None)

    # -- one thread ----------------------------------------------------------------------------

    def _run(self, number: int) -> None:
        rng = random.Random(self.seed * 1000 + number)
        factory = EventFactory(rng, self.province_code)
        engine = registry_hook(self.url).get_sqlalchemy_engine()
        table = civil_events_table()
        own: dict[str, dict[str, Any]] = {}  # this thread's events, newest committed version
        serial = 0
        try:
            with engine.connect() as conn:
                if conn.dialect.name != "postgresql":
                    # Fewer gap locks between threads inserting into one index.
                    conn.execution_options(isolation_level="READ COMMITTED")
                for _ in range(self.transactions):
                    if self._stop.is_set():
                        break
                    # The application's clock, to the second, when it writes.
                    stamp = datetime.now(UTC).replace(microsecond=0)
                    rows, serial = self._draw(rng, factory, own, stamp, number, serial)
                    if not rows:
                        continue
                    late = rng.random() < self.late_share
                    delay = rng.uniform(0, self.max_commit_delay) if late else 0.0
                    try:
                        for action, values in rows:
                            row = driver_values(values, loose=False)
                            if action == "insert":
                                conn.execute(sa.insert(table), [row])
                            else:
                                conn.execute(
                                    sa.update(table)
                                    .where(table.c.event_id == row["event_id"])
                                    .values({k: v for k, v in row.items() if k != "event_id"})
                                )
                        if delay:
                            time.sleep(delay)
                        conn.commit()
                    except sa.exc.DBAPIError as exc:
                        # A deadlock or lock timeout: nothing was committed, nothing recorded.
                        conn.rollback()
                        log.warning("writer %d: transaction rolled back: %s", number, exc.orig)
                        with self._lock:
                            self.aborted += 1
                        continue
                    with self._lock:
                        if late:
                            self.late_commits += 1
                        for _, values in rows:
                            self._truth[values["event_id"]] = values
                            self._committed.append(values)
                    for _, values in rows:
                        own[values["event_id"]] = values
                    time.sleep(rng.uniform(0, self.pause))
        except BaseException as exc:
            with self._lock:
                self._errors.append(exc)
        finally:
            engine.dispose()

    def _draw(
        self,
        rng: random.Random,
        factory: EventFactory,
        own: dict[str, dict[str, Any]],
        stamp: datetime,
        number: int,
        serial: int,
    ) -> tuple[list[tuple[str, dict[str, Any]]], int]:
        """The (action, values) rows of one transaction, and the next serial."""
        # Only events whose last version is older than this second can take a new version.
        movable = sorted(
            event_id
            for event_id, values in own.items()
            if values["updated_at"] < stamp and values["is_deleted"] is False
        )
        roll = rng.random()
        if not movable or roll < 0.5:
            rows = []
            for _ in range(rng.randint(1, self.batch_max)):
                event_id = f"W{self.seed}-{number}-{serial:06d}"
                serial += 1
                if rng.random() < 0.6:
                    values = factory.birth(event_id, stamp)
                else:
                    values, _ = factory.death(event_id, stamp)
                rows.append(("insert", values))
            return rows, serial
        if roll < 0.85:
            chosen = rng.sample(movable, k=min(len(movable), rng.randint(1, 3)))
            return [("update", factory.corrected(own[e], stamp)) for e in chosen], serial
        event_id = rng.choice(movable)
        return [("update", dict(own[event_id], updated_at=stamp, is_deleted=True))], serial
