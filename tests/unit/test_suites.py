"""The GX suites: every population rule is checked, every expectation says what it checks."""

from __future__ import annotations

import json

import pytest

from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.pipeline.validation import load_suite
from lienthong.population.dataset import POPULATION

# From shared/spec/RULES.md, population: rule → (dimension, level).
POPULATION_RULES = {
    **{f"P-C{n}": ("correct", "row") for n in range(1, 8)},
    "P-S1": ("sufficient", "row"),
    "P-S2": ("sufficient", "batch"),
    "P-S3": ("sufficient", "batch"),
    "P-K2": ("clean", "row"),
    "P-K3": ("clean", "row"),
    "P-K5": ("clean", "row"),
    "P-L1": ("live", "batch"),
    "P-L2": ("live", "row"),
    "P-L3": ("live", "row"),
    "P-L4": ("live", "row"),
}
# P-K1 and P-K4 only fix (population/contract.py); every other rule has an expectation.


def _expectations():
    for name in ("rows", "batch"):
        spec = json.loads((POPULATION.suites_dir / f"{name}.json").read_text("utf-8"))
        for item in spec["expectations"]:
            yield name, item


def test_every_population_rule_has_an_expectation_with_its_dimension_and_level():
    seen = {}
    for suite, item in _expectations():
        meta = item["meta"]
        assert meta["dimension"] in DIMENSIONS
        assert meta["action"] in ("quarantine", "hold", "flag")
        assert (suite == "batch") == (meta["level"] == "batch")
        assert item["description"]
        seen.setdefault(meta["rule_id"], (meta["dimension"], meta["level"]))
    assert seen == POPULATION_RULES


def test_sql_rules_read_the_batch_and_select_row_numbers():
    for suite in ("rows", "batch"):
        _, expectations = load_suite(POPULATION.suites_dir / f"{suite}.json", "full")
        for expectation in expectations:
            if type(expectation).__name__ != "UnexpectedRowsExpectation":
                continue
            query = " ".join(expectation.unexpected_rows_query.split())
            assert "{batch}" in query
            if suite == "rows":
                assert query.startswith("SELECT row_no FROM {batch}"), query


def test_a_rule_kept_in_its_own_sql_file_reads_as_gx_expects_it():
    _, rows = load_suite(POPULATION.suites_dir / "rows.json", "full")
    (p_c3,) = [e for e in rows if e.meta["rule_id"] == "P-C3"]
    query = p_c3.unexpected_rows_query
    assert "--" not in query  # comments stay in the file
    # GX substitutes {batch} with str.format: the regex's braces must survive it.
    assert "personal_id ~ '^[0-9]{12}$'" in query.format(batch="staging.v")
    assert "FROM staging.v" in query.format(batch="staging.v")


@pytest.mark.parametrize("mode", ["full", "incremental"])
def test_suites_load_as_gx_expectations_per_mode(mode):
    _, rows = load_suite(POPULATION.suites_dir / "rows.json", mode)
    _, batch = load_suite(POPULATION.suites_dir / "batch.json", mode)
    assert len(rows) == 21
    batch_rules = [e.meta["rule_id"] for e in batch]
    # Freshness (P-L1) is a property of a full extraction only.
    assert batch_rules == (["P-S2", "P-S3", "P-L1"] if mode == "full" else ["P-S2", "P-S3"])


def test_a_suite_without_rule_metadata_is_refused(tmp_path):
    bad = tmp_path / "rows.json"
    bad.write_text(
        json.dumps(
            {
                "name": "x",
                "expectations": [
                    {
                        "type": "expect_column_values_to_not_be_null",
                        "description": "d",
                        "meta": {"dimension": "clean", "level": "row", "action": "quarantine"},
                        "kwargs": {"column": "a"},
                    }
                ],
            }
        )
    )
    with pytest.raises(ValueError, match=r"expectation 0 has no meta\.rule_id"):
        load_suite(bad, "full")
