"""Measuring one step: run it in a fresh process, read what it reports and its peak memory;
and the facts of the machine a measurement was made on.

Every measured step (our sync, each peer) runs in its own child process, so that its peak
resident memory is its own: the kernel's ``ru_maxrss`` of that child, read with ``wait4``.
The child prints one JSON object as its last line of standard output (its seconds, rows and
whatever else it measured); its log goes to standard error, which the harness passes through.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]


#: The longest the harness waits for the server's background work before a measured step.
QUIET_TIMEOUT = 300.0


def quiet(admin_url: str, timeout: float = QUIET_TIMEOUT) -> float:
    """Wait until the PostgreSQL server has written out what the last step left (a CHECKPOINT)
    and no autovacuum worker is at work, so that no measured step pays for an earlier one's
    writes (a peer's million rows, vacuumed and checkpointed during our incremental sync,
    made it three times slower in one run); the seconds waited. Gives up after ``timeout``.
    """
    started = time.monotonic()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        # A role that may not checkpoint still waits for autovacuum.
        with contextlib.suppress(psycopg.errors.InsufficientPrivilege):
            conn.execute("CHECKPOINT")
        while time.monotonic() - started < timeout:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
            ).fetchone()[0]
            if not busy:
                break
            time.sleep(0.5)
    return time.monotonic() - started


class StepFailed(RuntimeError):
    """A measured step's process failed or said nothing we could read."""


@dataclass
class Measurement:
    """One step as measured.

    Attributes:
        name: what was measured ("ours", "raw COPY", "dlt", ...).
        rows: the records it handled.
        seconds: its time, as the step measured it around the work (not process start-up).
        steps: seconds of its parts, in order (e.g. extract, validate, publish).
        peak_rss: the process's peak resident memory, bytes.
        details: anything else the step reported (counts, versions, methods).
    """

    name: str
    rows: int
    seconds: float
    steps: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def peak_with_workers(self) -> int:
        """Its peak RSS plus that of its largest worker process, if it had any."""
        return self.peak_rss + int(self.details.get("children_peak_rss") or 0)

    @property
    def rate(self) -> float:
        """Rows per second."""
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def run_child(name: str, command: list[str], env: dict[str, str] | None = None) -> Measurement:
    """Run one measured step as ``command`` in a fresh process; return its `Measurement`.

    The child's last stdout line is a JSON object with at least ``seconds`` and ``rows``
    (optionally ``steps`` and ``details``).
    """
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, env={**os.environ, **(env or {})}, cwd=ROOT, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()  # the child closes stdout when it exits
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise StepFailed(f"{name}: the process exited with {process.returncode} ({command[:3]})")
    lines = [line for line in output.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1])
    except (IndexError, ValueError) as exc:
        raise StepFailed(f"{name}: no JSON report on the last line of its output") from exc
    return Measurement(
        name=name,
        rows=int(report["rows"]),
        seconds=float(report["seconds"]),
        steps={k: float(v) for k, v in report.get("steps", {}).items()},
        # Linux reports ru_maxrss in KiB.
        peak_rss=usage.ru_maxrss * 1024,
        details=report.get("details", {}),
    )


#: Where CPU time went during a step, by whom (`cpu_times`).
CPU_PARTS = ("task", "workers", "postgres", "machine")


#: How long after a step its server processes' CPU is read: a backend whose connection has just
#: closed is, for a moment, in neither its own figures nor its postmaster's (seen here: a
#: reading at once missed a whole backend's 0.5 s about one time in two; 0.3 s later, never).
SETTLE = 0.3

#: The stability run's last validation: the same records staged again as a second batch,
#: beside the first. Reported, but not one of the same batch's validations whose spread the
#: stability target judges.
BESIDE_LABEL = "a second batch, beside the first"


def cpu_times(*, settle: float = 0.0) -> dict[str, float | None]:
    """CPU seconds spent so far (user and system): by this process (``task``, every thread),
    by its children once they have ended (``workers``), by the PostgreSQL server's processes
    on this machine (``postgres``; None where ``/proc`` does not show them, e.g. a remote
    server), and by the whole machine (``machine``). The difference of two readings says
    where a step's CPU went, and the machine's what the rest (a source's server, the
    system) took. ``settle``: seconds to wait first, after a step (`SETTLE`)."""
    time.sleep(settle)
    tick = os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "task": own.ru_utime + own.ru_stime,
        "workers": children.ru_utime + children.ru_stime,
        "postgres": _postgres_ticks() / tick if Path("/proc/stat").exists() else None,
        "machine": _machine_ticks() / tick if Path("/proc/stat").exists() else None,
    }


def cpu_spent(before: dict[str, float | None], after: dict[str, float | None]) -> dict:
    """What `cpu_times` says was spent between two readings, by part (None: not seen)."""
    return {
        part: None
        if before.get(part) is None or after.get(part) is None
        else round(after[part] - before[part], 3)
        for part in CPU_PARTS
    }


def _machine_ticks() -> int:
    # The first line of /proc/stat: user nice system idle iowait irq softirq steal ...
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields[:8]) - fields[3] - fields[4]


def _postgres_ticks() -> int:
    """User and system ticks of every ``postgres`` process, with its ended children's (a
    backend that has ended counts in its postmaster's)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # ended while we looked: its ticks are its postmaster's now
        name_end = text.rfind(")")
        if text[text.find("(") + 1 : name_end] != "postgres":
            continue
        # After the name: state, ppid, ... utime (14th field of the line), stime, cutime, cstime.
        fields = text[name_end + 2 :].split()
        total += sum(int(value) for value in fields[11:15])
    return total


def report_line(rows: int, seconds: float, steps: dict | None = None, **details: Any) -> str:
    """The JSON line a measured child prints last (see `run_child`).

    It carries the peak RSS of the largest process the child itself started and waited for
    (``children_peak_rss``, bytes; 0 when none): a step that works in worker processes must
    not look lighter than one that works in threads.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return json.dumps(
        {
            "rows": rows,
            "seconds": seconds,
            "steps": steps or {},
            "details": {**details, "children_peak_rss": children},
        },
        default=str,
    )


@dataclass(frozen=True)
class Machine:
    """Where and when the benchmark ran."""

    date: str
    cores: int
    cpu: str
    memory_gib: float
    python: str
    postgres: str
    load_before: str

    @classmethod
    def describe(cls, admin_url: str) -> Machine:
        with psycopg.connect(admin_url) as conn:
            postgres = conn.execute("SHOW server_version").fetchone()[0]
        return cls(
            date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            cores=os.cpu_count() or 0,
            cpu=_cpu_model(),
            memory_gib=_memory_gib(),
            python=platform.python_version(),
            postgres=str(postgres),
            load_before=load_average(),
        )


def load_average() -> str:
    """The 1, 5 and 15-minute load averages (other work on a shared machine shows here)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0.0


def python_module(module: str, *args: str) -> list[str]:
    """The command running ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
