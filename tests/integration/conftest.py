"""Fixtures of the integration tests: registry databases on PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest

from lienthong.pipeline import preparation

from .registry_servers import ENGINES, RegistryDatabase, mariadb_admin_url


@pytest.fixture(params=ENGINES)
def registry_db(request, monkeypatch) -> Iterator[RegistryDatabase]:
    """A throwaway registry database on each engine, with a read-only Airflow connection."""
    engine = request.param
    if engine == "postgresql":
        server = request.getfixturevalue("pg_admin_url")
    else:
        server = mariadb_admin_url()
    suffix = uuid.uuid4().hex[:10]
    database = RegistryDatabase(
        engine=engine,
        server_url=server,
        name=f"lt_registry_{suffix}",
        conn_id=f"registry_test_{suffix}",
        reader=f"lt_reader_{suffix}",
        monkeypatch=monkeypatch,
    )
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture(params=["in the task", "by workers"])
def prepared(request, monkeypatch) -> Iterator[str]:
    """Where a batch's items are prepared: in the task's own process, or (from the first item
    on) by two worker processes, as a large batch is; then the workers must have had them."""
    handed: list[int] = []

    class Pool(ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):
            handed.append(len(args[2]))
            return super().submit(fn, *args, **kwargs)

    if request.param == "by workers":
        monkeypatch.setattr(preparation, "WORKERS_FROM", 0)
        monkeypatch.setattr(preparation, "ProcessPoolExecutor", Pool)
        monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "2")
    else:
        monkeypatch.setenv("LIENTHONG_PREPARE_WORKERS", "1")
    yield request.param
    if request.param == "by workers":
        assert sum(handed) > 0, "no item reached a preparation worker"
