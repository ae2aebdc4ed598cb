"""``python -m bench``: run the benchmark, print the results, write ``docs/BENCHMARKS.md``.

Examples::

    make bench                          # population at 100k and 1M, dossiers at 100k
    make bench ROWS=3000                # one small size, every dataset
    make bench DATASETS=dossiers        # one dataset at its own sizes
    python -m bench --datasets dossiers --rows 100000
    python -m bench --rows 100000 --peers copy,dlt --out /tmp/bench.md
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.datasets import DATASETS
from bench.measure import ROOT
from bench.run import PEER_OPTIONS, Config, run_bench


def _sizes(text: str) -> tuple[int, ...]:
    sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of record counts")
    return sizes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=_sizes, help="record counts, comma-separated (default: each dataset's)"
    )
    parser.add_argument(
        "--datasets",
        default=",".join(DATASETS),
        help=f"comma-separated, of {', '.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--peers", default=",".join(PEER_OPTIONS), help=f"of {', '.join(PEER_OPTIONS)}"
    )
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--warehouse", help="admin URL of the PostgreSQL server to use")
    parser.add_argument("--workdir", type=Path, help="where the record files go (kept)")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--no-profile", action="store_true")
    args = parser.parse_args(argv)

    datasets = tuple(name.strip() for name in args.datasets.split(",") if name.strip())
    unknown = [name for name in datasets if name not in DATASETS]
    peers = [name.strip() for name in args.peers.split(",") if name.strip()]
    unknown += [name for name in peers if name not in PEER_OPTIONS]
    if unknown:
        parser.error(f"unknown dataset or peer: {', '.join(unknown)}")
    if not datasets:
        parser.error("no dataset to run")
    if args.warehouse:
        admin_url = args.warehouse
    else:
        from lienthong.warehouse.connection import warehouse_url

        admin_url = warehouse_url()
    config = Config(
        admin_url=admin_url,
        datasets=datasets,
        sizes=args.rows,
        peers=tuple(PEER_OPTIONS[name] for name in peers),
        page_size=args.page_size,
        profile=not args.no_profile,
        workdir=args.workdir,
        keep=args.keep,
    )
    from bench.report import render

    text = render(run_bench(config))
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"bench: written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
