"""Versioned warehouse migrations: ``sql/migrations/NNNN_name.sql``, applied in order, once.

Each applied file is recorded in ``audit.schema_migrations`` with its checksum;
re-applying is a no-op, a new file applies alone, and an applied file that was
edited afterwards is an error (write a new migration instead).
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
    """Apply the migrations not yet applied, each in its own transaction; return those applied."""
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
    with conn.transaction():
        # Serialise concurrent appliers (two workers starting at once) for this transaction.
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
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
                with conn.transaction():
                    conn.execute(migration.sql)
                    conn.execute(
                        "INSERT INTO audit.schema_migrations (version, name, checksum) "
                        "VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as exc:
                raise MigrationError(f"{migration.path.name}: {exc}") from exc
            applied_now.append(migration)
    return applied_now
