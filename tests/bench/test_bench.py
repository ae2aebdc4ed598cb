"""The benchmark itself keeps working: a small run of each dataset (population at 3,000
records, dossiers at 2,000, civil_events at 2,000) with every peer that reads it, dlt in its
own virtualenv (made on first use; needs the package index), and its report. Nothing here is about time: the tests check that
each measurement happened on the same records and that the report carries them."""

from __future__ import annotations

import multiprocessing
import time

import psycopg
import pytest

from bench.measure import SETTLE, cpu_spent, cpu_times
from bench.report import render, targets
from bench.run import PEERS, Config, run_bench

pytestmark = pytest.mark.bench

ROWS = 3000
DOSSIER_ROWS = 2000
REGISTRY_ROWS = 2000


def _ours_and_every_peer_loaded(size, rows: int) -> None:
    """Our full sync received every record and accounted for each; every peer loaded them all."""
    full = size.full.details
    assert full["status"] == "published"
    assert full["received"] == rows
    assert full["published"] + full["quarantined"] + full["collapsed"] == rows
    assert full["quarantined"] > 0  # the generator's defects were caught
    assert set(full["timings"]) == {"extract", "validate", "publish"}
    assert set(size.peers) == set(PEERS)
    for measured in size.peers.values():
        assert measured.rows == rows, measured.name
        assert measured.seconds > 0
        assert measured.peak_rss > 0


def _small_run(admin_url: str, workdir, dataset: str, rows: int):
    """The benchmark of one dataset at one small size."""
    return run_bench(
        Config(admin_url=admin_url, datasets=(dataset,), sizes=(rows,), workdir=workdir)
    )


def test_a_small_bench_measures_ours_and_every_peer_on_the_same_records(pg_admin_url, tmp_path):
    results = run_bench(
        Config(admin_url=pg_admin_url, datasets=("population",), sizes=(ROWS,), workdir=tmp_path)
    )

    [size] = results.sizes
    assert size.dataset == "population"
    assert size.rows == ROWS
    _ours_and_every_peer_loaded(size, ROWS)
    assert set(size.full.steps) == {"extract", "validate", "publish"}
    pandas = size.peers["pandas + GX"]
    assert list(pandas.steps) == ["fetch", "normalize", "to_sql", "validate"]
    assert pandas.details["expectations"] >= 15
    assert pandas.details["expectations_failed"] > 0  # it sees the same defects
    assert list(size.peers["dlt"].steps) == ["extract", "normalize", "load"]

    assert size.incremental is not None
    # The incremental sync read the changed records (and, as documented, the few rows at the
    # watermark's own second again) and published them.
    assert size.changed == ROWS // 100
    assert size.changed <= size.incremental.rows <= size.changed + 5
    assert size.incremental.details["status"] == "published"
    assert size.incremental.details["quarantined"] == 0

    # Stability: one batch validated three times, the last with statistics, then a second
    # batch of the same records beside it; extract profiled.
    stability = size.stability.details
    assert [v["label"] for v in stability["validations"]] == [
        "validate",
        "validate again",
        "after VACUUM ANALYZE",
        "a second batch, beside the first",
    ]
    assert stability["validations"][2]["statistics"].startswith("statistics from")
    assert "sync.py" in stability["profile"]

    assert size.full.peak_rss > 100 * 2**20  # the sync's own process, Airflow and GX loaded
    assert size.serving_rate > 0
    # Where each step's CPU went: the task's process and the whole machine; the server on
    # this machine is seen (a few ticks for so few rows); no workers below their threshold.
    steps = size.full.details["cpu"]
    assert set(steps) == {"extract", "validate", "publish"}
    for cpu in steps.values():
        assert cpu["task"] > 0 and cpu["machine"] > 0 and cpu["postgres"] >= 0
        assert cpu["workers"] == 0
    # Validation is the server's work: it was seen there.
    assert steps["validate"]["postgres"] > 0

    report = render(results)
    for text in (
        "## Machine",
        "## Targets: population",
        "### population at 3,000 records",
        "**ours: whole sync**",
        "ours: incremental sync (30 changed;",
        "**raw COPY**",
        "**dlt**",
        "**pandas + GX**",
        "after VACUUM ANALYZE",
        "| a second batch, beside the first |",
        "The same records staged again as a second batch, beside the first, validated in",
        "### Where the time goes: population at 3,000",
        "- During the extraction (",
        "- During validation (",
        "- During publishing (",
    ):
        assert text in report
    assert len(targets(results, "population")) == 6


def test_a_small_dossiers_bench_lands_one_file_that_ours_and_every_peer_load(
    pg_admin_url, tmp_path
):
    results = _small_run(pg_admin_url, tmp_path, "dossiers", DOSSIER_ROWS)

    [size] = results.sizes
    assert size.dataset == "dossiers"
    assert size.file_landed
    assert size.rows == DOSSIER_ROWS
    assert size.applicants > 0  # published first, for rule D-C4
    _ours_and_every_peer_loaded(size, DOSSIER_ROWS)
    assert size.full.details["published"] > 0.95 * DOSSIER_ROWS
    pandas = size.peers["pandas + GX"]
    assert list(pandas.steps) == ["read_csv", "to_sql", "validate"]
    assert pandas.details["expectations"] >= 15
    assert pandas.details["expectations_failed"] > 0  # it sees the same defects
    dlt = size.peers["dlt"]
    assert list(dlt.steps) == ["extract", "normalize", "load"]
    assert "filesystem" in dlt.details["method"]

    # A file source has no incremental sync; the stability run still stages and validates.
    assert size.incremental is None
    stability = size.stability.details
    assert size.stability.rows == DOSSIER_ROWS  # the batch it staged and validated
    assert [v["label"] for v in stability["validations"]] == [
        "validate",
        "validate again",
        "after VACUUM ANALYZE",
        "a second batch, beside the first",
    ]
    assert "sync.py" in stability["profile"]

    report = render(results)
    for text in (
        "## dossiers",
        "### dossiers at 2,000 records",
        "no incremental sync",
        "**ours: whole sync**",
        "**raw COPY**",
        "**dlt**",
        "**pandas + GX**",
        "pandas + GX: read_csv",
        "### Where the time goes: dossiers at 2,000",
    ):
        assert text in report
    assert "## Targets: dossiers" not in report
    assert "ours: incremental sync" not in report
    assert targets(results, "population") == []


def test_a_small_civil_events_bench_reads_a_registry_beside_raw_copy(pg_admin_url, tmp_path):
    results = _small_run(pg_admin_url, tmp_path, "civil_events", REGISTRY_ROWS)

    [size] = results.sizes
    assert size.dataset == "civil_events"
    assert size.registry and not size.file_landed
    assert size.rows == REGISTRY_ROWS
    full = size.full.details
    assert full["status"] == "published"
    assert full["received"] == REGISTRY_ROWS
    assert full["published"] + full["quarantined"] + full["collapsed"] == REGISTRY_ROWS
    assert full["quarantined"] > 0  # the generator's defects were caught
    # No other peer reads a registry; raw COPY loaded the same rows.
    assert set(size.peers) == {"raw COPY"}
    assert size.peers["raw COPY"].rows == REGISTRY_ROWS

    # The incremental sync read exactly the rows given a new version after the full sync.
    assert size.changed == REGISTRY_ROWS // 100
    assert size.incremental is not None
    assert size.incremental.rows == size.changed
    assert size.incremental.details["status"] == "published"

    stability = size.stability.details
    assert size.stability.rows == REGISTRY_ROWS
    assert len(stability["validations"]) == 4
    assert "sync.py" in stability["profile"]

    report = render(results)
    for text in (
        "## civil_events",
        "- **civil_events**: province 01's registry",
        "### civil_events at 2,000 records",
        "Read from a registry's table on the same server",
        "ours: incremental sync (20 changed;",
        "**raw COPY**",
        "### Where the time goes: civil_events at 2,000",
        "- The extraction (reading the registry, checking, COPY) ran at",
    ):
        assert text in report
    assert "## Targets: civil_events" not in report
    assert "| **dlt** |" not in report and "| **pandas + GX** |" not in report


def test_cpu_readings_see_the_workers_the_server_and_the_machine(pg_admin_url):
    """`cpu_times` counts a child's CPU once it has ended, PostgreSQL's as its processes
    spend it, and the machine's; `cpu_spent` takes the difference."""
    before = cpu_times()
    worker = multiprocessing.get_context("fork").Process(target=_spin, args=(0.4,))
    worker.start()
    worker.join()
    with psycopg.connect(pg_admin_url) as conn:
        conn.execute("SELECT count(*) FROM generate_series(1, 5000000)").fetchone()
    spent = cpu_spent(before, cpu_times(settle=SETTLE))
    assert spent["workers"] >= 0.3
    assert spent["postgres"] >= 0.1
    assert spent["machine"] >= spent["workers"] + spent["postgres"] - 0.1
    assert spent["task"] >= 0


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass
