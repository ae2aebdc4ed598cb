"""load_reference against a real PostgreSQL with the warehouse migrations applied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

from lienthong.reference.load import load_reference  # noqa: E402

pytestmark = pytest.mark.integration

# Temporary: a throwaway database on the local server. To be replaced by the shared
# `warehouse_conn` fixture from tests/conftest.py once it exists.
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TEST_DATABASE = "lienthong_ref_test"
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
def warehouse_conn() -> Iterator[psycopg.Connection]:
    """A connection to a freshly created database with migrations 0001 and 0002 applied."""
    try:
        admin = psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL at {ADMIN_URL}: {error}")
    with admin:
        admin.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {TEST_DATABASE}")
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + TEST_DATABASE
    with psycopg.connect(url) as conn:
        for migration in ("0001_schemas.sql", "0002_reference.sql"):
            conn.execute((MIGRATIONS / migration).read_text("utf-8"))
        conn.commit()
        yield conn
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {TEST_DATABASE} WITH (FORCE)")


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        table: conn.execute(f"SELECT count(*) FROM ref.{table}").fetchone()[0]
        for table in EXPECTED_ROWS
    }


def test_load_fills_every_table_and_reloading_changes_nothing(
    warehouse_conn: psycopg.Connection,
) -> None:
    assert load_reference(warehouse_conn) == EXPECTED_ROWS
    warehouse_conn.commit()
    assert table_counts(warehouse_conn) == EXPECTED_ROWS
    first = warehouse_conn.execute(
        "SELECT legacy_commune_code, commune_code FROM ref.commune_conversion ORDER BY 1, 2"
    ).fetchall()

    assert load_reference(warehouse_conn) == EXPECTED_ROWS
    warehouse_conn.commit()
    assert table_counts(warehouse_conn) == EXPECTED_ROWS
    assert (
        warehouse_conn.execute(
            "SELECT legacy_commune_code, commune_code FROM ref.commune_conversion ORDER BY 1, 2"
        ).fetchall()
        == first
    )


def test_loaded_rows_carry_codes_names_and_sources(warehouse_conn: psycopg.Connection) -> None:
    load_reference(warehouse_conn)
    warehouse_conn.commit()
    assert warehouse_conn.execute(
        "SELECT l.name, p.name FROM ref.legacy_provinces l JOIN ref.provinces p"
        " USING (province_code) WHERE province_code = '15'"
    ).fetchone() == ("Yên Bái", "Lào Cai")
    # old Phường Cửa Nam (00073) was split four ways, one part into the new Cửa Nam (00082)
    assert warehouse_conn.execute(
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
    assert warehouse_conn.execute(
        "SELECT dataset, package, version, licence, rows FROM ref.sources ORDER BY dataset"
    ).fetchall() == [
        ("commune_conversion", "vietnamadminunits", "1.0.4", "MIT", 10597),
        ("communes", "vietnamadminunits", "1.0.4", "MIT", 3321),
        ("legacy_communes", "vietnamadminunits", "1.0.4", "MIT", 10035),
        ("legacy_provinces", "vietnamadminunits", "1.0.4", "MIT", 63),
        ("provinces", "vietnamadminunits", "1.0.4", "MIT", 34),
    ]


def test_load_inside_a_caller_transaction_is_undone_by_its_rollback(
    warehouse_conn: psycopg.Connection,
) -> None:
    load_reference(warehouse_conn)
    warehouse_conn.commit()
    warehouse_conn.execute("DELETE FROM ref.sources WHERE dataset = 'provinces'")
    warehouse_conn.commit()

    with warehouse_conn.transaction():
        assert load_reference(warehouse_conn)["sources"] == 5
        assert table_counts(warehouse_conn)["sources"] == 5
        # the caller's transaction decides: roll it back
        raise psycopg.Rollback()

    assert table_counts(warehouse_conn)["sources"] == 4


def test_failed_load_leaves_previous_contents(warehouse_conn: psycopg.Connection) -> None:
    load_reference(warehouse_conn)
    warehouse_conn.commit()
    # A constraint the data breaks (NOT VALID, so the rows already there pass) makes the
    # communes COPY fail after every table was emptied; the emptying must be undone.
    warehouse_conn.execute(
        "ALTER TABLE ref.communes ADD CONSTRAINT no_ba_dinh"
        " CHECK (name <> 'Phường Ba Đình') NOT VALID"
    )
    warehouse_conn.commit()

    with pytest.raises(psycopg.errors.CheckViolation):
        load_reference(warehouse_conn)
    warehouse_conn.rollback()

    assert table_counts(warehouse_conn) == EXPECTED_ROWS
