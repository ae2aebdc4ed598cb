"""Registry connection → SQLAlchemy URL, secrets, and item values (no server needed)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from airflow.sdk import Connection

from lienthong.registry.extraction import RegistryExtraction, normalise_value
from lienthong.registry.hook import RegistryConfigError, RegistryHook

PASSWORD = "p@ss:w/rd%"
QUOTED = "p%40ss%3Aw%2Frd%25"


def _hook(uri: str) -> RegistryHook:
    return RegistryHook("registry_07", connection=Connection.from_uri(uri, conn_id="registry_07"))


def test_postgresql_uses_psycopg3_and_passes_other_extras_to_it() -> None:
    hook = _hook(f"postgresql://reader:{QUOTED}@10.1.2.3:5433/hotich?sslmode=require")
    url = hook.sqlalchemy_url
    assert hook.family == "postgresql"
    assert url.drivername == "postgresql+psycopg"
    assert (url.username, url.password, url.host, url.port, url.database) == (
        "reader",
        PASSWORD,
        "10.1.2.3",
        5433,
        "hotich",
    )
    assert hook.connect_args() == {"sslmode": "require"}
    assert PASSWORD not in repr(url) and PASSWORD not in str(url)


@pytest.mark.parametrize(
    ("scheme", "driver"), [("mysql", "mysql+pymysql"), ("mariadb", "mariadb+pymysql")]
)
def test_mysql_family_uses_pymysql(scheme: str, driver: str) -> None:
    hook = _hook(f"{scheme}://reader:{QUOTED}@10.1.2.4:3306/hotich")
    url = hook.sqlalchemy_url
    assert hook.family == "mysql"
    assert url.drivername == driver
    assert (url.username, url.password, url.port, url.database) == (
        "reader",
        PASSWORD,
        3306,
        "hotich",
    )
    assert hook.connect_args() == {"charset": "utf8mb4"}
    assert PASSWORD not in repr(url)


def test_mysql_extras_are_read_or_refused_by_name() -> None:
    ssl = json.dumps({"ca": "/etc/ssl/registry-ca.pem"})
    uri = f"mysql://reader:pw@db:3306/hotich?ssl={ssl}&connect_timeout=5&charset=utf8mb4"
    assert _hook(uri).connect_args() == {
        "charset": "utf8mb4",
        "ssl": {"ca": "/etc/ssl/registry-ca.pem"},
        "connect_timeout": 5,
    }
    with pytest.raises(RegistryConfigError, match=r"registry_07.*\['cursor'\]"):
        _hook("mysql://reader:pw@db:3306/hotich?cursor=sscursor").sqlalchemy_url  # noqa: B018
    with pytest.raises(RegistryConfigError, match=r"registry_07.*mysqlclient"):
        _hook("mysql://reader:pw@db:3306/hotich?client=mysqlclient").sqlalchemy_url  # noqa: B018


def test_a_connection_that_is_not_a_database_is_refused() -> None:
    with pytest.raises(RegistryConfigError, match=r"registry_07.*'http'"):
        _hook("http://reader:pw@db:80/hotich").family  # noqa: B018


def test_the_connection_is_found_by_id(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_REGISTRY_40", f"mariadb://reader:{QUOTED}@db:3306/hotich")
    hook = RegistryHook("registry_40")
    assert hook.sqlalchemy_url.drivername == "mariadb+pymysql"
    assert hook.connection.password == PASSWORD


def test_messages_mask_the_password_in_every_form() -> None:
    hook = _hook(f"mysql://reader:{QUOTED}@db:3306/hotich")
    text = f"failed for {PASSWORD} at mysql://reader:{QUOTED}@db"
    assert PASSWORD not in hook.mask(text) and QUOTED not in hook.mask(text)
    error = RuntimeError(f"driver said {PASSWORD}")
    assert hook.describe_error(error) == "RuntimeError: driver said ***"


def test_values_as_items_hold_them() -> None:
    naive = datetime(2026, 11, 20, 8, 15)
    assert normalise_value("updated_at", naive) == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    plus7 = datetime(2026, 11, 20, 15, 15, tzinfo=timezone(timedelta(hours=7)))
    assert normalise_value("registered_at", plus7) == datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
    assert normalise_value("event_date", date(2026, 11, 20)) == date(2026, 11, 20)
    # MySQL's BOOLEAN is TINYINT(1): 0/1 are booleans, anything else stays for E-K3.
    assert normalise_value("is_deleted", 0) is False
    assert normalise_value("is_deleted", 1) is True
    assert normalise_value("is_deleted", 2) == 2
    assert normalise_value("is_deleted", "1") == "1"
    assert normalise_value("is_deleted", b"\x01") is True  # BIT(1)
    assert normalise_value("commune_code", 1) == 1  # only contract booleans are converted
    # Odd MariaDB values arrive as strings and stay so.
    assert normalise_value("event_date", "0000-00-00") == "0000-00-00"
    assert normalise_value("full_name", "Lê\x00Na") == "Lê\x00Na"
    # Binary text: UTF-8, invalid bytes kept as lone surrogates (E-K3 catches them).
    assert normalise_value("full_name", "Lê".encode()) == "Lê"
    assert normalise_value("full_name", b"L\xea") == "L\udcea"


def test_extraction_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="since must be timezone-aware"):
        RegistryExtraction("registry_07", since=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="until must be timezone-aware"):
        RegistryExtraction("registry_07", since=None, until=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="chunk_size"):
        RegistryExtraction("registry_07", since=None, chunk_size=0)
    with pytest.raises(ValueError, match="commit_lag"):
        RegistryExtraction("registry_07", since=None, commit_lag=timedelta(seconds=-1))
    with pytest.raises(ValueError, match="recheck_from"):
        RegistryExtraction("registry_07", since=None, recheck_from=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="recheck_from"):
        RegistryExtraction(
            "registry_07",
            since=datetime(2026, 1, 1, tzinfo=UTC),
            recheck_from=datetime(2026, 1, 2, tzinfo=UTC),
        )
    extraction = RegistryExtraction("registry_07", since=None)
    with pytest.raises(RuntimeError, match="not open"):
        extraction.window  # noqa: B018
