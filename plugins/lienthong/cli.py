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


def _expire_staging(args: argparse.Namespace) -> int:
    from lienthong.pipeline import retention
    from lienthong.warehouse.connection import connect, warehouse_url

    try:
        keep = retention.retention()
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    with connect(warehouse_url()) as conn:
        known = [
            source
            for (source,) in conn.execute(
                "SELECT DISTINCT source FROM audit.batches WHERE source IS NOT NULL ORDER BY 1"
            )
        ]
        unknown = [source for source in args.sources if source not in known]
        if unknown:
            print(
                f"no batch of source {', '.join(unknown)} in the warehouse "
                f"(sources with batches: {', '.join(known) or 'none'})",
                file=sys.stderr,
            )
            return 2
        for source in args.sources or known:
            expired = retention.expire(conn, source, older_than=keep)
            which = f" ({', '.join(map(str, expired))})" if expired else ""
            print(f"{source}: staged rows of {len(expired)} batch(es) deleted{which}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lienthong`` command."""
    parser = argparse.ArgumentParser(prog="lienthong", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser(
        "migrate", help="apply warehouse migrations and load reference data"
    )
    migrate.set_defaults(run=_migrate)
    expire = commands.add_parser(
        "expire-staging",
        help="delete the staged rows of finished batches past the staging retention "
        "(publish does it for its own source; this does it for any, e.g. one that stopped)",
    )
    expire.add_argument(
        "sources", nargs="*", help="source keys (a DAG id, e.g. civil_events_01); default: all"
    )
    expire.set_defaults(run=_expire_staging)
    args = parser.parse_args(argv)
    import psycopg

    from lienthong.warehouse.connection import WarehouseConfigError

    try:
        return args.run(args)
    except WarehouseConfigError as exc:  # a configuration to correct: no traceback to read
        print(f"lienthong {args.command}: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(f"lienthong {args.command}: the warehouse cannot be reached: {exc}", file=sys.stderr)
        return 1
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        print(
            f"lienthong {args.command}: the warehouse lacks migrations ({exc}); "
            "run `lienthong migrate` first",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
