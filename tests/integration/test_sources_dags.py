"""The sources file as Airflow sees it: one DAG per valid entry, bad entries shown as an
import error naming entry and field, LIENTHONG_SOURCES choosing the file."""

from __future__ import annotations

import pytest

from lienthong.settings import PROJECT_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _bag(monkeypatch, sources_file):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("LIENTHONG_SOURCES", str(sources_file))
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_the_shipped_sources_file_gives_the_population_dag(airflow_db, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.delenv("LIENTHONG_SOURCES", raising=False)
    bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
    assert bag.import_errors == {}
    assert "population" in bag.dag_ids


def test_a_bad_entry_is_an_import_error_naming_it_and_the_other_dags_load(
    airflow_db, monkeypatch, tmp_path
):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        """sources:
  - dataset: population
    conn_id: ministry_population
  - dataset: population
    province: "99"
    conn_id: elsewhere
  - dataset: census
    conn_id: x
"""
    )
    bag = _bag(monkeypatch, sources)
    assert bag.dag_ids == ["population"]
    ((path, error),) = bag.import_errors.items()
    assert path.endswith("sources_file.py")
    assert "2 invalid entries" in error
    assert f"{sources}: entry 2 (population_99): province: '99' is not a current province" in error
    assert f"{sources}: entry 3 (census): dataset: unknown dataset 'census'" in error


def test_lienthong_sources_chooses_which_dags_exist(airflow_db, monkeypatch, tmp_path):
    empty = tmp_path / "none.yaml"
    empty.write_text("sources: []\n")
    assert _bag(monkeypatch, empty).dag_ids == []

    scheduled = tmp_path / "one.yaml"
    scheduled.write_text(
        "sources:\n  - dataset: population\n    conn_id: national_api\n    schedule: '15 2 * * *'\n"
    )
    bag = _bag(monkeypatch, scheduled)
    assert bag.dag_ids == ["population"]
    assert bag.import_errors == {}
    dag = bag.get_dag("population")
    assert dag.timetable.expression == "15 2 * * *"
