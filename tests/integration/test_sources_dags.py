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


def _source_dags(bag) -> list[str]:
    """The DAGs made from the sources file (population_liveness is always there)."""
    return sorted(set(bag.dag_ids) - {"population_liveness"})


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
    assert _source_dags(bag) == ["population"]
    ((path, error),) = bag.import_errors.items()
    assert path.endswith("sources_file.py")
    assert "2 invalid entries" in error
    assert f"{sources}: entry 2 (population_99): province: '99' is not a current province" in error
    assert f"{sources}: entry 3 (census): dataset: unknown dataset 'census'" in error


def test_lienthong_sources_chooses_which_dags_exist(airflow_db, monkeypatch, tmp_path):
    empty = tmp_path / "none.yaml"
    empty.write_text("sources: []\n")
    assert _source_dags(_bag(monkeypatch, empty)) == []

    scheduled = tmp_path / "one.yaml"
    scheduled.write_text(
        "sources:\n  - dataset: population\n    conn_id: national_api\n    schedule: '15 2 * * *'\n"
    )
    bag = _bag(monkeypatch, scheduled)
    assert _source_dags(bag) == ["population"]
    assert bag.import_errors == {}
    dag = bag.get_dag("population")
    assert dag.timetable.expression == "15 2 * * *"


def test_p_l4_is_re_evaluated_when_either_core_table_changes(airflow_db, monkeypatch, tmp_path):
    sources = tmp_path / "sources.yaml"
    sources.write_text(
        "sources:\n  - dataset: population\n    conn_id: api\n"
        "  - dataset: civil_events\n    province: '79'\n    conn_id: registry_79\n"
    )
    bag = _bag(monkeypatch, sources)
    assert set(bag.dag_ids) == {"population", "civil_events_79", "population_liveness"}
    outlets = {
        dag_id: {a.uri for a in bag.get_dag(dag_id).get_task("publish").outlets}
        for dag_id in ("population", "civil_events_79")
    }
    assert outlets == {
        "population": {"warehouse://core/population"},
        "civil_events_79": {"warehouse://core/civil_events"},
    }
    liveness = bag.get_dag("population_liveness")
    # Scheduled on the assets (either one), not on a clock.
    condition = liveness.timetable.asset_condition
    assert type(condition).__name__ == "AssetAny"
    assert {a.uri for a in condition.objects} == {
        "warehouse://core/population",
        "warehouse://core/civil_events",
    }
