"""Which warehouse to use, and how to connect to it.

Resolution order: the ``LIENTHONG_WAREHOUSE_URL`` environment variable, then the
Airflow connection ``warehouse``, then the embedded PostgreSQL server. The URL
is kept in libpq form (``postgresql://…``) for psycopg; ``sqlalchemy_url``
derives the SQLAlchemy form for Great Expectations.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from lienthong.settings import WAREHOUSE_CONN_ID

log = logging.getLogger(__name__)

ENV_VAR = "LIENTHONG_WAREHOUSE_URL"

_SCHEME = re.compile(r"^(postgres|postgresql)(\+[a-z0-9_]+)?://")


def _libpq(url: str) -> str:
    """Turn a SQLAlchemy or Airflow-style PostgreSQL URL into a libpq URI."""
    if not _SCHEME.match(url):
        raise ValueError(
            f"the warehouse must be PostgreSQL; got a URL with scheme {url.split(':')[0]!r}"
        )
    return _SCHEME.sub("postgresql://", url, count=1)


def _from_airflow(conn_id: str) -> str | None:
    """The URI of an Airflow connection, or None when it is not defined (or Airflow is absent)."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # not defined: fall through to the next source
        log.debug("no Airflow connection %s: %s", conn_id, type(exc).__name__)
        return None
    return conn.get_uri()


def warehouse_url() -> str:
    """The warehouse's libpq URI: environment, Airflow connection, or the embedded server."""
    url = os.environ.get(ENV_VAR) or _from_airflow(WAREHOUSE_CONN_ID)
    if url:
        return _libpq(url)
    from lienthong.warehouse import embedded

    return embedded.ensure_running()


def sqlalchemy_url(url: str | None = None) -> str:
    """The SQLAlchemy form (psycopg 3 driver) of a warehouse URI."""
    return _SCHEME.sub("postgresql+psycopg://", url or warehouse_url(), count=1)


def redact(url: str) -> str:
    """A URL safe to log: the password replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


@contextmanager
def connect(url: str | None = None, **kwargs) -> Iterator[psycopg.Connection]:
    """A psycopg connection to the warehouse in autocommit mode: each ``conn.transaction()``
    block is a real transaction, committed when it ends (what other sessions, such as Great
    Expectations' own connection, can see)."""
    kwargs.setdefault("autocommit", True)
    with psycopg.connect(url or warehouse_url(), **kwargs) as conn:
        yield conn


def with_database(url: str, database: str) -> str:
    """The same server URI, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))
