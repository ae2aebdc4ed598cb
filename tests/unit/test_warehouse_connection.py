"""Which warehouse is used, and URLs safe to log."""

from __future__ import annotations

import json

import pytest

from lienthong.warehouse import connection


def test_environment_wins_and_sqlalchemy_form_uses_psycopg(monkeypatch):
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "postgresql+psycopg://u:secret@db:5432/wh")
    assert connection.warehouse_url() == "postgresql://u:secret@db:5432/wh"
    assert connection.sqlalchemy_url() == "postgresql+psycopg://u:secret@db:5432/wh"


def test_the_airflow_connection_is_used_when_no_environment_url(monkeypatch):
    monkeypatch.delenv("LIENTHONG_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv(
        "AIRFLOW_CONN_WAREHOUSE",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "10.0.0.5",
                "login": "loader",
                "password": "pw",
                "schema": "wh",
                "port": 5432,
            }
        ),
    )
    assert connection.warehouse_url() == "postgresql://loader:pw@10.0.0.5:5432/wh"


def test_a_non_postgresql_url_is_refused(monkeypatch):
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "mysql://u@h/db")
    with pytest.raises(ValueError, match="must be PostgreSQL"):
        connection.warehouse_url()


def test_redact_hides_the_password_only():
    assert connection.redact("postgresql://loader:s3cr3t@db:5432/wh") == (
        "postgresql://loader:***@db:5432/wh"
    )
    assert connection.redact("postgresql://postgres:@/lienthong?host=/x") == (
        "postgresql://postgres:***@/lienthong?host=/x"
    )


def test_with_database_keeps_host_and_query():
    assert connection.with_database("postgresql://postgres:@/postgres?host=/tmp/pg", "lt_1") == (
        "postgresql://postgres:@/lt_1?host=/tmp/pg"
    )
