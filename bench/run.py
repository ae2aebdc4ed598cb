"""The harness: for each dataset and size, the same records through our sync and every peer,
in one run, each measured in a fresh process.

Per dataset and size:

1. the records are generated once into a JSON-lines file (and flattened into a CSV file for
   raw COPY); none of this is timed;
2. `bench.server` serves them over loopback from another process;
3. measured, one after another: raw COPY of the CSV file; our whole sync (full); dlt; the
   pandas baseline. Ours and the peers read the same pages of the same server;
4. 1 % of the records get a new version (stamped after the full sync) and the server restarts
   with them; our incremental sync is measured;
5. stability: in a fresh warehouse, one batch is staged (under cProfile at the largest size)
   and validated three times (see `bench.ours`).

Our sync and the stability run each get their own warehouse database, cloned from a template
migrated once per run; each peer loads a database of its own. All are dropped at the end.
"""

from __future__ import annotations

import csv
import json
import re
import secrets
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import requests
from psycopg import sql

from bench.datasets import DATASETS, BenchDataset
from bench.measure import Machine, Measurement, load_average, python_module, run_child
from bench.peers import dlt_peer, pandas_gx, raw_copy
from bench.server import ServerProcess

#: Peers by the name the command line and the report use.
PEERS = ("raw COPY", "dlt", "pandas + GX")
PEER_OPTIONS = {"copy": "raw COPY", "dlt": "dlt", "pandas": "pandas + GX"}


@dataclass(frozen=True)
class Config:
    """What to run.

    Attributes:
        admin_url: a PostgreSQL server where the benchmark may create databases.
        datasets: names from `bench.datasets.DATASETS`.
        sizes: record counts for every dataset; None for each dataset's own sizes.
        peers: which of `PEERS` to run.
        page_size: the API page size our sync and the peers ask for.
        changed_fraction: the share of records changed before the incremental sync.
        profile: profile the extraction at each dataset's largest size.
        workdir: where the record files go (a temporary folder when None).
        keep: keep the workdir and the databases.
    """

    admin_url: str
    datasets: tuple[str, ...] = ("population",)
    sizes: tuple[int, ...] | None = None
    peers: tuple[str, ...] = PEERS
    page_size: int = 5000
    changed_fraction: float = 0.01
    profile: bool = True
    workdir: Path | None = None
    keep: bool = False

    def sizes_of(self, dataset: BenchDataset) -> tuple[int, ...]:
        return self.sizes or dataset.sizes


@dataclass
class SizeResult:
    """Everything measured for one dataset at one size."""

    dataset: str
    rows: int
    full: Measurement
    incremental: Measurement
    stability: Measurement
    peers: dict[str, Measurement] = field(default_factory=dict)
    changed: int = 0
    serving_rate: float = 0.0


@dataclass
class BenchResults:
    """One run of the benchmark."""

    machine: Machine
    config: Config
    sizes: list[SizeResult] = field(default_factory=list)
    load_after: str = ""
    dlt_method: str = ""


def say(message: str) -> None:
    """A line of the harness's own progress, on stderr."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_bench(config: Config) -> BenchResults:
    """Run every dataset at every size; return what was measured."""
    results = BenchResults(Machine.describe(config.admin_url), config)
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="lienthong-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    dlt_python = dlt_peer.ensure_dlt_venv() if "dlt" in config.peers else None
    try:
        with _databases(config, uuid.uuid4().hex[:8]) as databases:
            template = databases.create("template")
            _migrate(databases.url(template))
            for name in config.datasets:
                dataset = DATASETS[name]
                sizes = config.sizes_of(dataset)
                for rows in sizes:
                    run = _SizeRun(config, dataset, rows, workdir, databases, template)
                    profile = config.profile and rows == max(sizes)
                    results.sizes.append(run.measure(dlt_python, profile))
    finally:
        if not config.keep and config.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    results.load_after = load_average()
    results.dlt_method = next(
        (s.peers["dlt"].details.get("method", "") for s in results.sizes if "dlt" in s.peers), ""
    )
    return results


class _Databases:
    """The run's databases on the admin server, to drop at the end."""

    def __init__(self, admin_url: str, run_id: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"lt_bench_{run_id}"
        self.created: list[str] = []

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{suffix}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)
        self.created.append(name)
        return name

    def drop(self, name: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        self.created.remove(name)

    def url(self, name: str) -> str:
        from lienthong.warehouse.connection import with_database

        return with_database(self.admin_url, name)


@contextmanager
def _databases(config: Config, run_id: str) -> Iterator[_Databases]:
    databases = _Databases(config.admin_url, run_id)
    try:
        yield databases
    finally:
        if not config.keep:
            for name in list(databases.created):
                databases.drop(name)


def _migrate(url: str) -> None:
    from lienthong.warehouse.bootstrap import ensure_ready

    with psycopg.connect(url, autocommit=True) as conn:
        ensure_ready(conn)


class _SizeRun:
    """One dataset at one size: its records, its server, its databases, its measurements."""

    def __init__(
        self,
        config: Config,
        dataset: BenchDataset,
        rows: int,
        workdir: Path,
        databases: _Databases,
        template: str,
    ) -> None:
        self.config = config
        self.dataset = dataset
        self.rows = rows
        self.folder = workdir / f"{dataset.name}-{rows}"
        self.folder.mkdir(exist_ok=True)
        self.databases = databases
        self.template = template
        self.token = secrets.token_hex(16)
        self.items = self.folder / "items.jsonl"

    def measure(self, dlt_python: Path | None, profile: bool) -> SizeResult:
        """Everything for this size, in order (see the module docstring)."""
        name, rows = self.dataset.name, self.rows
        say(f"{name} at {rows:,} records: generating")
        generated = self.dataset.write_items(
            self.items, rows, datetime.now(UTC) - timedelta(minutes=1)
        )
        ours_db = self._database("ours", template=True)
        peers: dict[str, Measurement] = {}
        with ServerProcess([self.items], self.token) as server:
            serving_rate = _serving_rate(server, self.dataset.api_path, self.config.page_size)
            say(f"  API server up ({server.items:,} items, serves {serving_rate:,.0f} items/s)")
            if "raw COPY" in self.config.peers:
                peers["raw COPY"] = _said("raw COPY", self._raw_copy())
            full = _said("ours, full sync", self._ours("sync", "full", ours_db, server, "--full"))
            if "dlt" in self.config.peers:
                assert dlt_python is not None
                peers["dlt"] = _said("dlt", self._dlt(dlt_python, server))
            if "pandas + GX" in self.config.peers:
                peers["pandas + GX"] = _said("pandas + GX", self._pandas(server))

        changes = self.folder / "changes.jsonl"
        # Stamped after the full sync's watermark (at most its start) and not in the future.
        stamp = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
        time.sleep(1.1)
        changed = self.dataset.write_changes(
            self.items, changes, self.config.changed_fraction, stamp
        )
        with ServerProcess([self.items, changes], self.token) as server:
            incremental = _said(
                f"ours, incremental sync ({changed:,} records changed)",
                self._ours("sync", "incremental", ours_db, server),
            )
            extra = ("--profile-top", "25") if profile else ()
            stability_db = self._database("stability", template=True)
            stability = self._ours("stability", "stability", stability_db, server, *extra)
            say("  stability: " + ", ".join(f"{k} {v:.1f} s" for k, v in stability.steps.items()))
        if not self.config.keep:
            for database in self._created:
                self.databases.drop(database)
        return SizeResult(
            dataset=name,
            rows=generated,
            full=full,
            incremental=incremental,
            stability=stability,
            peers=peers,
            changed=changed,
            serving_rate=serving_rate,
        )

    @property
    def _prefix(self) -> str:
        return f"{self.databases.prefix}_{self.dataset.name}_{self.rows}_"

    @property
    def _created(self) -> list[str]:
        return [name for name in self.databases.created if name.startswith(self._prefix)]

    def _database(self, role: str, *, template: bool = False) -> str:
        return self.databases.create(
            f"{self.dataset.name}_{self.rows}_{role}", self.template if template else None
        )

    def _ours(
        self, mode: str, kind: str, database: str, server: ServerProcess, *extra: str
    ) -> Measurement:
        name = self.dataset.name
        source = {"dataset": name, "conn_id": f"bench_{name}", "page_size": self.config.page_size}
        env = {
            "LIENTHONG_WAREHOUSE_URL": self.databases.url(database),
            f"AIRFLOW_CONN_BENCH_{name.upper()}": server.airflow_connection(),
            "AIRFLOW_HOME": str(self.folder / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        batch_key = f"bench:{name}:{self.rows}:{kind}"
        command = python_module(
            "bench.ours", mode, "--source", json.dumps(source), "--batch-key", batch_key, *extra
        )
        return run_child(f"ours {mode}", command, env)

    def _raw_copy(self) -> Measurement:
        flat = self.folder / "flat.csv"
        with flat.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows(self.dataset.flat_rows(self.items))
        return raw_copy.measure(
            flat,
            f"peers.raw_{self.dataset.name}",
            self.dataset.flat_columns,
            self.databases.url(self._database("copy")),
        )

    def _dlt(self, python: Path, server: ServerProcess) -> Measurement:
        return dlt_peer.measure(
            python,
            server.url,
            self.dataset.api_path,
            server.token,
            self.config.page_size,
            f"dlt_{self.dataset.name}",
            self.folder / "dlt",
            self.databases.url(self._database("dlt")),
        )

    def _pandas(self, server: ServerProcess) -> Measurement:
        return pandas_gx.measure(
            self.dataset.name,
            server.url + self.dataset.api_path,
            server.token,
            self.config.page_size,
            f"peers.pandas_{self.dataset.name}",
            self.databases.url(self._database("pandas")),
        )


def _said(label: str, measured: Measurement) -> Measurement:
    say(
        f"  {label}: {measured.rows:,} rows in {measured.seconds:.1f} s"
        f" ({measured.rate:,.0f} rows/s, peak {measured.peak_rss / 2**20:,.0f} MiB)"
    )
    return measured


_CURSOR = re.compile(rb'"next_cursor": (?:null|"([^"]*)")')


def _serving_rate(server: ServerProcess, path: str, page_size: int) -> float:
    """Items per second the server delivers to a client that does not parse them (so the
    reader is not what is measured): the ceiling it puts on any sync."""
    params: dict[str, object] = {"limit": page_size}
    started = time.perf_counter()
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {server.token}"
        while True:
            body = session.get(server.url + path, params=params, timeout=300).content
            match = _CURSOR.search(body, max(0, len(body) - 400))
            if match is None or match.group(1) is None:
                break
            params["cursor"] = match.group(1).decode()
    seconds = time.perf_counter() - started
    return server.items / seconds if seconds else 0.0
