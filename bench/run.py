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
migrated once per run; the peers load a database of their own. All are dropped at the end.
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
from urllib.parse import quote

import psycopg
import requests
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from bench.datasets import DATASETS, BenchDataset
from bench.measure import Machine, Measurement, load_average, python_module, run_child
from bench.peers.dlt_venv import ensure_dlt_venv
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
    dlt_python = ensure_dlt_venv() if "dlt" in config.peers else None
    run_id = uuid.uuid4().hex[:8]
    try:
        with _databases(config, run_id) as databases:
            template = databases.create("template")
            _migrate(databases.url(template))
            for name in config.datasets:
                dataset = DATASETS[name]
                sizes = config.sizes_of(dataset)
                for rows in sizes:
                    folder = workdir / f"{name}-{rows}"
                    folder.mkdir(exist_ok=True)
                    profile = config.profile and rows == max(sizes)
                    results.sizes.append(
                        _run_size(
                            config, dataset, rows, folder, databases, template, dlt_python, profile
                        )
                    )
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


def _run_size(
    config: Config,
    dataset: BenchDataset,
    rows: int,
    folder: Path,
    databases: _Databases,
    template: str,
    dlt_python: Path | None,
    profile: bool,
) -> SizeResult:
    name = dataset.name
    say(f"{name} at {rows:,} records: generating")
    items = folder / "items.jsonl"
    generated = dataset.write_items(items, rows, datetime.now(UTC) - timedelta(minutes=1))
    flat = folder / "flat.csv"
    if "raw COPY" in config.peers:
        _write_csv(flat, dataset.flat_rows(items))
    ours_db = databases.create(f"{name}_{rows}_ours", template)
    token = secrets.token_hex(16)
    source = json.dumps(
        {"dataset": name, "conn_id": f"bench_{name}", "page_size": config.page_size}
    )
    peers: dict[str, Measurement] = {}

    def ours(mode: str, batch_key: str, database: str, server: ServerProcess, *extra: str):
        env = {
            "LIENTHONG_WAREHOUSE_URL": databases.url(database),
            f"AIRFLOW_CONN_BENCH_{name.upper()}": server.airflow_connection(),
            "AIRFLOW_HOME": str(folder / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }
        command = python_module(
            "bench.ours", mode, "--source", source, "--batch-key", batch_key, *extra
        )
        return run_child(f"ours {mode}", command, env)

    with ServerProcess([items], token) as server:
        serving_rate = _serving_rate(server, dataset.api_path, config.page_size)
        say(f"  API server up ({server.items:,} items, serves {serving_rate:,.0f} items/s)")
        if "raw COPY" in config.peers:
            peers_db = databases.create(f"{name}_{rows}_peers")
            peers["raw COPY"] = _raw_copy(dataset, flat, databases.url(peers_db))
            _said("raw COPY", peers["raw COPY"])
        full = ours("sync", f"bench:{name}:{rows}:full", ours_db, server, "--full")
        _said("ours, full sync", full)
        if "dlt" in config.peers:
            dlt_db = databases.create(f"{name}_{rows}_dlt")
            peers["dlt"] = _dlt(dataset, server, databases.url(dlt_db), folder, dlt_python, config)
            _said("dlt", peers["dlt"])
        if "pandas + GX" in config.peers:
            pandas_db = databases.create(f"{name}_{rows}_pandas")
            peers["pandas + GX"] = _pandas(dataset, server, databases.url(pandas_db), config)
            _said("pandas + GX", peers["pandas + GX"])

    # Stamped after the full sync's watermark (its start) and not in the future.
    changes = folder / "changes.jsonl"
    stamp = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    time.sleep(1.1)
    changed = dataset.write_changes(items, changes, config.changed_fraction, stamp)
    with ServerProcess([items, changes], token) as server:
        incremental = ours("sync", f"bench:{name}:{rows}:incremental", ours_db, server)
        _said(f"ours, incremental sync ({changed:,} records changed)", incremental)
        stability_db = databases.create(f"{name}_{rows}_stability", template)
        extra = ("--profile-top", "25") if profile else ()
        stability = ours(
            "stability", f"bench:{name}:{rows}:stability", stability_db, server, *extra
        )
        said = ", ".join(f"{k} {v:.1f} s" for k, v in stability.steps.items())
        say(f"  stability: {said}")
    if not config.keep:
        for database in [
            d for d in databases.created if d.startswith(f"{databases.prefix}_{name}_{rows}_")
        ]:
            databases.drop(database)
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


def _said(label: str, measured: Measurement) -> None:
    say(
        f"  {label}: {measured.rows:,} rows in {measured.seconds:.1f} s"
        f" ({measured.rate:,.0f} rows/s, peak {measured.peak_rss / 2**20:,.0f} MiB)"
    )


def _write_csv(path: Path, rows: Iterator[tuple[str | None, ...]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        csv.writer(out).writerows(rows)


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


def _raw_copy(dataset: BenchDataset, flat: Path, url: str) -> Measurement:
    command = python_module(
        "bench.peers.raw_copy",
        "--csv",
        str(flat),
        "--table",
        f"peers.raw_{dataset.name}",
        "--columns",
        ",".join(dataset.flat_columns),
    )
    return run_child("raw COPY", command, {"BENCH_PEER_DB": url})


def _pandas(dataset: BenchDataset, server: ServerProcess, url: str, config: Config) -> Measurement:
    command = python_module(
        "bench.peers.pandas_gx",
        "--dataset",
        dataset.name,
        "--api-url",
        server.url + dataset.api_path,
        "--page-size",
        str(config.page_size),
        "--table",
        f"peers.pandas_{dataset.name}",
    )
    # TQDM_DISABLE: GX draws a progress bar per validation otherwise.
    env = {"BENCH_PEER_DB": url, "BENCH_API_TOKEN": server.token, "TQDM_DISABLE": "1"}
    return run_child("pandas + GX", command, env)


def _dlt(
    dataset: BenchDataset,
    server: ServerProcess,
    url: str,
    folder: Path,
    python: Path | None,
    config: Config,
) -> Measurement:
    assert python is not None
    command = [
        str(python),
        "-m",
        "bench.peers.dlt_load",
        "--api-url",
        server.url,
        "--path",
        dataset.api_path,
        "--page-size",
        str(config.page_size),
        "--dataset-name",
        f"dlt_{dataset.name}",
        "--pipelines-dir",
        str(folder / "dlt"),
    ]
    env = {
        "BENCH_API_TOKEN": server.token,
        "BENCH_DLT_CREDENTIALS": _postgres_uri(url),
        "DLT_DATA_DIR": str(folder / "dlt"),
        "RUNTIME__LOG_LEVEL": "ERROR",
    }
    return run_child("dlt", command, env)


def _postgres_uri(url: str) -> str:
    """A ``postgresql://`` URI of a libpq string, as dlt's credentials want it: every part
    given (dlt insists on a host and a password), a socket folder percent-encoded as the host
    (libpq's own form for it)."""
    params = conninfo_to_dict(url)
    user = quote(str(params.get("user") or "postgres"), safe="")
    # A server that trusts loopback or its socket ignores the password.
    password = quote(str(params.get("password") or "unused"), safe="")
    host = quote(str(params.get("host") or "localhost"), safe="")
    port = params.get("port") or 5432
    database = quote(str(params["dbname"]), safe="")
    return f"postgresql://{user}:{password}@{host}:{port}/{database}"
