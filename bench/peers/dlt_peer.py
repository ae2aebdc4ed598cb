"""The dlt peer, the harness's side: dlt's own virtualenv, made on first use from pinned
requirements, and the measured run of `bench.peers.dlt_load` in it.

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
from urllib.parse import quote

from psycopg.conninfo import conninfo_to_dict

from bench.measure import Measurement, run_child

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


def measure(
    python: Path,
    api_url: str | None,
    path: str | None,
    token: str,
    page_size: int,
    dataset_name: str,
    folder: Path,
    url: str,
    csv_file: Path | None = None,
) -> Measurement:
    """Run `bench.peers.dlt_load` with dlt's virtualenv's ``python`` in a fresh process, on
    the API at ``api_url`` + ``path`` or on the landed file ``csv_file``; dlt keeps its
    pipeline state under ``folder``."""
    if csv_file is not None:
        source = ["--csv", str(csv_file)]
    else:
        source = ["--api-url", str(api_url), "--path", str(path)]
    command = [
        str(python),
        "-m",
        "bench.peers.dlt_load",
        *source,
        "--page-size",
        str(page_size),
        "--dataset-name",
        dataset_name,
        "--pipelines-dir",
        str(folder),
    ]
    env = {
        "BENCH_API_TOKEN": token,
        "BENCH_DLT_CREDENTIALS": postgres_uri(url),
        "DLT_DATA_DIR": str(folder),
        "RUNTIME__LOG_LEVEL": "ERROR",
    }
    return run_child("dlt", command, env)


def postgres_uri(url: str) -> str:
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
