"""Versioned migrations on a real PostgreSQL: apply on empty, re-apply as a no-op, new ones alone."""

from __future__ import annotations

import shutil

import psycopg
import pytest

from lienthong.settings import MIGRATIONS_DIR
from lienthong.warehouse import migrations

pytestmark = pytest.mark.integration


def _versions(conn: psycopg.Connection) -> list[int]:
    return [v for (v,) in conn.execute("SELECT version FROM audit.schema_migrations ORDER BY 1")]


def test_migrations_apply_on_an_empty_database_and_reapply_as_a_no_op(empty_database_url):
    shipped = migrations.discover()
    assert [m.version for m in shipped] == sorted(m.version for m in shipped)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        applied = migrations.apply(conn)
        assert [m.version for m in applied] == [m.version for m in shipped]
        assert _versions(conn) == [m.version for m in shipped]
        tables = {
            f"{schema}.{name}"
            for schema, name in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables"
                " WHERE table_schema IN ('staging', 'ref', 'core', 'quarantine', 'audit')"
            )
        }
        assert {
            "staging.population",
            "core.population",
            "quarantine.records",
            "audit.batches",
            "audit.findings",
            "audit.watermarks",
            "ref.communes",
        } <= tables

        # Staging keeps payloads as JSON text (migration 0024), in a table of their own
        # (migration 0025); quarantine as jsonb.
        payload_types = dict(
            conn.execute(
                """SELECT table_schema || '.' || table_name, data_type
                   FROM information_schema.columns WHERE column_name = 'payload'
                     AND table_schema IN ('staging', 'quarantine')"""
            ).fetchall()
        )
        assert payload_types == {"staging.payloads": "json", "quarantine.records": "jsonb"}

        assert migrations.apply(conn) == []
        assert _versions(conn) == [m.version for m in shipped]


def test_a_new_migration_applies_alone_and_an_edited_one_is_refused(empty_database_url, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrations.apply(conn, folder)
        (folder / "9001_extra.sql").write_text("CREATE TABLE core.extra (id int PRIMARY KEY);\n")
        applied = migrations.apply(conn, folder)
        assert [(m.version, m.name) for m in applied] == [(9001, "extra")]
        assert conn.execute("SELECT to_regclass('core.extra')").fetchone()[0] == "core.extra"

        (folder / "9001_extra.sql").write_text("CREATE TABLE core.extra (id bigint);\n")
        with pytest.raises(migrations.MigrationError, match=r"9001_extra\.sql was changed"):
            migrations.apply(conn, folder)


def test_a_failing_migration_keeps_the_earlier_ones_and_a_rerun_applies_the_rest(
    empty_database_url, tmp_path
):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_good.sql").write_text("CREATE TABLE public.good (id int);\n")
    (folder / "0002_also_good.sql").write_text("CREATE TABLE public.also_good (id int);\n")
    (folder / "0003_bad.sql").write_text(
        "CREATE TABLE public.half (id int);\nCREATE TABLE public.bad (id nosuchtype);\n"
    )
    (folder / "0004_after.sql").write_text("CREATE TABLE public.after (id int);\n")
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        with pytest.raises(migrations.MigrationError, match=r"0003_bad\.sql"):
            migrations.apply(conn, folder)
        # Each migration commits with its record: the first two stay, the failing one is
        # rolled back whole, and nothing after it ran.
        assert _versions(conn) == [1, 2]
        assert conn.execute("SELECT to_regclass('public.also_good')").fetchone()[0] is not None
        assert conn.execute("SELECT to_regclass('public.half')").fetchone()[0] is None

        (folder / "0003_bad.sql").write_text("CREATE TABLE public.bad (id int);\n")
        applied = migrations.apply(conn, folder)
        assert [m.version for m in applied] == [3, 4]
        assert _versions(conn) == [1, 2, 3, 4]


def test_a_migration_may_run_outside_a_transaction(empty_database_url, tmp_path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_table.sql").write_text("CREATE TABLE public.t (id int);\n")
    (folder / "0002_index.sql").write_text(
        "-- lienthong: no-transaction\n"
        "-- CONCURRENTLY cannot run inside a transaction block.\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id ON public.t (id);\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_id2 ON public.t ((id + 1));\n"
    )
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert [m.version for m in migrations.apply(conn, folder)] == [1, 2]
        indexes = {
            name
            for (name,) in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't'")
        }
        assert indexes == {"t_id", "t_id2"}
        assert _versions(conn) == [1, 2]


def test_migrations_refuse_a_connection_inside_a_transaction(empty_database_url):
    with (
        psycopg.connect(empty_database_url) as conn,
        pytest.raises(migrations.MigrationError, match="autocommit"),
    ):
        migrations.apply(conn)


def test_core_rows_name_a_batch_that_exists_and_batches_are_never_deleted(empty_database_url):
    """Lineage (migration 0023): checked once per statement, not by a foreign key per row."""
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        migrations.apply(conn)
        core_keys = conn.execute(
            """SELECT conrelid::regclass::text FROM pg_constraint
               WHERE confrelid = 'audit.batches'::regclass AND contype = 'f'
                 AND connamespace = 'core'::regnamespace"""
        ).fetchall()
        assert core_keys == []
        batch_no = conn.execute(
            """INSERT INTO audit.batches (batch_key, dataset, source, mode, status, extracted_at)
               VALUES ('lineage', 'population', 'ministry', 'full', 'published', now())
               RETURNING batch_no"""
        ).fetchone()[0]
        row = """INSERT INTO core.population (personal_id, full_name, date_of_birth, sex,
                     perm_province_code, perm_commune_code, updated_at, batch_no)
                 VALUES (%s, 'Nguyễn Văn An', '1990-01-01', 'M', '01', '00001', now(), %s)"""
        conn.execute(row, ("001090000001", batch_no))

        with pytest.raises(psycopg.errors.ForeignKeyViolation) as raised:
            conn.execute(row, ("001090000002", batch_no + 1))
        assert raised.value.diag.message_primary == (
            f"core.population: rows name batch {batch_no + 1}, which is not in audit.batches"
        )
        with pytest.raises(
            psycopg.errors.ForeignKeyViolation, match=r"core\.population: rows name batch 999999"
        ):
            conn.execute(
                row + " ON CONFLICT (personal_id) DO UPDATE SET batch_no = 999999",
                ("001090000001", batch_no),
            )
        assert conn.execute("SELECT batch_no FROM core.population").fetchall() == [(batch_no,)]

        for statement in ("DELETE FROM audit.batches", "TRUNCATE audit.batches CASCADE"):
            with pytest.raises(psycopg.errors.RestrictViolation, match="never deleted"):
                conn.execute(statement)
        assert conn.execute("SELECT count(*) FROM audit.batches").fetchone()[0] == 1


@pytest.mark.parametrize("encoding", ["SQL_ASCII", "LATIN1", "EUC_JP"])
def test_a_warehouse_not_encoded_in_utf8_is_refused_before_anything_is_created(
    pg_admin_url, encoding
):
    from lienthong.warehouse.connection import with_database

    name = f"lt_encoded_{encoding.lower()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(
            f"CREATE DATABASE \"{name}\" ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C'"
            " TEMPLATE template0"
        )
    try:
        with psycopg.connect(with_database(pg_admin_url, name), autocommit=True) as conn:
            with pytest.raises(migrations.MigrationError, match=rf"{name}.*{encoding}.*UTF8"):
                migrations.apply(conn)
            schemas = conn.execute(
                "SELECT count(*) FROM pg_namespace WHERE nspname IN ('audit', 'staging', 'core')"
            ).fetchone()[0]
            assert schemas == 0
    finally:
        with psycopg.connect(pg_admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
