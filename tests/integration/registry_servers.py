"""Registry databases for the integration tests, on the real PostgreSQL and MariaDB servers.

Each test gets a throwaway database on the server, the ``civil_events`` table it writes there,
and an account that can read that table and nothing else, reached through an Airflow
connection (``AIRFLOW_CONN_…``) as a deployment would. PostgreSQL is the warehouse server of the
test session (``LIENTHONG_TEST_WAREHOUSE_URL`` or the embedded one); MariaDB is the machine's,
``LIENTHONG_TEST_MARIADB_URL`` (default ``mysql://root@127.0.0.1:3306/mysql``). Without a MariaDB
the MariaDB cases skip, saying why, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from lienthong.registry.extraction import RegistryExtraction
from lienthong_demo import registry_databases
from lienthong_demo.registry import GeneratedRegistry, create_registry

MARIADB_URL = os.environ.get("LIENTHONG_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/mysql")

#: A password with every character a URI must escape, to catch it in any message.
READER_PASSWORD = "Rd-S3cr:t@/p%w?#"

ENGINES = ("postgresql", "mariadb")


def mariadb_admin_url() -> str:
    """The MariaDB admin URL, or skip (fail in CI) when no server answers."""
    hook = registry_databases.registry_hook(MARIADB_URL)
    try:
        with hook.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        reason = f"no MariaDB answers at {hook.mask(MARIADB_URL)} ({type(exc).__name__}: {exc})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must test the registry against MariaDB", pytrace=False)
        pytest.skip(f"{reason}; set LIENTHONG_TEST_MARIADB_URL or start MariaDB on 127.0.0.1:3306")
    return MARIADB_URL


@dataclass
class RegistryDatabase:
    """One throwaway registry database and its reader's Airflow connection."""

    engine: str  # postgresql or mariadb
    server_url: str  # the admin account on the server's default database
    name: str
    conn_id: str
    reader: str
    monkeypatch: Any
    admin_url: str = field(init=False)
    reader_url: str | None = None

    def __post_init__(self) -> None:
        self.admin_url = registry_databases.create_database(self.server_url, self.name)

    def create(self, **generate: Any) -> GeneratedRegistry:
        """Write a generated registry (see `create_registry`) and grant the reader."""
        registry = create_registry(self.admin_url, **generate)
        self.grant()
        return registry

    def execute(self, *statements: str) -> None:
        """Run SQL with the admin account (then grant the reader on ``civil_events``)."""
        engine = registry_databases.registry_hook(self.admin_url).get_sqlalchemy_engine()
        try:
            with engine.begin() as conn:
                for statement in statements:
                    conn.exec_driver_sql(statement)
        finally:
            engine.dispose()

    def grant(self, table: str = "civil_events") -> None:
        """(Re)create the read-only account and point the Airflow connection at it."""
        self.reader_url = registry_databases.create_reader(
            self.admin_url, self.reader, READER_PASSWORD, table
        )
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{self.conn_id.upper()}", self.reader_url)

    def extraction(self, **options: Any) -> RegistryExtraction:
        options.setdefault("since", None)
        return RegistryExtraction(self.conn_id, **options)

    def read(self, **options: Any) -> tuple[RegistryExtraction, list[dict[str, Any]]]:
        """Run one extraction to the end: (the extraction, every item in order)."""
        with self.extraction(**options) as extraction:
            items = [item for chunk in extraction.chunks() for item in chunk]
        return extraction, items

    def admin_rows(self, sql: str) -> list[tuple]:
        engine = registry_databases.registry_hook(self.admin_url).get_sqlalchemy_engine()
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.exec_driver_sql(sql)]
        finally:
            engine.dispose()

    def drop(self) -> None:
        registry_databases.drop_database(self.server_url, self.name)
        registry_databases.drop_reader(self.server_url, self.reader)


def mariadb_sessions(server: str, user: str) -> list[tuple]:
    """(command, state, info) of every MariaDB session of ``user``."""
    hook = registry_databases.registry_hook(server)
    with hook.connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                sa.text(
                    "SELECT command, state, info FROM information_schema.processlist"
                    " WHERE user = :user"
                ),
                {"user": user},
            )
        ]
