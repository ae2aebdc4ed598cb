"""Throwaway registry databases and read-only accounts on a PostgreSQL or MariaDB server.

The demo and the tests play a province's registry on the machine's own servers: a database of
its own holding ``civil_events``, and an account that can read that table and nothing else, as
the contract promises lienthong (SOURCES.md §2). URLs here are plain URIs
(``postgresql://user:pw@host:port/db``, ``mysql://…``, ``mariadb://…``), the same form as an
Airflow connection.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

import sqlalchemy as sa
from airflow.sdk import Connection

from lienthong.registry.hook import RegistryHook


def registry_hook(url: str, conn_id: str = "demo_registry") -> RegistryHook:
    """A `RegistryHook` for a URI, without an Airflow connection being defined."""
    return RegistryHook(conn_id, connection=Connection.from_uri(url, conn_id=conn_id))


def with_database(url: str, database: str) -> str:
    """The same server and account, naming another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def with_account(url: str, user: str, password: str | None) -> str:
    """The same server and database, with another account."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    credentials = quote(user, safe="")
    if password is not None:
        credentials += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{credentials}@{host}"))


def _autocommit(url: str) -> sa.Connection:
    engine = registry_hook(url).get_sqlalchemy_engine()
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def create_database(admin_url: str, name: str) -> str:
    """Create (or recreate) database ``name``; return its URL with the admin's account."""
    with _autocommit(admin_url) as conn:
        quoted = conn.dialect.identifier_preparer.quote(name)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
            conn.exec_driver_sql(f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4")
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    """Drop database ``name`` (closing its sessions on PostgreSQL)."""
    with _autocommit(admin_url) as conn:
        quoted = conn.dialect.identifier_preparer.quote(name)
        force = " WITH (FORCE)" if conn.dialect.name == "postgresql" else ""
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}{force}")


def create_reader(database_url: str, user: str, password: str, table: str = "civil_events") -> str:
    """An account that can read ``table`` of this database and nothing else; its URL.

    Calling it again (another table, a new password) keeps the account and adds the grant.
    On PostgreSQL the role may also connect to the database and use its ``public`` schema
    (nothing can be read without both).
    """
    with _autocommit(database_url) as conn:
        prepare = conn.dialect.identifier_preparer
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            if conn.dialect.name == "postgresql":
                from psycopg import sql

                database = urlsplit(database_url).path.lstrip("/")
                role = sql.Identifier(user)
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
                verb = "ALTER" if cursor.fetchone() else "CREATE"
                cursor.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password))
                )
                cursor.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        sql.Identifier(database), role
                    )
                )
                cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
                cursor.execute(
                    sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier(table), role)
                )
            else:
                database = conn.exec_driver_sql("SELECT DATABASE()").scalar_one()
                cursor.execute("CREATE USER IF NOT EXISTS %s@'%%'", (user,))
                cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (user, password))
                target = f"{prepare.quote(database)}.{prepare.quote(table)}"
                cursor.execute(f"GRANT SELECT ON {target} TO %s@'%%'", (user,))
        finally:
            cursor.close()
    return with_account(database_url, user, password)


def drop_reader(admin_url: str, user: str) -> None:
    """Drop an account made by `create_reader` (after its database, on PostgreSQL)."""
    with _autocommit(admin_url) as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            if conn.dialect.name == "postgresql":
                from psycopg import sql

                cursor.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(user)))
            else:
                cursor.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        finally:
            cursor.close()
