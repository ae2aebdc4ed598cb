"""Helpers shared by the population integration tests: a demo Ministry server and snapshots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg

from lienthong.pipeline import sync
from lienthong.sources import Source
from lienthong_demo.ministry_server import MinistryServer

TOKEN = "integration-test-token"


def ministry_connection(port: int) -> str:
    """The ``ministry_population`` Airflow connection (JSON form) of a server on loopback."""
    return json.dumps(
        {
            "conn_type": "http",
            "host": "127.0.0.1",
            "port": port,
            "schema": "http",
            "password": TOKEN,
        }
    )


@contextmanager
def ministry(monkeypatch, items: list[dict], **options) -> Iterator[MinistryServer]:
    """Serve ``items`` on loopback and point the ``ministry_population`` connection at it."""
    with MinistryServer(items, token=TOKEN, **options) as server:
        monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", ministry_connection(server.port))
        yield server


def snapshot(url: str) -> dict[str, list]:
    """What a rerun must not change: core, quarantine, findings, fixes, batch counts, watermark."""
    queries = {
        "core": "SELECT * FROM core.population ORDER BY personal_id",
        "quarantine": "SELECT batch_no, row_no, record_key, rule_ids, payload, status"
        " FROM quarantine.records ORDER BY 1, 2",
        "findings": "SELECT * FROM audit.findings ORDER BY 1, 2, 3",
        "fixes": "SELECT * FROM audit.fixes ORDER BY 1, 2, 4",
        "batches": "SELECT batch_no, batch_key, mode, status, received, fixed, published,"
        " quarantined, collapsed FROM audit.batches ORDER BY 1",
        "watermarks": "SELECT dataset, watermark, batch_no FROM audit.watermarks",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in queries.items()}


#: The population source as the tests configure it (the shipped sources file's, smaller pages).
SOURCE = Source(dataset="population", conn_id="ministry_population", page_size=500)


class population_sync:
    """The sync's steps for the test's population source, as the DAG's tasks call them."""

    @staticmethod
    def extract(batch_key: str, *, full: bool = False, now: datetime | None = None) -> int:
        return sync.extract(SOURCE, batch_key, full=full, now=now)

    @staticmethod
    def validate(batch_no: int) -> dict:
        return sync.validate(SOURCE, batch_no)

    @staticmethod
    def publish(batch_no: int) -> dict:
        return sync.publish(SOURCE, batch_no)


def run_batch(batch_key: str, *, now: datetime, full: bool = True) -> tuple[int, dict]:
    """Extract, validate and publish one batch, as the DAG's tasks do; (batch_no, counts)."""
    batch_no = population_sync.extract(batch_key, full=full, now=now)
    population_sync.validate(batch_no)
    return batch_no, population_sync.publish(batch_no)
