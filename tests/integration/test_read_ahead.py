"""Reading ahead and preparing in worker processes change nothing but the time: a batch staged
while the next page is fetched (or the next rows of a file are read), its chunks prepared by
workers, ends exactly as one staged page by page in one process, and such an extraction killed
or failing midway, rerun, leaves the warehouse a clean run leaves (and no worker behind)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from functools import partial
from pathlib import Path
from typing import ClassVar

import psutil
import psycopg
import pytest

from lienthong.dossiers import extraction as dossier_extraction
from lienthong.dossiers.export_file import DossierExportReader
from lienthong.dossiers.extraction import DossierFileExtraction
from lienthong.ministry.extraction import CitizenWalk
from lienthong.pipeline import preparation
from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.pipeline.extraction import EncodedChunk
from lienthong.settings import PROJECT_ROOT
from lienthong.sources import Source
from lienthong.text.encodings import WINDOWS_1258
from lienthong.warehouse.connection import with_database
from lienthong_demo.citizens import generate_citizens
from lienthong_demo.dossier_files import DeliveryOptions, demo_population, generate_dossier_delivery
from tests.support.scripted_server import ScriptedServer, json_page

from .file_fixtures import landing, load_population, run_source
from .population_fixtures import TOKEN, run_batch

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)


def _items() -> list[dict]:
    citizens = generate_citizens(
        1200, seed=44, defect_rate=0.08, now=NOW - timedelta(hours=1), span=timedelta(days=1)
    )
    return [c.item for c in citizens]


def _pages(items: list[dict], size: int, delay: float = 0.0):
    """A server of ``items`` in pages of ``size``, each answer ``delay`` seconds late."""

    def answer(query):
        start = int(query.get("cursor", "0"))
        time.sleep(delay)
        following = str(start + size) if start + size < len(items) else None
        return json_page(items[start : start + size], following, len(items))

    return ScriptedServer(answer)


def _state(url: str) -> dict[str, list]:
    """Every row staged and its outcome, every finding, fix and core row (batch numbers
    left out: each warehouse numbers its own)."""
    queries = {
        "staged": """SELECT row_no, personal_id, full_name, updated_ts, item_defect, payload,
                            payload_text, content_hash, collapsed
                     FROM staging.population JOIN staging.payloads USING (batch_no, row_no)
                     ORDER BY row_no""",
        "findings": "SELECT row_no, rule_id, reason FROM audit.findings ORDER BY 1, 2",
        "fixes": "SELECT row_no, rule_id, field, original, fixed FROM audit.fixes ORDER BY 1, 3",
        "quarantine": "SELECT row_no, record_key, rule_ids FROM quarantine.records ORDER BY 1",
        "core": "SELECT personal_id, full_name, updated_at FROM core.population ORDER BY 1",
        "batches": """SELECT status, received, fixed, published, quarantined, collapsed, applied
                      FROM audit.batches WHERE status <> 'failed'""",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in queries.items()}


@pytest.fixture
def second_warehouse(pg_admin_url, template_database):
    name = f"{template_database}_second"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_a_batch_read_ahead_ends_exactly_as_one_read_page_by_page(
    warehouse_url, second_warehouse, monkeypatch
):
    items = _items()
    with _pages(items, size=97) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
        assert CitizenWalk.read_ahead
        run_batch("population:ahead", now=NOW)
        ahead = _state(warehouse_url)

        monkeypatch.setattr(CitizenWalk, "read_ahead", False)
        monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", second_warehouse)
        run_batch("population:page-by-page", now=NOW)
        page_by_page = _state(second_warehouse)
    assert ahead["batches"][0][1] == len(items)
    assert ahead["findings"]  # the data had defects for the rules to catch
    assert ahead == page_by_page


class NotingPool(ProcessPoolExecutor):
    """The workers' pool, noting the first row number and the kind of each chunk it is
    handed."""

    starts: ClassVar[list[int]] = []
    kinds: ClassVar[set[type]] = set()

    def submit(self, fn, /, *args, **kwargs):
        NotingPool.starts.append(args[1])
        NotingPool.kinds.add(type(args[2]))
        return super().submit(fn, *args, **kwargs)


def test_a_batch_prepared_by_workers_ends_exactly_as_one_prepared_in_one_process(
    warehouse_url, second_warehouse, monkeypatch
):
    items = _items()
    with _pages(items, size=97) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_json(TOKEN))
        monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "2")
        monkeypatch.setattr(preparation, "WORKERS_FROM", 300)
        monkeypatch.setattr(preparation, "ProcessPoolExecutor", NotingPool)
        NotingPool.starts, NotingPool.kinds = [], set()
        run_batch("population:workers", now=NOW)
        workers = _state(warehouse_url)

        monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "1")
        monkeypatch.setattr(CitizenWalk, "read_ahead", False)
        monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", second_warehouse)
        run_batch("population:one-process", now=NOW)
        one_process = _state(second_warehouse)
    # The API announced 1,200 items, past WORKERS_FROM: the first page of 97 was prepared
    # here, the other twelve by the workers.
    assert NotingPool.starts == list(range(97, len(items), 97))
    # The pages crossed to the workers still encoded, and were decoded there.
    assert NotingPool.kinds == {EncodedChunk}
    assert workers["batches"][0][1] == len(items)
    assert workers["fixes"] and workers["quarantine"]
    assert workers == one_process


def test_a_read_ahead_killed_midway_then_rerun_ends_as_a_clean_run(
    warehouse_url, second_warehouse, monkeypatch
):
    items = _items()
    with _pages(items, size=100, delay=0.3) as server:
        connection = server.connection_json(TOKEN)
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", connection)
        # A task reads ahead, its chunks prepared by two workers from the second page on, and
        # is killed (SIGKILL) in the middle of the walk.
        code = (
            "from datetime import datetime;"
            "from lienthong.pipeline import preparation;"
            "preparation.WORKERS_FROM = 100;"
            "from tests.integration.population_fixtures import population_sync as s;"
            f"s.extract('population:killed', full=True, now=datetime.fromisoformat('{NOW.isoformat()}'))"
        )
        task = subprocess.Popen(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "LIENTHONG_PREPARE_WORKERS": "2"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while len(server.queries) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = psutil.Process(task.pid).children()
        task.send_signal(signal.SIGKILL)
        task.wait()
        assert 4 <= len(server.queries) < 12  # killed midway
        assert len(workers) == 2
        # The workers see their task gone and leave.
        _gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []
        with psycopg.connect(warehouse_url) as conn:
            assert conn.execute("SELECT status FROM audit.batches").fetchone() == ("extracting",)
            assert conn.execute("SELECT count(*) FROM staging.population").fetchone() == (0,)

        # Airflow retries the task: the same batch, read again from the start.
        run_batch("population:killed", now=NOW)
        rerun = _state(warehouse_url)

        monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", second_warehouse)
        run_batch("population:killed", now=NOW)
        clean = _state(second_warehouse)
    assert rerun == clean
    assert rerun["batches"] == [clean["batches"][0]]


# A file source reads ahead too: its rows are read (split, decoded, checked) by a thread while
# the staging loop COPYs, cross to the workers packed, and its ledger entry is bound to the
# batch once every chunk is staged.

DOSSIER_DAY = date(2026, 3, 2)
DOSSIER_ARRIVAL = datetime.combine(DOSSIER_DAY + timedelta(days=1), dt_time(2), UTC)
LOW = dict.fromkeys(DIMENSIONS, 0.5)


def _dossier_state(url: str) -> dict[str, list]:
    """Every dossier row staged and its outcome, every finding, fix, core row, and the facts
    its ledger entry keeps (batch and file numbers left out)."""
    ours = "batch_no IN (SELECT batch_no FROM audit.batches WHERE source = 'dossiers_40')"
    queries = {
        "staged": f"""SELECT s.*, p.payload::text, p.payload_text
                      FROM staging.dossiers s JOIN staging.payloads p USING (batch_no, row_no)
                      WHERE s.{ours} ORDER BY row_no""",
        "findings": f"SELECT row_no, rule_id, reason FROM audit.findings WHERE {ours} ORDER BY 1, 2",
        "fixes": f"""SELECT row_no, rule_id, field, original, fixed FROM audit.fixes
                     WHERE {ours} ORDER BY 1, 3""",
        "quarantine": f"""SELECT row_no, record_key, rule_ids FROM quarantine.records
                          WHERE {ours} ORDER BY 1""",
        "core": "SELECT dossier_id, applicant_name, status, extra FROM core.dossiers ORDER BY 1",
        "batches": f"""SELECT status, received, fixed, published, quarantined, collapsed, applied
                       FROM audit.batches WHERE status <> 'failed' AND {ours}""",
        "ledger": "SELECT outcome, facts FROM audit.landing_files ORDER BY file_no",
    }
    with psycopg.connect(url) as conn:
        state = {name: conn.execute(query).fetchall() for name, query in queries.items()}
    state["staged"] = [row[1:] for row in state["staged"]]  # batch_no
    return state


def _dossier_run(url: str, root: Path, delivery, people, run_id: str, monkeypatch) -> int | None:
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", url)
    load_population(url, people)
    delivery.write(root)
    return run_source(_dossier_source(root), run_id, now=DOSSIER_ARRIVAL).batch_no


def _dossier_source(root: Path) -> Source:
    # Thresholds low enough for the planted defects: the batch is published, core compared too.
    folder = landing(root, "dossiers", "40")
    return Source(dataset="dossiers", province="40", path=str(folder), thresholds=LOW)


@pytest.fixture
def dossier_delivery(monkeypatch):
    """Citizens and their dossier file, read in chunks of 97 rows by two workers."""
    monkeypatch.setattr(dossier_extraction, "CHUNK_ROWS", 97)
    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "2")
    people = demo_population(300, seed=6)
    delivery = generate_dossier_delivery(
        "40",
        DOSSIER_DAY,
        count=1200,
        seed=12,
        defect_rate=0.15,
        population=people,
        options=DeliveryOptions(encoding=WINDOWS_1258, extra_column=True, shuffle_columns=True),
    )
    return people, delivery


def test_a_dossier_file_read_ahead_by_workers_ends_exactly_as_one_read_in_the_staging_loop(
    warehouse_url, second_warehouse, tmp_path, dossier_delivery, monkeypatch
):
    people, delivery = dossier_delivery
    monkeypatch.setattr(preparation, "WORKERS_FROM", 300)
    monkeypatch.setattr(preparation, "ProcessPoolExecutor", NotingPool)
    NotingPool.starts, NotingPool.kinds = [], set()
    assert DossierFileExtraction.read_ahead
    finish, staged_at_finish = DossierFileExtraction.finish, []

    def noting_finish(extraction):
        # What the staging transaction holds when the extraction is told every chunk is staged.
        staged_at_finish.append(
            extraction.request.conn.execute("SELECT count(*) FROM staging.dossiers").fetchone()[0]
        )
        finish(extraction)

    monkeypatch.setattr(DossierFileExtraction, "finish", noting_finish)
    _dossier_run(warehouse_url, tmp_path / "ahead", delivery, people, "ahead", monkeypatch)
    assert staged_at_finish == [1200]
    ahead = _dossier_state(warehouse_url)

    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "1")
    monkeypatch.setattr(DossierFileExtraction, "read_ahead", False)
    _dossier_run(second_warehouse, tmp_path / "loop", delivery, people, "loop", monkeypatch)
    in_loop = _dossier_state(second_warehouse)
    # The manifest announced 1,200 rows, past WORKERS_FROM: the first chunk of 97 rows was
    # prepared in the task, the other twelve by the workers, which were handed them packed.
    assert NotingPool.starts == list(range(97, 1200, 97))
    assert NotingPool.kinds == {EncodedChunk}
    assert ahead["batches"][0][:2] == ("published", 1200)
    assert ahead["fixes"] and ahead["quarantine"] and ahead["findings"]
    # The ledger holds what reading the file established, bound to its batch.
    [(outcome, facts)] = ahead["ledger"]
    assert outcome == "published"
    assert facts["file"]["encoding"] == WINDOWS_1258 and facts["file"]["row_count"] == 1200
    assert ahead == in_loop


def test_a_copy_that_fails_midway_stops_the_workers_and_thaws_the_heap_at_once(
    warehouse_url, tmp_path, dossier_delivery, monkeypatch
):
    """An error while a staged chunk is copied (outside the loop that prepares the chunks)
    closes that loop on the way out: its workers are gone and the heap thawed while the
    error is still being handled, not whenever its traceback is dropped."""
    from lienthong.pipeline import staging

    people, delivery = dossier_delivery
    monkeypatch.setattr(preparation, "WORKERS_FROM", 0)
    copy_staged = staging.copy_staged
    copies: list[int] = []

    def breaks_on_the_third(conn, dataset, chunk):
        copies.append(chunk.count)
        if len(copies) == 3:
            raise psycopg.OperationalError("the server went away")
        copy_staged(conn, dataset, chunk)

    monkeypatch.setattr(staging, "copy_staged", breaks_on_the_third)
    assert gc.get_freeze_count() == 0
    with pytest.raises(psycopg.OperationalError, match="the server went away") as raised:
        _dossier_run(warehouse_url, tmp_path / "a", delivery, people, "run", monkeypatch)
    assert raised.traceback  # the traceback, and the frames it holds, are still alive here
    assert len(copies) == 3
    assert gc.get_freeze_count() == 0
    # Shut down without waiting (a chunk being prepared ends on its own): gone in a moment.
    deadline = time.monotonic() + 15
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


def test_a_dossier_file_whose_reading_fails_midway_then_rerun_ends_as_a_clean_run(
    warehouse_url, second_warehouse, tmp_path, dossier_delivery, monkeypatch
):
    people, delivery = dossier_delivery
    monkeypatch.setattr(preparation, "WORKERS_FROM", 0)
    packed_chunks = DossierExportReader.packed_chunks

    def breaks_after_five(reader, size):
        for number, chunk in enumerate(packed_chunks(reader, size)):
            if number == 5:
                raise OSError(f"{reader.name}: the disk went away")
            yield chunk

    with monkeypatch.context() as broken:
        broken.setattr(DossierExportReader, "packed_chunks", breaks_after_five)
        with pytest.raises(OSError, match="the disk went away"):
            _dossier_run(warehouse_url, tmp_path / "a", delivery, people, "run", monkeypatch)
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute(
            "SELECT status FROM audit.batches WHERE source = 'dossiers_40'"
        ).fetchall() == [("failed",)]
        assert conn.execute("SELECT count(*) FROM staging.dossiers").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM staging.payloads").fetchone() == (0,)
        # The file is still the run's, bound to no batch: the retry takes it again.
        assert conn.execute("SELECT batch_no, facts FROM audit.landing_files").fetchall() == [
            (None, {})
        ]

    # Airflow retries the task: the same run, the same file, read again from the start.
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", warehouse_url)
    run_source(_dossier_source(tmp_path / "a"), "run", now=DOSSIER_ARRIVAL)
    rerun = _dossier_state(warehouse_url)

    _dossier_run(second_warehouse, tmp_path / "b", delivery, people, "run", monkeypatch)
    clean = _dossier_state(second_warehouse)
    assert rerun["batches"] == clean["batches"] == [("published", 1200, *clean["batches"][0][2:])]
    assert rerun == clean


# A registry's rows cross to the workers as the driver returned them, pickled in one string of
# bytes a chunk; the workers build the items (`lienthong.registry.extraction.registry_items`).


def _registry_state(url: str) -> dict[str, list]:
    """Every civil_events row staged and its outcome, findings, fixes and core rows."""
    queries = {
        "staged": """SELECT s.*, p.payload::text, p.payload_text
                     FROM staging.civil_events s JOIN staging.payloads p USING (batch_no, row_no)
                     ORDER BY row_no""",
        "findings": "SELECT row_no, rule_id, reason FROM audit.findings ORDER BY 1, 2",
        "fixes": "SELECT row_no, rule_id, field, original, fixed FROM audit.fixes ORDER BY 1, 3",
        "quarantine": "SELECT row_no, record_key, rule_ids FROM quarantine.records ORDER BY 1",
        "core": """SELECT event_id, event_type, personal_id, full_name, event_date, updated_at,
                          is_deleted, extra
                   FROM core.civil_events ORDER BY 1""",
        "batches": """SELECT status, received, fixed, published, quarantined, collapsed, applied
                      FROM audit.batches WHERE status <> 'failed'""",
    }
    with psycopg.connect(url) as conn:
        state = {name: conn.execute(query).fetchall() for name, query in queries.items()}
    state["staged"] = [row[1:] for row in state["staged"]]  # batch_no
    return state


def test_registry_rows_prepared_by_workers_end_exactly_as_items_built_in_one_process(
    warehouse_url, second_warehouse, registry_db, monkeypatch
):
    from lienthong.civil_events import dataset as civil_events
    from lienthong.pipeline.extraction import pickled_chunk
    from lienthong.pipeline.sync import extract, publish, validate
    from lienthong.registry.extraction import registry_items

    mariadb = registry_db.engine == "mariadb"
    registry_db.create(
        province_code="01",
        count=400,
        seed=8,
        now=NOW - timedelta(minutes=10),
        defect_rate=0.25,
        loose=mariadb,  # wider types and odd values: zero dates, bytes, 2 in a boolean
        mysql=mariadb,
    )
    # Items built from packed rows that crossed a pickle are the items read as dicts.
    extraction, as_dicts = registry_db.read(chunk_size=97)
    with registry_db.extraction(chunk_size=97) as packed:
        packed.open()
        keys = packed.item_keys
        crossed = [
            item
            for rows in packed.packed_chunks()
            for item in pickle.loads(
                pickle.dumps(pickled_chunk(rows, partial(registry_items, keys)))
            ).items()
        ]
    assert len(as_dicts) == extraction.received == packed.received >= 400
    assert crossed == as_dicts

    source = Source(
        dataset="civil_events",
        province="01",
        conn_id=registry_db.conn_id,
        thresholds=LOW,
    )

    def run(key: str) -> None:
        batch_no = extract(source, key)
        validate(source, batch_no)
        publish(source, batch_no)

    monkeypatch.setattr(civil_events, "CHUNK_ROWS", 97)
    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "2")
    monkeypatch.setattr(preparation, "WORKERS_FROM", 300)
    monkeypatch.setattr(preparation, "ProcessPoolExecutor", NotingPool)
    NotingPool.starts, NotingPool.kinds = [], set()
    run("civil_events_01:workers")
    workers = _registry_state(warehouse_url)

    monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "1")
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", second_warehouse)
    run("civil_events_01:one-process")
    one_process = _registry_state(second_warehouse)
    received = len(as_dicts)
    # The window's count announced every row, past WORKERS_FROM: the first chunk of 97 rows
    # was prepared in the task, the others by the workers, handed them packed.
    assert NotingPool.starts == list(range(97, received, 97))
    assert NotingPool.kinds == {EncodedChunk}
    assert workers["batches"][0][:2] == ("published", received)
    assert workers["quarantine"] and workers["findings"]
    assert workers == one_process
