"""The harness: for each dataset and size, the same records through our sync and every peer,
in one run, each measured in a fresh process.

Per size of an API-served dataset (population):

1. the records are generated once, in a process of their own (`bench.records`), into a
   JSON-lines file (and flattened into a CSV file for raw COPY); none of this is timed;
2. `bench.server` serves them over loopback from another process;
3. measured, one after another: raw COPY of the CSV file; our whole sync (full); dlt; the
   pandas baseline. Ours and the peers read the same pages of the same server;
4. 1 % of the records get a new version (stamped after the full sync) and the server restarts
   with them; our incremental sync is measured;
5. stability: in a fresh warehouse, one batch is staged (under cProfile at the largest size)
   and validated three times, then staged again beside the first and validated (see
   `bench.ours`).

Per size of a file-landed dataset (dossiers):

1. the records are generated once, in a process of their own, as a landed export (file and
   manifest) under a landing root, with the citizens its applicants are; the citizens are
   published into the warehouse by a population sync of their own (into a database the
   others are cloned from); the export's rows are flattened for raw COPY; none of this is
   timed;
2. measured, one after another: raw COPY; our whole sync, taking the file from a copy of the
   landing folder (our sync moves what it took to the archive); dlt and the pandas baseline,
   reading the same file;
3. no incremental sync: a file source's batch is one file, there is no watermark to sync from;
4. stability, as above, on another copy of the landing folder.

Per size of a registry-read dataset (civil_events):

1. the records are generated once, in a process of their own, into a registry table in a
   database of its own on the benchmark's server, and flattened for raw COPY; none of this is
   timed;
2. measured, one after another: raw COPY; our whole sync (full), reading the registry through
   its Airflow connection as the DAG does; no other peer reads a registry;
3. 1 % of the rows get a new version (stamped by the registry's clock after the full sync);
   our incremental sync is measured;
4. stability, as above, reading the same registry.

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
from bench.measure import (
    Machine,
    Measurement,
    StepFailed,
    load_average,
    python_module,
    quiet,
    run_child,
)
from bench.peers import dlt_peer, pandas_gx, raw_copy
from bench.records import write_records
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
    datasets: tuple[str, ...] = tuple(DATASETS)
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
    """Everything measured for one dataset at one size (``incremental`` None for a file
    dataset, which has none; ``serving_rate`` 0 when there was no API; ``applicants``: the
    citizens published first for a dataset whose rules look them up)."""

    dataset: str
    rows: int
    full: Measurement
    incremental: Measurement | None
    stability: Measurement
    peers: dict[str, Measurement] = field(default_factory=dict)
    changed: int = 0
    serving_rate: float = 0.0
    file_landed: bool = False
    registry: bool = False
    applicants: int = 0


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
        (
            s.peers["dlt"].details.get("method", "")
            for s in sorted(results.sizes, key=lambda s: s.file_landed)
            if "dlt" in s.peers
        ),
        "",
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
        if self.dataset.file_landed:
            result = self._measure_file(dlt_python, profile)
        elif self.dataset.registry:
            result = self._measure_registry(profile)
        else:
            result = self._measure_api(dlt_python, profile)
        if not self.config.keep:
            for database in self._created:
                self.databases.drop(database)
        return result

    def _measure_api(self, dlt_python: Path | None, profile: bool) -> SizeResult:
        name, rows = self.dataset.name, self.rows
        assert self.dataset.api_path is not None and self.dataset.write_changes is not None
        say(f"{name} at {rows:,} records: generating")
        generated = write_records(name, self.items, rows, datetime.now(UTC) - timedelta(minutes=1))
        ours_db = self._database("ours", self.template)
        peers: dict[str, Measurement] = {}
        with ServerProcess([self.items], self.token) as server:
            serving_rate = _serving_rate(server, self.dataset.api_path, self.config.page_size)
            say(f"  API server up ({server.items:,} items, serves {serving_rate:,.0f} items/s)")
            if "raw COPY" in self.config.peers:
                peers["raw COPY"] = _said("raw COPY", self._raw_copy(self.items))
            full = _said(
                "ours, full sync", self._ours("sync", "full", ours_db, self._api(server), "--full")
            )
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
            source = self._api(server)
            incremental = self._incremental(ours_db, source, changed)
            stability = self._stability(self.template, source, profile)
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

    def _measure_file(self, dlt_python: Path | None, profile: bool) -> SizeResult:
        name, rows = self.dataset.name, self.rows
        assert self.dataset.export_file is not None
        say(f"{name} at {rows:,} records: generating")
        root = self.folder / "export"
        generated = write_records(name, root, rows, datetime.now(UTC))
        data = self.dataset.export_file(root)
        say(f"  landed {data.name} ({data.stat().st_size / 2**20:,.1f} MiB) and its manifest")
        base, applicants = self._with_applicants(root)
        peers: dict[str, Measurement] = {}
        if "raw COPY" in self.config.peers:
            peers["raw COPY"] = _said("raw COPY", self._raw_copy(root))
        ours_db = self._database("ours", base)
        full = _said(
            "ours, full sync",
            self._ours("sync", "full", ours_db, self._landed(root, "full"), "--full"),
        )
        if "dlt" in self.config.peers:
            assert dlt_python is not None
            peers["dlt"] = _said("dlt", self._dlt(dlt_python, None, data))
        if "pandas + GX" in self.config.peers:
            peers["pandas + GX"] = _said("pandas + GX", self._pandas(None, data))
        say("  no incremental sync: a file source's batch is one file")
        stability = self._stability(base, self._landed(root, "stability"), profile)
        return SizeResult(
            dataset=name,
            rows=generated,
            full=full,
            incremental=None,
            stability=stability,
            peers=peers,
            file_landed=True,
            applicants=applicants,
        )

    def _measure_registry(self, profile: bool) -> SizeResult:
        name, rows = self.dataset.name, self.rows
        assert self.dataset.write_changes is not None
        say(f"{name} at {rows:,} records: generating")
        registry = self.databases.url(self._database("registry"))
        generated = write_records(name, registry, rows, datetime.now(UTC))
        say(f"  registry of {generated:,} rows in its own database")
        peers: dict[str, Measurement] = {}
        if "raw COPY" in self.config.peers:
            peers["raw COPY"] = _said("raw COPY", self._raw_copy(registry))
        ours_db = self._database("ours", self.template)
        source = self._registry(registry)
        full = _said("ours, full sync", self._ours("sync", "full", ours_db, source, "--full"))
        say("  no other peer reads a registry")
        changed = self.dataset.write_changes(registry, self.config.changed_fraction)
        # Behind the registry's clock by more than our read's commit lag.
        time.sleep(float(self.dataset.commit_lag_seconds or 0) + 1.1)
        incremental = self._incremental(ours_db, source, changed)
        stability = self._stability(self.template, source, profile)
        return SizeResult(
            dataset=name,
            rows=generated,
            full=full,
            incremental=incremental,
            stability=stability,
            peers=peers,
            changed=changed,
            registry=True,
        )

    def _incremental(self, database: str, source: tuple[dict, dict], changed: int) -> Measurement:
        """Our incremental sync into ``database``, after ``changed`` records changed."""
        return _said(
            f"ours, incremental sync ({changed:,} records changed)",
            self._ours("sync", "incremental", database, source),
        )

    def _stability(self, template: str, source: tuple[dict, dict], profile: bool) -> Measurement:
        """The stability run (see `bench.ours`) in a warehouse cloned from ``template``, its
        extraction profiled when ``profile``."""
        extra = ("--profile-top", "25") if profile else ()
        database = self._database("stability", template)
        stability = self._ours("stability", "stability", database, source, *extra)
        _said_stability(stability)
        return stability

    def _with_applicants(self, root: Path) -> tuple[str, int]:
        """The database our syncs start from, and how many citizens it holds: the template,
        or for a dataset with applicants a clone of it where a population sync (not timed)
        published them."""
        if self.dataset.applicants is None:
            return self.template, 0
        base = self._database("base", self.template)
        with ServerProcess([self.dataset.applicants(root)], self.token) as server:
            source = {
                "dataset": "population",
                "conn_id": "bench_population",
                "page_size": self.config.page_size,
            }
            env = {"AIRFLOW_CONN_BENCH_POPULATION": server.airflow_connection()}
            done = self._ours("sync", "applicants", base, (source, env), "--full")
        status = done.details.get("status")
        if status != "published" or done.details.get("published") != done.rows:
            raise StepFailed(f"publishing the applicants: batch {status}, {done.details}")
        say(f"  {done.rows:,} applicants published into core.population (not timed)")
        return base, done.rows

    def _landed(self, root: Path, kind: str) -> tuple[dict, dict]:
        """A fresh copy of the landing folder for one of our runs (a run moves the file it
        took to the archive beside the folder); the file Source's fields."""
        assert self.dataset.landing_folder is not None
        folder = self.dataset.landing_folder(root)
        copy = self.folder / f"landing-{kind}" / folder.relative_to(root)
        shutil.rmtree(copy.parent, ignore_errors=True)
        shutil.copytree(folder, copy)
        source = {"dataset": self.dataset.name, "province": self.dataset.province}
        return source | {"path": str(copy)}, {}

    def _registry(self, url: str) -> tuple[dict, dict]:
        """The registry Source's fields, and the environment naming its Airflow connection
        (the registry's URL as the connection's URI)."""
        name = self.dataset.name
        source = {
            "dataset": name,
            "province": self.dataset.province,
            "conn_id": f"bench_{name}",
            "commit_lag_seconds": self.dataset.commit_lag_seconds,
        }
        return source, {f"AIRFLOW_CONN_BENCH_{name.upper()}": url}

    def _api(self, server: ServerProcess) -> tuple[dict, dict]:
        """The API Source's fields, and the environment naming its Airflow connection."""
        name = self.dataset.name
        source = {"dataset": name, "conn_id": f"bench_{name}", "page_size": self.config.page_size}
        return source, {f"AIRFLOW_CONN_BENCH_{name.upper()}": server.airflow_connection()}

    @property
    def _prefix(self) -> str:
        return f"{self.databases.prefix}_{self.dataset.name}_{self.rows}_"

    @property
    def _created(self) -> list[str]:
        return [name for name in self.databases.created if name.startswith(self._prefix)]

    def _database(self, role: str, template: str | None = None) -> str:
        return self.databases.create(f"{self.dataset.name}_{self.rows}_{role}", template)

    def _ours(
        self, mode: str, kind: str, database: str, source: tuple[dict, dict], *extra: str
    ) -> Measurement:
        fields, source_env = source
        env = {
            "LIENTHONG_WAREHOUSE_URL": self.databases.url(database),
            **source_env,
            "AIRFLOW_HOME": str(self.folder / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        batch_key = f"bench:{self.dataset.name}:{self.rows}:{kind}"
        command = python_module(
            "bench.ours", mode, "--source", json.dumps(fields), "--batch-key", batch_key, *extra
        )
        quiet(self.config.admin_url)
        return run_child(f"ours {mode}", command, env)

    def _raw_copy(self, records: Path | str) -> Measurement:
        flat = self.folder / "flat.csv"
        with flat.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows(self.dataset.flat_rows(records))
        database = self.databases.url(self._database("copy"))
        quiet(self.config.admin_url)
        return raw_copy.measure(
            flat,
            f"peers.raw_{self.dataset.name}",
            self.dataset.flat_columns,
            database,
        )

    def _dlt(
        self, python: Path, server: ServerProcess | None, data: Path | None = None
    ) -> Measurement:
        database = self.databases.url(self._database("dlt"))
        quiet(self.config.admin_url)
        return dlt_peer.measure(
            python,
            server.url if server else None,
            self.dataset.api_path,
            server.token if server else "",
            self.config.page_size,
            f"dlt_{self.dataset.name}",
            self.folder / "dlt",
            database,
            csv_file=data,
        )

    def _pandas(self, server: ServerProcess | None, data: Path | None = None) -> Measurement:
        database = self.databases.url(self._database("pandas"))
        quiet(self.config.admin_url)
        return pandas_gx.measure(
            self.dataset.name,
            server.url + str(self.dataset.api_path) if server else None,
            server.token if server else "",
            self.config.page_size,
            f"peers.pandas_{self.dataset.name}",
            database,
            csv_file=data,
        )


def _said_stability(stability: Measurement) -> None:
    say("  stability: " + ", ".join(f"{k} {v:.1f} s" for k, v in stability.steps.items()))


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
