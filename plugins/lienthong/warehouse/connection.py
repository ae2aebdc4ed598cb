"""Which warehouse to use, and how to connect to it.

Resolution order: the ``LIENTHONG_WAREHOUSE_URL`` environment variable, then the Airflow
connection ``warehouse`` (read through the postgres provider's ``PostgresHook``, extras
included), then, only when neither is configured, the embedded PostgreSQL server. A
configured connection that cannot be read is an error, never a reason to fall back to the
embedded server: a run must not quietly load a throwaway database.

The result is a libpq connection string (a ``postgresql://`` URI or ``key=value`` pairs) for
psycopg; ``sqlalchemy_url`` derives the SQLAlchemy form for Great Expectations. Whatever it
comes from, the password is registered with Airflow's secrets masker.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from lienthong.settings import WAREHOUSE_CONN_ID

log = logging.getLogger(__name__)

ENV_VAR = "LIENTHONG_WAREHOUSE_URL"

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://")


class WarehouseConfigError(RuntimeError):
    """The warehouse is configured, but its configuration cannot be used."""


def _libpq(url: str) -> str:
    """A SQLAlchemy or Airflow-style PostgreSQL URL (or libpq key=value string) for libpq."""
    if "://" not in url:
        return url  # key=value form
    if not _SCHEME.match(url):
        raise WarehouseConfigError(
            f"the warehouse must be PostgreSQL; got a URL with scheme {url.split(':')[0]!r}"
        )
    return _SCHEME.sub("postgresql://", url, count=1)


def _from_airflow(conn_id: str) -> str | None:
    """The libpq string of an Airflow connection; None when it is not defined (or Airflow is
    not installed). Any other failure to read it is raised."""
    try:
        from airflow.providers.postgres.hooks.postgres import PostgresHook
        from airflow.sdk.exceptions import AirflowNotFoundException
    except ImportError:
        return None
    hook = PostgresHook(postgres_conn_id=conn_id)
    try:
        conn = hook.connection
    except AirflowNotFoundException:
        # Airflow reports a secrets backend that failed as "not defined": ask each backend.
        failures = _backend_failures(conn_id)
        if failures or f"AIRFLOW_CONN_{conn_id.upper()}" in os.environ:
            raise WarehouseConfigError(
                f"the Airflow connection {conn_id!r} is configured but could not be read "
                f"({'; '.join(failures) or 'its AIRFLOW_CONN_ variable does not parse'}); "
                "refusing to fall back to the embedded warehouse"
            ) from None
        log.debug("no Airflow connection %s", conn_id)
        return None
    except Exception as exc:
        raise WarehouseConfigError(
            f"the Airflow connection {conn_id!r} could not be read ({type(exc).__name__}); "
            "refusing to fall back to the embedded warehouse"
        ) from exc
    if conn.conn_type not in (None, "", "postgres", "postgresql"):
        raise WarehouseConfigError(
            f"the Airflow connection {conn_id!r} is of type {conn.conn_type!r}, not postgres"
        )
    # The same arguments PostgresHook.get_conn gives libpq: the fields, and the extras that are
    # libpq parameters (sslmode, options, ...), not Airflow's own keys (cursor, iam, ...).
    params = {
        "host": conn.host,
        "port": conn.port,
        "user": conn.login,
        "password": conn.password,
        "dbname": conn.schema,
        **{k: v for k, v in conn.extra_dejson.items() if k not in hook.ignored_extra_options},
    }
    return make_conninfo(**{k: str(v) for k, v in params.items() if v not in (None, "")})


def _backend_failures(conn_id: str) -> list[str]:
    """The secrets backends that raise when asked for ``conn_id`` (Airflow's own lookup
    swallows their errors), as 'Backend: Error' lines."""
    try:
        from airflow.sdk.execution_time.supervisor import ensure_secrets_backend_loaded
    except ImportError:
        return []
    failures = []
    for backend in ensure_secrets_backend_loaded():
        try:
            backend.get_connection(conn_id=conn_id)
        except Exception as exc:
            failures.append(f"secrets backend {type(backend).__name__}: {type(exc).__name__}")
    return failures


def _from_env(value: str) -> str:
    """``LIENTHONG_WAREHOUSE_URL`` as a libpq string, checked here rather than at the first
    connection: psycopg's errors about a string it cannot parse quote the part it stumbled on
    (often the password, e.g. an unencoded ``%``) and would reach the task log unmasked, since
    the masker cannot find a password in a string that does not parse.

    Raises:
        WarehouseConfigError: naming the variable, never quoting the password.
    """
    try:
        url = _libpq(value)
        params = conninfo_to_dict(url)
    except WarehouseConfigError as exc:
        raise WarehouseConfigError(f"{ENV_VAR}: {exc}") from None
    except (psycopg.ProgrammingError, UnicodeDecodeError) as exc:
        reason = (
            "a percent-encoded value is not UTF-8"
            if isinstance(exc, UnicodeDecodeError)
            # What psycopg quotes may be the password (all but a missing "=").
            else re.sub(r'"([^"]*)"', lambda m: m[0] if m[1] == "=" else '"…"', str(exc).strip())
        )
        # Only the URI form is redacted reliably; a string that is neither is not shown.
        shown = f" ({redact(value)})" if _SCHEME.match(value) else ""
        raise WarehouseConfigError(
            f"{ENV_VAR} cannot be read as a PostgreSQL URL or libpq connection string: "
            f"{reason}{shown}; special characters of the user and password are percent-encoded"
        ) from None  # psycopg's own error, chained, would show the password in the traceback
    if "@" in (params.get("host") or ""):
        # libpq reads "u:p@ss@db" as password "p" on host "ss@db", then names that host.
        raise WarehouseConfigError(
            f"{ENV_VAR}: an '@' in the user or password must be percent-encoded (%40)"
        )
    return url


def warehouse_url() -> str:
    """The warehouse's libpq string: environment, Airflow connection, or the embedded server."""
    env = os.environ.get(ENV_VAR)
    url = _from_env(env) if env else _from_airflow(WAREHOUSE_CONN_ID)
    if not url:
        from lienthong.warehouse import embedded

        url = embedded.ensure_running()
    _mask_password(url)
    return url


def _mask_password(url: str) -> None:
    """Register the password with Airflow's secrets masker, so no log line shows it."""
    try:
        password = conninfo_to_dict(url).get("password")
    except psycopg.ProgrammingError:
        return
    if not password:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return
    mask_secret(password)


def sqlalchemy_url(url: str | None = None) -> str:
    """The SQLAlchemy form (psycopg 3 driver) of a warehouse's libpq string."""
    from sqlalchemy.engine import URL

    params = conninfo_to_dict(url or warehouse_url())
    host = params.pop("host", None)
    query = {
        k: str(v) for k, v in params.items() if k not in ("user", "password", "port", "dbname")
    }
    if host and (host.startswith("/") or "," in host):
        query["host"] = host  # a socket folder, or several hosts: libpq's own syntax
        host = None
    return URL.create(
        "postgresql+psycopg",
        username=params.get("user"),
        password=params.get("password"),
        host=host,
        port=int(params["port"]) if params.get("port") else None,
        database=params.get("dbname"),
        query=query,
    ).render_as_string(hide_password=False)


_URI_PASSWORD = re.compile(r"(://[^:/@?#]*:)[^@/?#]*@")
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#\s]*", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def redact(url: str) -> str:
    """A connection string safe to log: every form of password replaced by ***."""
    url = _URI_PASSWORD.sub(r"\1***@", url)
    url = _QUERY_PASSWORD.sub(r"\1***", url)
    if "://" not in url:
        url = _KEYWORD_PASSWORD.sub(r"\1***", url)
    return url


@contextmanager
def connect(url: str | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the warehouse in autocommit mode: each ``conn.transaction()``
    block is a real transaction, committed when it ends (what other sessions, such as Great
    Expectations' own connection, can see)."""
    kwargs.setdefault("autocommit", True)
    with psycopg.connect(url or warehouse_url(), **kwargs) as conn:
        yield conn


def with_database(url: str, database: str) -> str:
    """The same server's connection string, naming another database."""
    if "://" not in url:
        return make_conninfo(url, dbname=database)
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))
