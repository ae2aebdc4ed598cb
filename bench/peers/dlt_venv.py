"""dlt's own virtualenv for the benchmark, made on first use from pinned requirements.

dlt never enters our requirements: it would run in our environment today (pip's dry run only
adds packages), but what our sync runs with must stay what ``requirements.txt`` says, and dlt's
pins may clash with Airflow's tomorrow. So it gets ``bench/.venv-dlt``, installed from
``bench/peers/dlt-requirements.txt`` (exact pins; needs the package index once) and remade
when that file changes.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1]
REQUIREMENTS = Path(__file__).with_name("dlt-requirements.txt")
VENV = BENCH / ".venv-dlt"


def dlt_version() -> str:
    """The dlt version the requirements pin."""
    for line in REQUIREMENTS.read_text().splitlines():
        if line.startswith("dlt=="):
            return line.split("==", 1)[1]
    raise ValueError(f"{REQUIREMENTS} pins no dlt")


def ensure_dlt_venv(venv: Path = VENV) -> Path:
    """The virtualenv's Python, after making or refreshing the virtualenv if needed."""
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"bench: making dlt's virtualenv in {venv} (dlt {dlt_version()})", file=sys.stderr)
    _run([sys.executable, "-m", "venv", "--clear", str(venv)])
    pip = [str(python), "-m", "pip", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "install", "-r", str(REQUIREMENTS)])
    _run([*pip, "check"])
    stamp.write_text(wanted)
    return python


def _run(command: list[str]) -> None:
    """Run quietly; on failure show what it said and raise."""
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise RuntimeError(f"making dlt's virtualenv failed: {' '.join(command[:4])} ...")
