"""The demo's file drops: every scenario ends as it must when each source is run until its
landing folder is empty, round 1 then round 2, and the summary says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.sources import Source
from lienthong_demo.dossier_files import demo_population
from lienthong_demo.drops import (
    DEMO_PROVINCES,
    deliver_round,
    outcome_of,
    prepare_demo_drops,
    render_drop_outcomes,
)

from .file_fixtures import drain, load_population

pytestmark = pytest.mark.integration


def test_every_demo_drop_ends_as_it_must(warehouse_url, tmp_path):
    now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    people = demo_population(500, seed=6)
    load_population(warehouse_url, people)
    landing = tmp_path / "landing"
    stale = landing / "dossiers" / "40_archive" / "1" / "dossiers_40_20250101.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("from an earlier demo")
    with pytest.raises(FileExistsError, match="replace_existing"):
        prepare_demo_drops(landing, now=now, population=people)
    scenarios = prepare_demo_drops(landing, now=now, population=people, replace_existing=True)
    assert not stale.exists()
    sources = sorted({(s.dataset, s.province) for s in scenarios})
    assert len(sources) == 2 * len(DEMO_PROVINCES)
    problems = " | ".join(s.problem for s in scenarios)
    for words in ("TCVN3", "Windows-1258", "byte order mark", "checksum", "row count",
                  "without its manifest", "without its CSV", "again", "corrected",
                  "older month", "missing", "empty", "broke off", "12 days ago"):  # fmt: skip
        assert words in problems, words

    def run_all(prefix: str, at: datetime) -> None:
        for dataset, province in sources:
            source = Source(
                dataset=dataset, province=province, path=str(landing / dataset / province)
            )
            drain(source, f"{prefix}-{dataset}-{province}", now=at)

    run_all("round1", now)
    deliver_round(landing, scenarios, 2)
    run_all("round2", now + timedelta(hours=1))

    with psycopg.connect(warehouse_url) as conn:
        for scenario in scenarios:
            outcome = outcome_of(conn, scenario)
            assert outcome is not None, scenario
            assert outcome["outcome"] == scenario.expected, (scenario, outcome)
            if scenario.expected == "published" and scenario.rows:
                counted = {k: outcome[k] or 0 for k in ("published", "quarantined", "collapsed")}
                assert counted == {k: scenario.rows.get(k, 0) for k in counted}, scenario
        summary = render_drop_outcomes(conn, scenarios, now=now + timedelta(hours=1))
    assert "UNEXPECTED" not in summary, summary
    assert summary.count("  ok ") == len(scenarios)
    assert "waiting for its manifest since" in summary
    assert "held (batch" in summary and "by D-S1" in summary
    print(summary)
