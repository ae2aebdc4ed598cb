"""The dossiers and p06_tasks suites: every D-* and T-* rule of RULES.md is checked, with its
dimension and level, and every SQL rule reads as GX will run it."""

from __future__ import annotations

import json
import re

import pytest

from lienthong.datasets import dataset
from lienthong.pipeline.dataset import DIMENSIONS
from lienthong.pipeline.validation import load_suite

# From shared/spec/RULES.md: rule → (dimension, levels its expectations have).
RULES = {
    "dossiers": {
        "D-C1": ("correct", {"row"}),
        "D-C2": ("correct", {"row"}),
        "D-C3": ("correct", {"row"}),
        "D-C4": ("correct", {"batch", "row"}),  # hold on the share, flag the rest
        "D-S1": ("sufficient", {"batch"}),
        "D-S2": ("sufficient", {"row", "batch"}),  # required fields; documented columns
        "D-K1": ("clean", {"batch", "row"}),  # the file's reading; rows it cannot read
        "D-K2": ("clean", {"row", "batch"}),  # conflicting copies; a correction recorded
        "D-L1": ("live", {"batch"}),
    },
    "p06_tasks": {
        "T-C1": ("correct", {"row"}),
        "T-C2": ("correct", {"row"}),
        "T-S1": ("sufficient", {"batch"}),
        "T-S2": ("sufficient", {"batch"}),
        "T-K1": ("clean", {"row", "batch"}),  # rows; blank and totals rows dropped
        "T-L1": ("live", {"batch"}),
        "T-L2": ("live", {"row"}),
    },
}


def _expectations(name: str):
    for suite in ("rows", "batch"):
        spec = json.loads((dataset(name).suites_dir / f"{suite}.json").read_text("utf-8"))
        for item in spec["expectations"]:
            yield suite, item


@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_has_expectations_with_its_dimension_and_level(name):
    seen: dict[str, tuple[str, set[str]]] = {}
    for suite, item in _expectations(name):
        meta = item["meta"]
        assert meta["dimension"] in DIMENSIONS
        assert meta["action"] in ("fix", "quarantine", "hold", "flag")
        assert (suite == "batch") == (meta["level"] == "batch")
        # Only batch-level rules hold; row-level ones quarantine or flag.
        assert (meta["action"] == "hold") <= (meta["level"] == "batch")
        assert item["description"]
        dimension, levels = seen.setdefault(meta["rule_id"], (meta["dimension"], set()))
        assert dimension == meta["dimension"], meta
        levels.add(meta["level"])
    assert seen == RULES[name]


@pytest.mark.parametrize("name", sorted(RULES))
def test_sql_rules_read_as_gx_runs_them(name):
    for suite in ("rows", "batch"):
        path = dataset(name).suites_dir / f"{suite}.json"
        _, expectations = load_suite(path, "file", batch_no=42)
        for expectation in expectations:
            if type(expectation).__name__ != "UnexpectedRowsExpectation":
                continue
            query = expectation.unexpected_rows_query
            rule = expectation.meta["rule_id"]
            assert "{batch}" in query, rule
            assert "{batch_no}" not in query and "--" not in query.split("\n")[0], rule
            # GX aliases {batch} itself unless the query joins: then the query must.
            joins = re.search(r"\bJOIN\b", query, re.IGNORECASE)
            for match in re.finditer(r"\{batch\}(\s+\w+)?", query):
                alias = (match.group(1) or "").strip().upper()
                aliased = alias not in ("", "WHERE", "GROUP", "ON", "LEFT", "JOIN", "CROSS")
                assert aliased == bool(joins), (rule, query)
            formatted = query.format(batch="staging.v")
            if suite == "batch":
                # Batch rules judge the file by its ledger row, even with no rows at all.
                assert "batch_no = 42" in formatted or "FROM staging.v b" in formatted, rule
            else:
                assert formatted.lstrip().startswith(("SELECT row_no", "SELECT b.row_no")), rule


def test_a_batch_number_placeholder_is_left_alone_without_a_batch():
    _, batch = load_suite(dataset("dossiers").suites_dir / "batch.json", "file")
    (d_l1,) = [e for e in batch if e.meta["rule_id"] == "D-L1"]
    assert "l.batch_no = {batch_no}" in d_l1.unexpected_rows_query.format(batch="staging.v")
