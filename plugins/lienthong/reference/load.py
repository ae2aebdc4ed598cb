"""Load the administrative-unit reference data into the warehouse's ref.* tables."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lienthong.reference import admin_units

if TYPE_CHECKING:
    import psycopg

# (table in schema ref, its columns, the rows), parents before children so the foreign keys
# hold at every COPY; deletion runs in the reverse order.
_TABLES: tuple[tuple[str, tuple[str, ...], Callable[[], Iterable[Sequence[Any]]]], ...] = (
    (
        "provinces",
        ("province_code", "name"),
        lambda: ((p.code, p.name) for p in admin_units.current_provinces()),
    ),
    (
        "communes",
        ("commune_code", "name", "province_code"),
        lambda: ((c.code, c.name, c.province_code) for c in admin_units.current_communes()),
    ),
    (
        "legacy_provinces",
        ("province_code", "name"),
        lambda: ((p.code, p.name) for p in admin_units.legacy_provinces()),
    ),
    (
        "legacy_communes",
        ("commune_code", "name", "province_code"),
        lambda: ((c.code, c.name, c.province_code) for c in admin_units.legacy_communes()),
    ),
    (
        "commune_conversion",
        ("legacy_commune_code", "commune_code"),
        admin_units.commune_conversion,
    ),
    (
        "sources",
        ("dataset", "package", "version", "licence", "rows"),
        lambda: (
            (s["dataset"], s["package"], s["version"], s["licence"], s["rows"])
            for s in admin_units.source_info()
        ),
    ),
)


def load_reference(conn: psycopg.Connection) -> dict[str, int]:
    """Replace the ref.* tables' contents in one transaction (idempotent), by COPY.

    Returns the rows written per table, keyed by table name in schema ref ("communes").
    The data is built before the transaction opens, so the tables are locked only for the
    delete and the copies. Runs inside `conn.transaction()`: a transaction of its own when
    the caller has none, a savepoint inside the caller's otherwise; either way a failure
    leaves the previous contents in place.
    """
    rows_by_table = [(table, columns, list(rows())) for table, columns, rows in _TABLES]
    written: dict[str, int] = {}
    with conn.transaction(), conn.cursor() as cur:
        for table, _columns, _rows in reversed(rows_by_table):
            cur.execute(f"DELETE FROM ref.{table}")
        for table, columns, rows in rows_by_table:
            with cur.copy(f"COPY ref.{table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            written[table] = len(rows)
        # Statistics now, not when autovacuum comes by: the rules that join these tables
        # (P-C6, P-L3) were planned blind on a new warehouse and validated 30 % slower.
        for table, _columns, _rows in rows_by_table:
            cur.execute(f"ANALYZE ref.{table}")
    return written
