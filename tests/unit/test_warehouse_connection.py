"""Which warehouse is used, and connection strings safe to log."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from psycopg.conninfo import conninfo_to_dict

from lienthong.settings import PROJECT_ROOT
from lienthong.warehouse import connection


def test_environment_wins_and_sqlalchemy_form_uses_psycopg(monkeypatch):
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "postgresql+psycopg://u:secret@db:5432/wh")
    assert connection.warehouse_url() == "postgresql://u:secret@db:5432/wh"
    assert connection.sqlalchemy_url() == "postgresql+psycopg://u:secret@db:5432/wh"


def _airflow_connection(monkeypatch, **fields) -> None:
    monkeypatch.delenv("LIENTHONG_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "postgres", **fields}))


def test_the_airflow_connection_is_used_when_no_environment_url(monkeypatch):
    _airflow_connection(
        monkeypatch, host="10.0.0.5", login="loader", password="pw", schema="wh", port=5432
    )
    assert conninfo_to_dict(connection.warehouse_url()) == {
        "host": "10.0.0.5",
        "port": "5432",
        "user": "loader",
        "password": "pw",
        "dbname": "wh",
    }


def test_a_connection_with_extras_keeps_libpq_ones_and_drops_airflow_ones(monkeypatch):
    _airflow_connection(
        monkeypatch,
        host="10.0.0.5",
        login="loader",
        password="p@ss word",
        schema="wh",
        port=5432,
        extra={"sslmode": "require", "cursor": "dictcursor", "connect_timeout": 7},
    )
    url = connection.warehouse_url()
    params = conninfo_to_dict(url)
    assert params["sslmode"] == "require"
    assert params["connect_timeout"] == "7"
    assert "cursor" not in params
    assert params["password"] == "p@ss word"
    assert connection.sqlalchemy_url(url) == (
        "postgresql+psycopg://loader:p%40ss word@10.0.0.5:5432/wh?connect_timeout=7&sslmode=require"
    )


def test_an_unreadable_connection_is_an_error_not_the_embedded_server(monkeypatch):
    monkeypatch.delenv("LIENTHONG_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", "{this is not json")
    started = []
    monkeypatch.setattr(
        "lienthong.warehouse.embedded.ensure_running", lambda *a, **k: started.append(1)
    )
    with pytest.raises(connection.WarehouseConfigError, match="refusing to fall back"):
        connection.warehouse_url()
    assert started == []


def test_a_failing_secrets_backend_is_an_error_and_starts_no_embedded_server(tmp_path):
    # A real Airflow secrets backend that raises, configured as a deployment would; a fresh
    # process, because Airflow reads its secrets configuration once.
    env = {
        **os.environ,
        "AIRFLOW__SECRETS__BACKEND": "tests.support.failing_secrets.FailingSecretsBackend",
        "LIENTHONG_HOME": str(tmp_path),
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    env.pop("LIENTHONG_WAREHOUSE_URL", None)
    env.pop("AIRFLOW_CONN_WAREHOUSE", None)
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lienthong.warehouse.connection import warehouse_url as w; w()",
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0
    assert "WarehouseConfigError" in run.stderr
    assert "FailingSecretsBackend: ConnectionError" in run.stderr
    assert list(tmp_path.iterdir()) == []  # no embedded server was started


def test_a_non_postgresql_url_is_refused(monkeypatch):
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "mysql://u@h/db")
    with pytest.raises(connection.WarehouseConfigError, match="must be PostgreSQL"):
        connection.warehouse_url()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql:/loader:Pw-0f-the-wh@db/wh",  # one slash: read as key=value pairs
        "postgresql://loader:Pw-0f%the-wh@db/wh",  # a "%" not percent-encoded
        "postgresql://loader:Pw-0f%e9-wh@db/wh",  # percent-encoded, but not UTF-8
        "postgresql://loader:Pw-0f-the-wh@db/wh?sslmod=require",  # not a libpq parameter
        "postgresql://loader:Pw-0f@the-wh@db/wh",  # an "@" not percent-encoded
    ],
)
def test_a_malformed_url_is_an_error_naming_the_variable_without_the_password(monkeypatch, url):
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", url)
    with pytest.raises(connection.WarehouseConfigError) as raised:
        connection.warehouse_url()
    error = raised.value
    assert "LIENTHONG_WAREHOUSE_URL" in str(error)
    assert "Pw-0f" not in str(error) and "the-wh" not in str(error)
    # Nor in the traceback: psycopg's own error, which quotes it, is not chained.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__


def test_the_command_reports_a_malformed_url_without_a_traceback(monkeypatch, capsys):
    from lienthong.cli import main

    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "postgresql://loader:Pw-0f%the-wh@db/wh")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lienthong migrate: LIENTHONG_WAREHOUSE_URL cannot be read")
    assert "Pw-0f" not in err and "Traceback" not in err


def test_the_password_is_registered_with_the_secrets_masker(monkeypatch):
    from airflow.sdk._shared.secrets_masker import redact as masked

    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "postgresql://u:Sup3r-secret-pw@db/wh")
    connection.warehouse_url()
    assert "Sup3r-secret-pw" not in str(masked("password is Sup3r-secret-pw"))


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("postgresql://loader:s3cr3t@db:5432/wh", "postgresql://loader:***@db:5432/wh"),
        (
            "postgresql://postgres:@/lienthong?host=/x",
            "postgresql://postgres:***@/lienthong?host=/x",
        ),
        (
            "postgresql://u@db/wh?password=s3cr3t&sslmode=x",
            "postgresql://u@db/wh?password=***&sslmode=x",
        ),
        ("host=db user=u password=s3cr3t dbname=wh", "host=db user=u password=*** dbname=wh"),
        ("host=db password='s3 cr\\'3t' dbname=wh", "host=db password=*** dbname=wh"),
    ],
)
def test_redact_hides_every_form_of_password(url, safe):
    assert connection.redact(url) == safe


def test_with_database_keeps_host_and_query():
    assert connection.with_database("postgresql://postgres:@/postgres?host=/tmp/pg", "lt_1") == (
        "postgresql://postgres:@/lt_1?host=/tmp/pg"
    )
    assert conninfo_to_dict(connection.with_database("host=/tmp/pg dbname=postgres", "lt_1")) == {
        "host": "/tmp/pg",
        "dbname": "lt_1",
    }
