"""Connection to a provincial civil-status registry database (SOURCES.md §2).

Each province's registry is one Airflow connection, in its usual URI form, with a read-only
account::

    AIRFLOW_CONN_REGISTRY_01='postgresql://reader:pw@10.0.0.5:5432/hotich'
    AIRFLOW_CONN_REGISTRY_40='mysql://reader:pw@10.0.0.9:3306/hotich'     # or mariadb://

`RegistryHook` turns that connection into a SQLAlchemy engine.

PostgreSQL goes through psycopg 3. The URL is `PostgresHook.sqlalchemy_url` itself, so the
connection extras Airflow users know (``sqlalchemy_scheme``, ``sqlalchemy_query``, ``iam``)
mean what they mean there, and every other extra (``sslmode``, ``sslrootcert``, ``options``,
...) goes to psycopg as connection arguments, as `PostgresHook.get_conn` passes them.

MySQL and MariaDB go through PyMySQL (pinned ``PyMySQL>=1.1,<1.2``), not through
``apache-airflow-providers-mysql``: that provider requires ``mysqlclient`` on Linux, which PyPI
ships as a source distribution only (it compiles against libmysqlclient/libmariadb and needs
``pkg-config`` and a C compiler), and it pulls in ``mysql-connector-python`` and ``aiomysql`` as
well. PyMySQL is pure Python, maintained, installs from a wheel on a fresh machine, and is
SQLAlchemy's own ``mysql+pymysql``/``mariadb+pymysql`` driver; its server-side cursor
(``SSCursor``) streams rows, which the extraction needs. The pin matches the range the provider
itself accepts (``pymysql>=1.0.3,<1.2``), so adopting the provider later changes nothing here.
Supported extras for this family: ``charset`` (default ``utf8mb4``), ``ssl`` (PyMySQL's ssl
dict, or its JSON), ``unix_socket``, ``connect_timeout``, ``client`` (only ``pymysql``); any
other extra is an error rather than silently ignored.

Every session is put in UTC (PostgreSQL ``TimeZone``, MySQL ``time_zone``): the contract's
timestamps are UTC without a zone, and a MySQL ``TIMESTAMP`` is converted to the session's zone
when read, so any other session zone would shift every value.

A PostgreSQL ``DATE`` or ``TIMESTAMP`` holds values Python's cannot (``infinity``, a year past
9999 such as a mistyped ``20226-01-01``, a date BC), on which psycopg raises: one such value
failed the whole extraction, at every run. On a registry connection such a value arrives as
the server's text instead, which the contract check quarantines (rule E-K3), as PyMySQL hands
over a MariaDB zero date.

The password never appears in a log line or an exception message: messages name the connection
id, driver errors are quoted with the password masked, and driver exceptions are not chained
(``from None``) so that a traceback cannot carry one either.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

import sqlalchemy as sa
from airflow.sdk import BaseHook
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

#: Airflow connection types (``postgresql://`` is normalised to ``postgres``) and their family.
_FAMILIES = {
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}

_MYSQL_EXTRAS = frozenset({"charset", "ssl", "unix_socket", "connect_timeout", "client"})

#: Seconds a MySQL/MariaDB server waits for a streaming client to take more rows before it
#: aborts the query. The default (60 s) is shorter than staging one chunk can take.
MYSQL_NET_WRITE_TIMEOUT = 3600


class RegistryError(Exception):
    """Base class of every error about a registry source; messages name the connection id."""


class RegistryConfigError(RegistryError):
    """The Airflow connection cannot describe a registry (unknown type, unsupported extra)."""


class RegistryConnectionError(RegistryError):
    """The registry server could not be reached or refused the account."""


class RegistryHook(BaseHook):
    """A provincial registry database (PostgreSQL, MySQL or MariaDB) from an Airflow connection.

    Args:
        registry_conn_id: the Airflow connection id (e.g. ``registry_01``).
        connection: an Airflow ``Connection`` to use instead of looking the id up (the demo and
            tests build one from a URI with ``Connection.from_uri``).
    """

    conn_name_attr = "registry_conn_id"
    default_conn_name = "registry_default"
    hook_name = "Civil-status registry"

    def __init__(
        self, registry_conn_id: str = default_conn_name, *, connection: Any | None = None
    ) -> None:
        super().__init__()
        self.registry_conn_id = registry_conn_id
        self._connection = connection

    @property
    def connection(self) -> Any:
        """The Airflow connection (looked up once)."""
        if self._connection is None:
            self._connection = self.get_connection(self.registry_conn_id)
        return self._connection

    @property
    def family(self) -> str:
        """``postgresql`` or ``mysql`` (MySQL and MariaDB), from the connection type."""
        conn_type = (self.connection.conn_type or "").lower()
        try:
            return _FAMILIES[conn_type]
        except KeyError:
            raise RegistryConfigError(
                f"registry {self.registry_conn_id!r}: connection type {conn_type!r} is not a "
                "registry database (expected postgresql://, mysql:// or mariadb://)"
            ) from None

    @property
    def sqlalchemy_url(self) -> URL:
        """The SQLAlchemy URL (its ``repr``/``str`` mask the password)."""
        if self.family == "postgresql":
            return self._postgres_hook().sqlalchemy_url
        conn = self.connection
        self._check_mysql_extras()
        driver = "mariadb+pymysql" if conn.conn_type.lower() == "mariadb" else "mysql+pymysql"
        return URL.create(
            drivername=driver,
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=int(conn.port) if conn.port else None,
            database=conn.schema or None,
        )

    def connect_args(self) -> dict[str, Any]:
        """Driver arguments from the connection's extras (the URL carries the rest)."""
        extras = dict(self.connection.extra_dejson)
        if self.family == "postgresql":
            from airflow.providers.postgres.hooks.postgres import PostgresHook

            return {k: v for k, v in extras.items() if k not in PostgresHook.ignored_extra_options}
        self._check_mysql_extras()
        args: dict[str, Any] = {"charset": extras.get("charset", "utf8mb4")}
        if "ssl" in extras:
            ssl = extras["ssl"]
            args["ssl"] = json.loads(ssl) if isinstance(ssl, str) else ssl
        if "unix_socket" in extras:
            args["unix_socket"] = extras["unix_socket"]
        if "connect_timeout" in extras:
            args["connect_timeout"] = int(extras["connect_timeout"])
        return args

    def get_sqlalchemy_engine(self) -> Engine:
        """A new engine without a pool: each extraction opens and closes its own connection."""
        engine = sa.create_engine(
            self.sqlalchemy_url, connect_args=self.connect_args(), poolclass=NullPool
        )
        sa.event.listen(engine, "connect", _session_setup(self.family))
        return engine

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A SQLAlchemy connection in a UTC session; failures name the connection id.

        Raises:
            RegistryConnectionError: the server is unreachable or refused the account (the
                driver's message is quoted with the password masked).
        """
        engine = self.get_sqlalchemy_engine()
        try:
            try:
                conn = engine.connect()
            except sa.exc.DBAPIError as exc:
                raise RegistryConnectionError(
                    f"registry {self.registry_conn_id!r}: cannot connect to the "
                    f"{self.family} server: {self.describe_error(exc)}"
                ) from None
            with conn:
                yield conn
        finally:
            engine.dispose()

    def server_name(self, conn: sa.Connection) -> str:
        """``postgresql``, ``mariadb`` or ``mysql``: what the server says it is."""
        dialect = conn.dialect
        if dialect.name == "postgresql":
            return "postgresql"
        return "mariadb" if getattr(dialect, "is_mariadb", False) else "mysql"

    def describe_error(self, exc: BaseException) -> str:
        """The driver's message of ``exc`` (or of the exception it wraps), password masked."""
        orig = getattr(exc, "orig", None) or exc
        text = f"{type(orig).__name__}: {orig}".strip()
        return self.mask(text)

    def mask(self, text: str) -> str:
        """``text`` with the connection's password (plain and URL-quoted) replaced by ***."""
        password = self.connection.password
        if not password:
            return text
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            text = text.replace(form, "***")
        return text

    def test_connection(
        self, table: str = "civil_events", schema: str | None = None
    ) -> tuple[bool, str]:
        """Connect, read the server's clock and check that ``table`` can be read.

        Returns:
            (True, a description) or (False, the reason, password masked).
        """
        try:
            with self.connect() as conn:
                clock = conn.execute(sa.text(server_clock_sql(conn))).scalar_one()
                target = sa.table(table, schema=schema)
                conn.execute(sa.select(sa.literal(1)).select_from(target).where(sa.false()))
                server = self.server_name(conn)
                version = ".".join(str(p) for p in conn.dialect.server_version_info or ())
                conn.rollback()
        except RegistryError as exc:
            return False, str(exc)
        except sa.exc.DBAPIError as exc:
            return False, f"registry {self.registry_conn_id!r}: {self.describe_error(exc)}"
        return True, (
            f"Connection successfully tested ({server} {version}, table {table} readable, "
            f"server clock {clock:%Y-%m-%d %H:%M:%S} UTC)"
        )

    def _postgres_hook(self) -> Any:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        return PostgresHook(postgres_conn_id=self.registry_conn_id, connection=self.connection)

    def _check_mysql_extras(self) -> None:
        extras = self.connection.extra_dejson
        unknown = sorted(set(extras) - _MYSQL_EXTRAS)
        if unknown:
            raise RegistryConfigError(
                f"registry {self.registry_conn_id!r}: unsupported connection extras {unknown} "
                f"for MySQL/MariaDB (supported: {sorted(_MYSQL_EXTRAS)})"
            )
        client = extras.get("client", "pymysql")
        if client != "pymysql":
            raise RegistryConfigError(
                f"registry {self.registry_conn_id!r}: client {client!r} is not installed; "
                "MySQL/MariaDB registries are read with PyMySQL (client 'pymysql')"
            )


def server_clock_sql(conn: sa.Connection) -> str:
    """SQL reading the server's current time in UTC, as a timestamp without zone.

    PostgreSQL's ``now()`` is the start of the current transaction; MySQL's ``UTC_TIMESTAMP(6)``
    is the start of the statement.
    """
    if conn.dialect.name == "postgresql":
        return "SELECT now() AT TIME ZONE 'UTC'"
    return "SELECT UTC_TIMESTAMP(6)"


def _lenient_loader(loader: type) -> type:
    """A psycopg text loader that returns what ``loader`` returns, or the server's text where
    ``loader`` refuses the value (a date or timestamp out of Python's range)."""
    import psycopg
    from psycopg.adapt import Loader

    class Lenient(Loader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            # Bound once: every date of every row goes through it (about 0.5 us a value).
            self._load = loader(oid, context).load

        def load(self, data: Any) -> Any:
            try:
                return self._load(data)
            except psycopg.DataError:
                return bytes(data).decode("utf-8", "surrogateescape")

    return Lenient


#: PostgreSQL types whose every value the server holds, but not every one Python's does.
_PYTHON_RANGE_TYPES = ("date", "timestamp", "timestamptz")


def _lenient_dates(dbapi_connection: Any) -> None:
    """Register `_lenient_loader` for the date and time types on a psycopg connection."""
    from psycopg.pq import Format

    adapters = dbapi_connection.adapters
    for name in _PYTHON_RANGE_TYPES:
        oid = adapters.types[name].oid
        adapters.register_loader(oid, _lenient_loader(adapters.get_loader(oid, Format.TEXT)))


def _session_setup(family: str):
    """A ``connect`` event listener putting each new session in UTC (and, for MySQL, patient)."""
    if family == "postgresql":
        statements = ("SET TIME ZONE 'UTC'",)
    else:
        statements = (
            "SET time_zone = '+00:00'",
            f"SET SESSION net_write_timeout = {MYSQL_NET_WRITE_TIMEOUT}",
        )

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        if family == "postgresql":
            _lenient_dates(dbapi_connection)
        cursor = dbapi_connection.cursor()
        try:
            for statement in statements:
                cursor.execute(statement)
        finally:
            cursor.close()
        # psycopg opened a transaction for the SET; end it so the session setting stays and
        # the next transaction starts with the isolation level the caller asks for.
        dbapi_connection.commit()

    return on_connect
