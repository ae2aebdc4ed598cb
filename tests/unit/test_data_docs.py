"""Data Docs sites: GX's pages, their templates compiled once per machine."""

from __future__ import annotations

import jinja2
import pandas as pd
import pytest
from jinja2.bccache import bc_magic

from lienthong.pipeline import data_docs


def _validated_context(rows: pd.DataFrame):
    """A GX context that has just validated ``rows`` with two expectations, one failing."""
    import great_expectations as gx

    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("rows")
        .add_dataframe_asset("population_rows")
        .add_batch_definition_whole_dataframe("batch")
    )
    suite = context.suites.add(
        gx.ExpectationSuite(
            name="population.rows",
            expectations=[
                gx.expectations.ExpectColumnValuesToNotBeNull(column="personal_id"),
                gx.expectations.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F"]),
            ],
        )
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="population.rows.7", data=batch, suite=suite)
    )
    result = definition.run(batch_parameters={"dataframe": rows})
    assert not result.success  # the page then shows a failed rule, as a held batch's does
    return context


@pytest.fixture
def compiled(monkeypatch) -> list[str]:
    """The names of the template files Jinja compiles from source (a spy: Jinja still
    compiles); a template GX makes from a string has no name, no file, and is not cached."""
    names: list[str] = []
    compile_source = jinja2.Environment.compile

    def spy(self, source, name=None, filename=None, raw=False, defer_init=False):
        if name is not None:
            names.append(name)
        return compile_source(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(jinja2.Environment, "compile", spy)
    return names


def test_a_site_is_built_with_templates_compiled_once_per_machine(tmp_path, monkeypatch, compiled):
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    rows = pd.DataFrame({"personal_id": ["001200000001", None], "sex": ["M", "X"]})

    first = data_docs.build(_validated_context(rows), "population", 7)
    assert first == data_docs.folder("population", 7)
    # The first build compiled GX's page templates, and kept them compiled in the state folder
    # (not in the Data Docs folder the review serves).
    assert "page.j2" in compiled and "index_page.j2" in compiled
    cache = tmp_path / "cache" / "data_docs_templates"
    assert cache.stat().st_mode & 0o777 == 0o700  # what is cached is code the tasks run
    assert len(list(cache.iterdir())) == len(set(compiled)) > 10
    assert not list(data_docs.root().glob("**/__jinja2_*"))

    # Another validation (another GX context, as in the next task's process) compiles nothing.
    compiled.clear()
    second = data_docs.build(_validated_context(rows), "population", 8)
    assert compiled == []
    pages = dict(data_docs.validation_pages("population", 8))
    assert list(pages) == ["population.rows"]
    page = (second / pages["population.rows"]).read_text()
    assert "expect_column_values_to_be_in_set" in page or "values must belong to this set" in page
    assert "Failed" in page
    assert data_docs.index("population", 8) is not None

    # A damaged cache file (cut short after Jinja's header) is compiled again.
    for kept in cache.iterdir():
        kept.write_bytes(kept.read_bytes()[: len(bc_magic) + 4])
    compiled.clear()
    assert data_docs.build(_validated_context(rows), "population", 10) is not None
    assert "page.j2" in compiled

    # A cache that cannot be written costs only the compilation: the site is still built.
    compiled.clear()
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path / "other"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "cache").write_text("not a folder")
    third = data_docs.build(_validated_context(rows), "population", 9)
    assert third == data_docs.folder("population", 9) and "page.j2" in compiled
