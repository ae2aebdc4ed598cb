"""Bring a warehouse up to date: migrations applied, reference data loaded."""

from __future__ import annotations

import logging

import psycopg

from lienthong.warehouse import migrations

log = logging.getLogger(__name__)


def ensure_ready(conn: psycopg.Connection) -> dict[str, object]:
    """Apply pending migrations and load reference data when it is missing; idempotent."""
    from lienthong.reference.load import load_reference

    applied = migrations.apply(conn)
    loaded: dict[str, int] = {}
    with conn.transaction():
        # Serialise with concurrent bootstraps (several DAG runs starting at once).
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (0x72656600,))
        if conn.execute("SELECT count(*) FROM ref.communes").fetchone()[0] == 0:
            loaded = load_reference(conn)
    if applied or loaded:
        log.info("warehouse: applied %s; loaded %s", [m.path.name for m in applied], loaded)
    return {"migrations": [m.path.name for m in applied], "reference": loaded}
