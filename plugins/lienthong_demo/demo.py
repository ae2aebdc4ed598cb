"""``make demo``: every source of the shipped sources file, fed by seeded generators with
labelled defects, run through real Airflow (``airflow dags test``) into a warehouse of its own.

1. The national population API: the demo Ministry server on loopback, a full run of what it
   held a day ago, then an incremental run.
2. Three provinces' civil-status registries, as databases on the warehouse's server (one with
   a looser table, as another team's might be), each holding twenty days of births and deaths
   with corrections, soft deletes and deaths the population has not caught up with, read
   through a read-only account. (A second read would find nothing new until the registry
   writes again: rows are read only once they are behind the registry's clock by the commit
   lag.)
3. Rule P-L4 re-evaluated over what was published.

Each step prints its batches: rows per outcome, pass rate per dimension, rules that caught rows.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from lienthong.pipeline.report import batch_report
from lienthong.settings import MINISTRY_CONN_ID, PROJECT_ROOT, state_dir
from lienthong.sources import load_sources
from lienthong.warehouse.bootstrap import ensure_ready
from lienthong.warehouse.connection import connect, redact

#: The provinces whose registries the demo creates: Hà Nội, Hồ Chí Minh City, Đà Nẵng. The
#: second has a looser table (wider types, no key), where every kind of E-rule defect fits.
REGISTRIES = {"01": False, "79": True, "48": False}


def airflow_environment(home: Path | None = None) -> dict[str, str]:
    """Environment for a project-local Airflow: SQLite metadata, this repo's DAGs and plugins.

    Values already set in the environment win, so a real deployment is not overridden.
    """
    home = home or PROJECT_ROOT / ".airflow"
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    return {**defaults, **{k: v for k, v in os.environ.items() if k in defaults}}


@dataclass
class Demo:
    """One demo run: the warehouse, Airflow's environment, the clock."""

    url: str
    env: dict[str, str]
    now: datetime
    failures: int = 0

    def run_dags(
        self,
        dag_ids: list[str],
        label: str,
        *,
        conf: dict | None = None,
        until_idle: bool = False,
        report: bool = True,
        **env: str,
    ) -> list[int]:
        """Run DAGs as ``airflow dags test`` does (in one process, `lienthong_demo.dag_runs`);
        print the batches they made unless ``report`` is False; return their numbers."""
        with psycopg.connect(self.url) as conn:
            before = conn.execute("SELECT coalesce(max(batch_no), 0) FROM audit.batches").fetchone()
        args = [sys.executable, "-m", "lienthong_demo.dag_runs", *dag_ids]
        args += ["--conf", json.dumps(conf or {})] + (["--until-idle"] if until_idle else [])
        run = subprocess.run(args, env={**self.env, **env}, capture_output=True, text=True)
        log_file = state_dir() / f"demo-{label}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(run.stdout + run.stderr, encoding="utf-8")
        with psycopg.connect(self.url) as conn:
            made = [
                n
                for (n,) in conn.execute(
                    "SELECT batch_no FROM audit.batches WHERE batch_no > %s ORDER BY 1", before
                )
            ]
            if report:
                print(f"\n== {', '.join(dag_ids)}: {label.replace('-', ' ')}")
                for batch_no in made:
                    print(batch_report(conn, batch_no))
        if run.returncode:
            print(f"   a DAG run failed; Airflow's output is in {log_file}")
            self.failures += 1
        return made


def _airflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(executable), *args], env=env, capture_output=True, text=True)


def run(*, count: int, seed: int, defect_rate: float, url: str) -> int:
    """Run the whole demo against the warehouse at ``url``; 0 when every run went through."""
    print(f"warehouse: {redact(url)}")
    env = {**os.environ, **airflow_environment(), "LIENTHONG_WAREHOUSE_URL": url}
    env.pop("LIENTHONG_SOURCES", None)  # the shipped sources file: the demo's sources
    migrated = _airflow("db", "migrate", env=env)
    if migrated.returncode:
        print(migrated.stdout[-3000:], migrated.stderr[-3000:], file=sys.stderr)
        return 1
    with connect(url) as conn:
        ensure_ready(conn)  # the DAGs would too; the demo reads the audit tables first
    demo = Demo(url, env, datetime.now(UTC).replace(microsecond=0))
    citizens = _population(demo, count=count, seed=seed, defect_rate=defect_rate)
    _registries(demo, citizens, seed=seed)
    _drops(demo, citizens)
    demo.run_dags(["population_liveness"], "liveness", report=False)
    _liveness_summary(url)
    _summary(url)
    print(f"\nAirflow's output: {state_dir()}/demo-*.log; warehouse: {redact(url)}")
    return 1 if demo.failures else 0


def _population(demo: Demo, *, count: int, seed: int, defect_rate: float) -> list:
    from lienthong_demo.citizens import generate_citizens
    from lienthong_demo.ministry_server import MinistryServer

    generated = list(
        generate_citizens(
            count, seed=seed, defect_rate=defect_rate, now=demo.now, span=timedelta(days=10)
        )
    )
    citizens = [c.item for c in generated]
    # The first run sees what the source held a day ago; the second, everything since.
    cutoff = (demo.now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    earlier = [c for c in citizens if c["updated_at"] < cutoff]
    token = secrets.token_urlsafe(16)
    for label, served, conf in (
        ("full-run", earlier, {"full": True}),
        ("incremental-run", citizens, {}),
    ):
        with MinistryServer(served, token=token) as server:
            connection = {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": server.port,
                "schema": "http",
                "password": token,
            }
            demo.run_dags(
                ["population"],
                f"population-{label}",
                conf=conf,
                **{f"AIRFLOW_CONN_{MINISTRY_CONN_ID.upper()}": json.dumps(connection)},
            )
    return generated


def _registries(demo: Demo, citizens: list, *, seed: int) -> None:
    from lienthong_demo import registry_databases
    from lienthong_demo.registry import create_registry

    sources = {s.province: s for s in load_sources().sources if s.dataset == "civil_events"}
    server = _server_admin_url(demo.url)
    settled = demo.now - timedelta(minutes=10)  # every row behind the read's commit lag
    connections = {}
    for province, loose in REGISTRIES.items():
        source = sources.get(province)
        if source is None:
            continue
        database = f"lienthong_demo_registry_{province}"
        admin = registry_databases.create_database(server, database)
        create_registry(
            admin,
            province_code=province,
            count=1500,
            seed=seed + int(province),
            now=settled,
            span=timedelta(days=20),
            defect_rate=0.03,
            loose=loose,
            people=citizens,
        )
        reader = registry_databases.create_reader(
            admin, f"demo_reader_{province}", secrets.token_urlsafe(12)
        )
        connections[f"AIRFLOW_CONN_{source.conn_id.upper()}"] = reader
    dag_ids = [sources[p].dag_id for p in REGISTRIES if p in sources]
    demo.run_dags(dag_ids, "civil-events", **connections)


def _server_admin_url(url: str) -> str:
    """The warehouse server's own database, from where the demo creates registries (the
    demo's registries live on the warehouse's server, which needs a URI-form URL)."""
    from lienthong.warehouse.connection import with_database

    return with_database(url, "postgres")


def _drops(demo: Demo, citizens: list) -> None:
    """Every delivery problem of the provinces' file drops, in two rounds (some problems need
    a file to have been processed first: the same file again, a correction, an older month)."""
    from lienthong_demo.drops import deliver_round, prepare_demo_drops, render_drop_outcomes

    file_sources = [s for s in load_sources().sources if s.dataset in ("dossiers", "p06_tasks")]
    if not file_sources:
        return
    landing = PROJECT_ROOT / ".lienthong" / "landing"
    # The applicants of the demo's dossiers are citizens the population run published.
    population = [c.item for c in citizens if c.defect is None]
    scenarios = prepare_demo_drops(
        landing, now=demo.now, population=population, replace_existing=True
    )
    dag_ids = [s.dag_id for s in file_sources]
    demo.run_dags(dag_ids, "file-drops-first-round", until_idle=True, report=False)
    deliver_round(landing, scenarios, 2)
    demo.run_dags(dag_ids, "file-drops-second-round", until_idle=True, report=False)
    print(f"\n== {', '.join(dag_ids)}: provincial file drops, each file's outcome")
    with psycopg.connect(demo.url) as conn:
        print(render_drop_outcomes(conn, scenarios, now=demo.now))


def _summary(url: str) -> None:
    """What the demo did, per source."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT source, count(*),
                      count(*) FILTER (WHERE status = 'published'),
                      count(*) FILTER (WHERE status = 'held'),
                      coalesce(sum(received), 0), coalesce(sum(published), 0),
                      coalesce(sum(quarantined), 0)
               FROM audit.batches GROUP BY source ORDER BY source"""
        ).fetchall()
    print("\n== summary: batches per source")
    print(
        f"   {'source':<18}{'batches':>8}{'published':>10}{'held':>6}{'rows':>9}{'to core':>9}{'quarant.':>9}"
    )
    for source, n, published, held, received, to_core, quarantined in rows:
        print(
            f"   {source:<18}{n:>8}{published:>10}{held:>6}{received:>9}{to_core:>9}{quarantined:>9}"
        )
    held = sum(row[3] for row in rows)
    if held:
        print(
            f"\n{held} batches wait for an operator: `make airflow`, sign in as `operator`, and open"
            " Data quality in Airflow's menu to review them and the quarantined rows."
        )


def _liveness_summary(url: str) -> None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            """SELECT records_checked, flagged FROM audit.flag_evaluations
               WHERE rule_id = 'P-L4' ORDER BY evaluation_no DESC LIMIT 1"""
        ).fetchone()
    if row:
        print(
            f"   P-L4: {row[0]} registered deaths checked against population, {row[1]} "
            "population records flagged (death registered, no date_of_death)"
        )
