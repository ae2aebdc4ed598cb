"""Releasing quarantined rows of the file datasets: nothing in the review is specific to one
dataset. A dossier row and a task row, each corrected by an operator, are prepared again from
their payloads by their own contracts, validated by their own suites and published."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pytest

from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.review import decisions
from lienthong.sources import Source
from lienthong.warehouse.connection import connect
from lienthong_demo.dossier_files import demo_population, generate_dossier_delivery
from lienthong_demo.task_workbooks import generate_task_workbook

from .file_fixtures import load_population, run_source

pytestmark = pytest.mark.integration

PROVINCE = "40"
DAY = date(2026, 3, 2)
ARRIVAL = datetime.combine(DAY + timedelta(days=1), time(2), UTC)
LOW = dict.fromkeys(DIMENSIONS, 0.5)


def _quarantined(url: str, batch_no: int, rule_id: str) -> list[tuple[int, dict]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """SELECT row_no, payload FROM quarantine.records
               WHERE batch_no = %s AND %s = ANY(rule_ids) ORDER BY row_no""",
            (batch_no, rule_id),
        ).fetchall()


def test_a_corrected_dossier_row_is_published(warehouse_url, tmp_path):
    load_population(warehouse_url, demo_population(400, seed=6))
    folder = tmp_path / "dossiers" / PROVINCE
    folder.mkdir(parents=True)
    source = Source(dataset="dossiers", province=PROVINCE, path=str(folder), thresholds=LOW)
    delivery = generate_dossier_delivery(
        PROVINCE,
        DAY,
        count=60,
        seed=5,
        defect_rate=0.1,
        defects=["D-C2:channel"],
        population=demo_population(400, seed=6),
    )
    delivery.write(tmp_path)
    run = run_source(source, "release", now=ARRIVAL)
    assert run.status == "published"
    ((row_no, payload), *_) = _quarantined(warehouse_url, run.batch_no, "D-C2")
    assert payload["channel"] not in ("online", "offline")

    with connect(warehouse_url) as conn:
        outcome = decisions.release_rows(
            conn,
            run.batch_no,
            row_nos=[row_no],
            corrections={row_no: {"channel": "online"}},
            user="operator@40",
            reason="the province's system wrote the channel in English slang",
        )
        published = conn.execute(
            "SELECT channel FROM core.dossiers WHERE province_code = %s AND dossier_id = %s",
            (PROVINCE, payload["dossier_id"]),
        ).fetchone()
        fix = conn.execute(
            "SELECT rule_id, field, original, fixed FROM audit.fixes WHERE batch_no = %s",
            (outcome.release_batch_no,),
        ).fetchall()
    assert outcome.published == [row_no]
    assert published == ("online",)
    assert fix == [("OPERATOR", "channel", payload["channel"], "online")]


def test_a_corrected_task_row_is_published(warehouse_url, tmp_path):
    folder = tmp_path / "p06_tasks" / PROVINCE
    folder.mkdir(parents=True)
    source = Source(dataset="p06_tasks", province=PROVINCE, path=str(folder), thresholds=LOW)
    month = date(2026, 2, 1)
    workbook = generate_task_workbook(
        PROVINCE, month, seed=8, count=30, defect_rate=0.1, defects=["T-C1:unknown"]
    )
    workbook.write(tmp_path)
    run = run_source(source, "release", now=datetime(2026, 3, 3, tzinfo=UTC))
    assert run.status == "published"
    ((row_no, payload), *_) = _quarantined(warehouse_url, run.batch_no, "T-C1")
    # The group or the status was typed as something no canonical form matches.
    field, value = (
        ("Nhóm nhiệm vụ", "Dữ liệu")
        if payload["Nhóm nhiệm vụ"]
        not in ("Thể chế", "Hạ tầng CNTT", "Dịch vụ công trực tuyến", "Dữ liệu", "Nguồn lực")
        else ("Trạng thái", "Đang thực hiện")
    )
    with connect(warehouse_url) as conn:
        outcome = decisions.release_rows(
            conn,
            run.batch_no,
            row_nos=[row_no],
            corrections={row_no: {field: value}},
            user="operator@40",
            reason="the province confirmed the task's group and status by phone",
        )
        published = conn.execute(
            """SELECT task_group, status FROM core.p06_tasks
               WHERE province_code = %s AND report_month = %s AND task_code = %s""",
            (PROVINCE, month, payload["Mã nhiệm vụ"]),
        ).fetchone()
    assert outcome.published == [row_no]
    assert value in published
