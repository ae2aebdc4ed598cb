"""The ``lienthong`` command: operations on the warehouse.

The demo and the demo servers have their own command, ``lienthong-demo`` (package
``lienthong_demo``), so that the runtime never depends on demo code.
"""

from __future__ import annotations

import argparse
import sys


def _migrate(_: argparse.Namespace) -> int:
    from lienthong.warehouse.bootstrap import ensure_ready
    from lienthong.warehouse.connection import connect, redact, warehouse_url

    url = warehouse_url()
    with connect(url) as conn:
        done = ensure_ready(conn)
    print(
        f"warehouse {redact(url)}: migrations applied {done['migrations'] or 'none'}; "
        f"reference loaded {done['reference'] or 'already present'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lienthong`` command."""
    parser = argparse.ArgumentParser(prog="lienthong", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser(
        "migrate", help="apply warehouse migrations and load reference data"
    )
    migrate.set_defaults(run=_migrate)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
