"""Airflow must not treat the library under plugins/ as plugin files."""

from __future__ import annotations

from pathlib import Path

from lienthong.settings import PROJECT_ROOT


def test_airflow_plugin_discovery_skips_the_library():
    from airflow._shared.module_loading import find_path_from_directory

    found = [
        Path(p)
        for p in find_path_from_directory(str(PROJECT_ROOT / "plugins"), ".airflowignore", "glob")
    ]
    # Without plugins/.airflowignore, Airflow would exec every module of lienthong as a
    # top-level module named after its file (sys.modules["hook"], ["dataset"], …).
    # The plugin files beside it are all Airflow loads: the Data quality view.
    assert [p.name for p in found if p.suffix == ".py"] == ["lienthong_review.py"]
    assert (PROJECT_ROOT / "plugins" / "lienthong" / "pipeline" / "publish.py").exists()
