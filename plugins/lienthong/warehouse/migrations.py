"""Versioned warehouse migrations: ``sql/migrations/NNNN_name.sql``, applied in order, once.

Each migration runs in its own transaction and is recorded in ``audit.schema_migrations``
(with its checksum) in that same transaction, so a failing migration leaves the ones before
it applied and recorded, and a rerun after the fix applies the rest. A migration whose first
line is ``-- lienthong: no-transaction`` runs outside a transaction (for statements such as
``CREATE INDEX CONCURRENTLY``), one statement at a time, and is recorded after them; write
such a migration so that it can be rerun (``IF NOT EXISTS``). Re-applying is a no-op, and an
applied file that was edited afterwards is an error (write a new migration instead).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from lienthong.settings import MIGRATIONS_DIR

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every process applying migrations.
_LOCK_KEY = 0x6C69656E

#: First line of a migration that must run outside a transaction.
NO_TRANSACTION = "-- lienthong: no-transaction"


class MigrationError(RuntimeError):
    """A migration cannot be applied, or an applied one was changed."""


@dataclass(frozen=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def transactional(self) -> bool:
        """False when the file asks to run outside a transaction."""
        first = self.sql.lstrip().split("\n", 1)[0]
        return first.strip().lower() != NO_TRANSACTION

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files of a folder, in version order."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"{folder}: two migrations share a version number")
    return found


def apply(conn: psycopg.Connection, folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply the migrations not yet applied, each in its own transaction; return those applied.

    ``conn`` must be in autocommit mode (each migration commits on its own)."""
    if not conn.autocommit:
        raise MigrationError("migrations need a connection in autocommit mode")
    encoding = conn.execute("SHOW server_encoding").fetchone()[0]
    if encoding != "UTF8":
        # Names and addresses are Vietnamese; the rules read characters, not bytes.
        raise MigrationError(
            f"the warehouse database {conn.info.dbname!r} is encoded {encoding}; lienthong keeps"
            " Vietnamese text and needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE"
            " template0)"
        )
    with conn.transaction():
        conn.execute("CREATE SCHEMA IF NOT EXISTS audit")
        conn.execute(
            """CREATE TABLE IF NOT EXISTS audit.schema_migrations (
                   version integer PRIMARY KEY,
                   name text NOT NULL,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
    applied_now: list[Migration] = []
    # Serialise concurrent appliers (two workers starting at once) for the whole run.
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        done = dict(
            conn.execute("SELECT version, checksum FROM audit.schema_migrations").fetchall()
        )
        for migration in discover(folder):
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} was changed after it was applied; "
                        "write a new migration instead"
                    )
                continue
            log.info("applying migration %s", migration.path.name)
            try:
                _apply_one(conn, migration)
            except psycopg.Error as exc:
                raise MigrationError(f"{migration.path.name}: {exc}") from exc
            applied_now.append(migration)
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def _apply_one(conn: psycopg.Connection, migration: Migration) -> None:
    record = (
        "INSERT INTO audit.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
        (migration.version, migration.name, migration.checksum),
    )
    if migration.transactional:
        with conn.transaction():
            conn.execute(migration.sql)
            conn.execute(*record)
        return
    # Outside a transaction each statement commits alone (what CONCURRENTLY requires).
    for statement in _statements(migration.sql):
        conn.execute(statement)
    conn.execute(*record)


def _statements(script: str) -> list[str]:
    """A no-transaction migration's statements: split on semicolons that end a line (such a
    migration holds plain DDL, no function bodies)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in re.split(r";\s*$", "\n".join(lines), flags=re.M) if s.strip()]
