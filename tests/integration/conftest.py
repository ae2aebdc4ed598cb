"""Fixtures of the integration tests: registry databases on PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

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
