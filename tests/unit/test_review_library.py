"""The review's pieces that need no warehouse: corrections, masking, rules' fields, the chart,
the suites for a release, the notifier's message, the plugin's registration."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import pytest

from lienthong.pipeline.validation import load_suite
from lienthong.population.dataset import POPULATION
from lienthong.review import datasets, masking, queries
from lienthong.review.decisions import DecisionError, apply_corrections
from lienthong.review.web.chart import trend_svg
from lienthong.settings import PROJECT_ROOT

from ..webhook_receiver import WebhookReceiver


def test_corrections_set_fields_and_fields_of_objects_without_touching_the_payload():
    payload = {"sex": "X", "permanent_address": {"province_code": "1", "commune_code": None}}
    corrected = apply_corrections(
        payload,
        {"sex": "M", "permanent_address.commune_code": "00004", "current_address.detail": "a"},
    )
    assert corrected == {
        "sex": "M",
        "permanent_address": {"province_code": "1", "commune_code": "00004"},
        "current_address": {"detail": "a"},
    }
    assert payload["sex"] == "X" and payload["permanent_address"]["commune_code"] is None


@pytest.mark.parametrize(
    ("corrections", "message"),
    [
        ({"a.b.c": "x"}, "use 'name' or 'object.name'"),
        ({"sex.code": "x"}, "'sex' is not an object"),
        ({"sex": 1}, "must be text or null"),
        ({".x": "x"}, "use 'name'"),
    ],
)
def test_a_malformed_correction_is_refused_by_name(corrections, message):
    with pytest.raises(DecisionError, match=message):
        apply_corrections({"sex": "X"}, corrections)


def test_personal_ids_and_names_are_masked_the_rest_is_not():
    assert masking.mask_value("personal_id", "001203012345") == "001•••••••••"
    assert masking.mask_value("full_name", "Nguyễn Văn An") == "N. V. A."
    assert masking.mask_value("personal_id", None) is None
    masked = masking.mask_mapping(
        {
            "personal_id": "001203012345",
            "full_name": "Lê Thị Hoa",
            "sex": "F",
            "permanent_address": {"detail": "12 Hàng Bạc", "province_code": "01"},
        },
        {"personal_id", "full_name"},
    )
    assert masked == {
        "personal_id": "001•••••••••",
        "full_name": "L. T. H.",
        "sex": "F",
        "permanent_address": {"detail": "12 Hàng Bạc", "province_code": "01"},
    }
    reason = "personal_id is 12 digits (got '00120301234')"
    assert masking.mask_text(reason, [("personal_id", "00120301234")]) == (
        "personal_id is 12 digits (got '001••••••••')"
    )


def test_each_rule_shows_the_staging_columns_it_reads():
    fields = queries.rule_fields("population")
    assert fields["P-C1"] == ["personal_id"]
    assert fields["P-K2"] == ["full_name_defect"]
    assert {"perm_province_code", "perm_commune_code"} <= set(fields["P-C6"])
    assert {"personal_id", "sex", "date_of_birth"} <= set(fields["P-C3"])
    assert set(fields["P-S1"]) == {
        "personal_id",
        "full_name",
        "date_of_birth",
        "sex",
        "perm_province_code",
        "perm_commune_code",
    }
    for columns in fields.values():
        assert "payload" not in columns and "row_no" not in columns


def test_a_release_runs_the_row_rules_and_no_batch_rule():
    _, batch_rules = load_suite(POPULATION.suites_dir / "batch.json", "release")
    _, row_rules = load_suite(POPULATION.suites_dir / "rows.json", "release")
    _, all_rows = load_suite(POPULATION.suites_dir / "rows.json", "incremental")
    assert batch_rules == []
    assert len(row_rules) == len(all_rows) > 0
    for mode in ("full", "incremental"):
        _, rules = load_suite(POPULATION.suites_dir / "batch.json", mode)
        assert {"P-S2", "P-S3"} <= {r.meta["rule_id"] for r in rules}


def test_the_trend_chart_draws_one_line_per_dimension_with_the_threshold():
    start = datetime(2026, 11, 1, tzinfo=UTC)
    points = [
        {
            "batch_no": n,
            "at": start + timedelta(hours=n),
            "checked": 100,
            "rates": {"correct": 0.99 - n / 100, "sufficient": 1.0, "clean": 0.98, "live": 0.97},
        }
        for n in range(5)
    ]
    svg = trend_svg(points, 0.95)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == 4 and svg.count("<circle") == 20
    assert 'class="threshold"' in svg and "batch 4" in svg
    assert trend_svg([], 0.95) == ""


def test_every_dataset_of_the_catalogue_is_reviewed_with_its_personal_fields():
    from lienthong.datasets import CATALOGUE

    assert set(datasets.reviewed()) == set(CATALOGUE)
    reviewed = datasets.get("population")
    assert reviewed.dataset is POPULATION
    assert reviewed.dag_id == "population"  # the DAG of a batch that names no source
    assert reviewed.province_column in reviewed.dataset.staging_columns
    assert {"personal_id", "full_name"} <= reviewed.personal_fields
    for name in CATALOGUE:
        found = datasets.get(name)
        assert found.personal_fields <= set(found.dataset.staging_columns)
        assert (
            found.province_column is None or found.province_column in found.dataset.staging_columns
        )
    with pytest.raises(datasets.UnknownDataset, match="no dataset 'nope'"):
        datasets.get("nope")


def test_the_plugin_serves_the_view_and_puts_it_in_airflows_navigation(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_ROOT / "plugins"))
    sys.modules.pop("lienthong_review", None)
    import lienthong_review

    plugin = lienthong_review.LienthongReviewPlugin
    (app,) = plugin.fastapi_apps
    assert app["url_prefix"] == "/lienthong"
    paths = {route.path for route in app["app"].routes}
    assert {
        "/",
        "/batches/{batch_no}",
        "/trend",
        "/api/batches/{batch_no}/rows/release",
        "/api/batches/{batch_no}/approve",
    } <= paths
    nav = [v for v in plugin.external_views if v["destination"] == "nav"]
    assert nav and nav[0]["url_route"] == "data-quality" and nav[0]["href"] == "lienthong/"


def test_a_failed_run_is_notified_to_the_webhook_of_the_connection(monkeypatch):
    from lienthong.review.notifier import WebhookNotifier

    # A warehouse that does not answer: the message goes out without the batch.
    monkeypatch.setenv("LIENTHONG_WAREHOUSE_URL", "postgresql://nobody@127.0.0.1:9/none")
    with WebhookReceiver() as hook:
        monkeypatch.setenv("AIRFLOW_CONN_LIENTHONG_WEBHOOK", hook.connection)

        class Run:
            dag_id, run_id = "population", "manual__1"

        WebhookNotifier(event="run_failed", dataset="population")(
            {"dag_run": Run(), "reason": "task_failure"}
        )
    (message,) = hook.messages
    assert message["event"] == "run_failed" and message["dataset"] == "population"
    assert message["run_id"] == "manual__1" and message["batch_no"] is None
    assert "failed: task_failure" in message["text"]
    assert json.loads(hook.connection)["conn_type"] == "http"
