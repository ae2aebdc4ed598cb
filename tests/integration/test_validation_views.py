"""The batch a rule reads: the batch's own facts are constants of its view, so that the
planner tests each rule's condition inside the (parallel) scan of staging; the reference
codes have statistics for the casts the place rules compare them by."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg.types.json import Jsonb

from lienthong.pipeline import batches
from lienthong.pipeline.validation import _create_views, _drop_views, _view
from lienthong.population.dataset import POPULATION

pytestmark = pytest.mark.integration

EXTRACTED = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 23:30 in Hà Nội: 30 November there


def _plan(conn: psycopg.Connection, query: str) -> dict:
    return conn.execute(f"EXPLAIN (FORMAT JSON) {query}").fetchone()[0][0]["Plan"]


def _nodes(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", ()) for node in _nodes(child))]


def test_a_batch_view_holds_the_batch_facts_as_constants(warehouse_conn: psycopg.Connection):
    conn = warehouse_conn
    batch = batches.open_batch(
        conn,
        batch_key="views-1",
        source="population",
        dataset="population",
        province="01",
        mode="full",
        updated_since=None,
        extracted_at=EXTRACTED,
    )
    conn.execute(
        "UPDATE audit.batches SET source_facts = %s WHERE batch_no = %s",
        (Jsonb({"missing_columns": ["due_at"]}), batch["batch_no"]),
    )
    batch = batches.get(conn, batch_no=batch["batch_no"])
    # One staged row, for the view to show the facts it carries.
    conn.execute(
        "INSERT INTO staging.population (batch_no, row_no, content_hash) VALUES (%s, 1, 'h')",
        (batch["batch_no"],),
    )
    with conn.transaction():
        _create_views(conn, POPULATION, batch)
    view = f"staging.{_view(POPULATION, batch['batch_no'], 'rows')}"
    facts = conn.execute(
        f"""SELECT extracted_at, batch_province, source_facts,
                   (extracted_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date::text,
                   jsonb_array_elements_text(source_facts -> 'missing_columns')
            FROM {view}"""
    ).fetchall()
    assert facts == [
        (EXTRACTED, "01", {"missing_columns": ["due_at"]}, "2026-11-30", "due_at"),
    ]
    types = conn.execute(
        """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
           WHERE attrelid = %s::regclass AND attname IN
                 ('extracted_at', 'batch_province', 'source_facts') ORDER BY attname""",
        (view,),
    ).fetchall()
    assert types == [
        ("batch_province", "character(2)"),
        ("extracted_at", "timestamp with time zone"),
        ("source_facts", "jsonb"),
    ]
    # Rule P-L2's condition, on the staging scan itself: no join, the bound computed once.
    plan = _plan(
        conn, f"SELECT row_no FROM {view} WHERE updated_ts > extracted_at + interval '5 minutes'"
    )
    nodes = _nodes(plan)
    assert not [n for n in nodes if "Join" in n["Node Type"] or n["Node Type"] == "Nested Loop"]
    scan = next(n for n in nodes if n.get("Relation Name") == "population")
    assert "updated_ts > ('2026-11-30 16:30:00+00'::timestamp with time zone" in scan["Filter"]
    assert "audit" not in json.dumps(plan)
    with conn.transaction():
        _drop_views(conn, POPULATION, batch["batch_no"])


def test_the_reference_codes_have_statistics_as_text(warehouse_conn: psycopg.Connection):
    rows = warehouse_conn.execute(
        """SELECT tablename, expr, n_distinct FROM pg_stats_ext_exprs
           WHERE schemaname = 'ref' ORDER BY tablename, expr"""
    ).fetchall()
    assert [(table, expr) for table, expr, _ in rows] == [
        ("communes", "(commune_code)::text"),
        ("communes", "(province_code)::text"),
        ("legacy_communes", "(commune_code)::text"),
        ("legacy_communes", "(province_code)::text"),
    ]
    # Every commune code is distinct (-1); provinces are few: what the planner now knows.
    assert rows[0][2] == -1 and rows[2][2] == -1
    assert 0 < rows[1][2] <= 34 and 0 < rows[3][2] <= 63
