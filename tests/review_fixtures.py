"""Shared by the review's HTTP and browser tests: a warehouse for a whole module, batches with
rows broken on purpose, and a real Airflow serving the Data quality view."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg

from lienthong.pipeline.batches import BatchHeld
from lienthong_demo.citizens import generate_citizens
from tests.integration.population_fixtures import population_sync as sync

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

#: Rows broken on purpose, by name, with the rule each is quarantined under.
BROKEN = {"sex": "P-C7", "short_id": "P-C1", "future": "P-L2", "no_name": "P-S1"}


def citizens(count: int = 120, seed: int = 5) -> tuple[list[dict], dict[str, dict]]:
    """Clean citizens, plus one broken on purpose for each entry of ``BROKEN``."""
    clean = [c.item for c in generate_citizens(count, seed=seed, defect_rate=0.0, now=NOW)]
    made = [c.item for c in generate_citizens(4, seed=seed + 1000, defect_rate=0.0, now=NOW)]
    broken = dict(zip(BROKEN, made, strict=True))
    broken["sex"]["sex"] = "X"
    broken["short_id"]["personal_id"] = "12345"
    broken["future"]["updated_at"] = (NOW + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    broken["no_name"]["full_name"] = None
    return clean + list(broken.values()), broken


def right_sex(item: dict) -> str:
    """The sex a personal ID's G digit says (even: male)."""
    return "M" if int(item["personal_id"][3]) % 2 == 0 else "F"


def row_of(url: str, batch_no: int, item: dict) -> int:
    """The row number an item got in a batch's quarantine."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT row_no FROM quarantine.records WHERE batch_no = %s AND payload = %s::jsonb",
            (batch_no, json.dumps(item)),
        ).fetchone()[0]


def warehouse_state(url: str) -> dict[str, list]:
    """Everything a decision may change: core, quarantine, batches, decisions, fixes."""
    queries = {
        "core": "SELECT personal_id, sex, full_name, batch_no FROM core.population ORDER BY 1",
        "quarantine": "SELECT batch_no, row_no, rule_ids, status, decided_by, decision_reason"
        " FROM quarantine.records ORDER BY 1, 2",
        "batches": "SELECT batch_no, mode, status, published, quarantined FROM audit.batches"
        " ORDER BY 1",
        "decisions": "SELECT * FROM audit.decisions ORDER BY 1",
        "fixes": "SELECT * FROM audit.fixes ORDER BY 1, 2, 4",
        "watermarks": "SELECT * FROM audit.watermarks ORDER BY 1, 2",
    }
    with psycopg.connect(url) as conn:
        return {name: conn.execute(query).fetchall() for name, query in queries.items()}


def run_batch(batch_key: str, *, held: bool = False) -> int:
    """Extract, validate and (unless held) publish one batch, as the DAG's tasks do."""
    batch_no = sync.extract(batch_key, full=True, now=NOW)
    try:
        sync.validate(batch_no)
    except BatchHeld:
        if not held:
            raise
        return batch_no
    if held:
        raise AssertionError(f"batch {batch_no} was not held")
    sync.publish(batch_no)
    return batch_no


def artefacts_dir(name: str) -> Path:
    """Where a test keeps what it produces for people (screenshots), gitignored."""
    import os

    root = Path(
        os.environ.get("LIENTHONG_TEST_ARTEFACTS", Path(__file__).parents[1] / "test-artefacts")
    )
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder
