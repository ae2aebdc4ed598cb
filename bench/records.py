"""Writing a dataset's records in a process of its own: ``python -m bench.records DATASET WHERE
ROWS NOW``, which prints the count written.

The harness never generates records itself: a measured child's peak memory (``ru_maxrss``, see
`bench.measure`) starts from the high-water mark of the process that started it (Linux carries
it over ``fork`` and ``exec``), so a harness that had held a generated export in memory would
make every later step look that big.
"""

from __future__ import annotations

import argparse
import subprocess
from datetime import datetime
from pathlib import Path

from bench.datasets import DATASETS
from bench.measure import ROOT, python_module


def write_records(dataset: str, where: Path | str, rows: int, now: datetime) -> int:
    """Write ``rows`` records of ``dataset`` at ``where`` (a path, or a registry database's
    URL) in a child process; the count."""
    command = python_module(__name__, dataset, str(where), str(rows), now.isoformat())
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True)
    return int(done.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(DATASETS))
    parser.add_argument("where", help="a path, or a registry database's URL")
    parser.add_argument("rows", type=int)
    parser.add_argument("now", type=datetime.fromisoformat)
    args = parser.parse_args()
    dataset = DATASETS[args.dataset]
    written = dataset.write_records(dataset.records_at(args.where), args.rows, args.now)
    print(written, flush=True)


if __name__ == "__main__":
    main()
