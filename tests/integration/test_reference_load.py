"""load_reference against a real PostgreSQL with the warehouse migrations applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from lienthong.reference.load import load_reference

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[2] / "sql" / "migrations"

EXPECTED_ROWS = {
    "provinces": 34,
    "communes": 3321,
    "legacy_provinces": 63,
    "legacy_communes": 10035,
    "commune_conversion": 10597,
    "sources": 5,
}


@pytest.fixture
def reference_conn(empty_database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to a fresh database with only the schema and reference migrations applied."""
    with psycopg.connect(empty_database_url) as conn:
        for migration in ("0001_schemas.sql", "0002_reference.sql"):
            conn.execute((MIGRATIONS / migration).read_text("utf-8"))
        conn.commit()
        yield conn


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        table: conn.execute(f"SELECT count(*) FROM ref.{table}").fetchone()[0]
        for table in EXPECTED_ROWS
    }


def test_load_fills_every_table_and_reloading_changes_nothing(
    reference_conn: psycopg.Connection,
) -> None:
    assert load_reference(reference_conn) == EXPECTED_ROWS
    reference_conn.commit()
    assert table_counts(reference_conn) == EXPECTED_ROWS
    first = reference_conn.execute(
        "SELECT legacy_commune_code, commune_code FROM ref.commune_conversion ORDER BY 1, 2"
    ).fetchall()

    assert load_reference(reference_conn) == EXPECTED_ROWS
    reference_conn.commit()
    assert table_counts(reference_conn) == EXPECTED_ROWS
    assert (
        reference_conn.execute(
            "SELECT legacy_commune_code, commune_code FROM ref.commune_conversion ORDER BY 1, 2"
        ).fetchall()
        == first
    )


def test_loaded_tables_have_statistics_at_once(reference_conn: psycopg.Connection) -> None:
    # Never-analysed tables have reltuples -1: the planner would guess their size.
    load_reference(reference_conn)
    reference_conn.commit()
    estimated = dict(
        reference_conn.execute(
            "SELECT relname, reltuples::bigint FROM pg_class"
            " WHERE relnamespace = 'ref'::regnamespace AND relkind = 'r'"
        ).fetchall()
    )
    assert estimated == EXPECTED_ROWS


def test_loaded_rows_carry_codes_names_and_sources(reference_conn: psycopg.Connection) -> None:
    load_reference(reference_conn)
    reference_conn.commit()
    assert reference_conn.execute(
        "SELECT l.name, p.name FROM ref.legacy_provinces l JOIN ref.provinces p"
        " USING (province_code) WHERE province_code = '15'"
    ).fetchone() == ("Yên Bái", "Lào Cai")
    # old Phường Cửa Nam (00073) was split four ways, one part into the new Cửa Nam (00082)
    assert reference_conn.execute(
        "SELECT lc.name, string_agg(c.commune_code || ' ' || c.name, ', ' ORDER BY c.commune_code)"
        " FROM ref.commune_conversion cc"
        " JOIN ref.legacy_communes lc ON lc.commune_code = cc.legacy_commune_code"
        " JOIN ref.communes c ON c.commune_code = cc.commune_code"
        " WHERE cc.legacy_commune_code = '00073' GROUP BY lc.name"
    ).fetchone() == (
        "Phường Cửa Nam",
        "00004 Phường Ba Đình, 00070 Phường Hoàn Kiếm, 00082 Phường Cửa Nam,"
        " 00226 Phường Văn Miếu - Quốc Tử Giám",
    )
    assert reference_conn.execute(
        "SELECT dataset, package, version, licence, rows FROM ref.sources ORDER BY dataset"
    ).fetchall() == [
        ("commune_conversion", "vietnamadminunits", "1.0.4", "MIT", 10597),
        ("communes", "vietnamadminunits", "1.0.4", "MIT", 3321),
        ("legacy_communes", "vietnamadminunits", "1.0.4", "MIT", 10035),
        ("legacy_provinces", "vietnamadminunits", "1.0.4", "MIT", 63),
        ("provinces", "vietnamadminunits", "1.0.4", "MIT", 34),
    ]


def test_load_inside_a_caller_transaction_is_undone_by_its_rollback(
    reference_conn: psycopg.Connection,
) -> None:
    load_reference(reference_conn)
    reference_conn.commit()
    reference_conn.execute("DELETE FROM ref.sources WHERE dataset = 'provinces'")
    reference_conn.commit()

    with reference_conn.transaction():
        assert load_reference(reference_conn)["sources"] == 5
        assert table_counts(reference_conn)["sources"] == 5
        # the caller's transaction decides: roll it back
        raise psycopg.Rollback()

    assert table_counts(reference_conn)["sources"] == 4


def test_failed_load_leaves_previous_contents(reference_conn: psycopg.Connection) -> None:
    load_reference(reference_conn)
    reference_conn.commit()
    # A constraint the data breaks (NOT VALID, so the rows already there pass) makes the
    # communes COPY fail after every table was emptied; the emptying must be undone.
    reference_conn.execute(
        "ALTER TABLE ref.communes ADD CONSTRAINT no_ba_dinh"
        " CHECK (name <> 'Phường Ba Đình') NOT VALID"
    )
    reference_conn.commit()

    with pytest.raises(psycopg.errors.CheckViolation):
        load_reference(reference_conn)
    reference_conn.rollback()

    assert table_counts(reference_conn) == EXPECTED_ROWS
