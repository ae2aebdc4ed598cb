"""Helpers shared by the file-source tests: landing folders on local disk, the population the
dossiers' applicants come from, and one run of a file source's steps as the DAG runs them."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from lienthong.pipeline import batches, sync
from lienthong.sources import Source


def load_population(url: str, citizens: Sequence[Mapping[str, Any]]) -> None:
    """Put clean citizens straight into core.population (under a batch of their own), as a
    published population batch would: rule D-C4 looks applicants up there."""
    with psycopg.connect(url) as conn:
        batch_no = conn.execute(
            """INSERT INTO audit.batches (batch_key, source, dataset, mode, extracted_at, status,
                   received, fixed, published, quarantined, collapsed, applied)
               VALUES ('population:fixture', 'population', 'population', 'full', now(),
                       'published', %(n)s, 0, %(n)s, 0, 0, %(n)s)
               RETURNING batch_no""",
            {"n": len(citizens)},
        ).fetchone()[0]
        with (
            conn.cursor() as cur,
            cur.copy(
                """COPY core.population (personal_id, full_name, date_of_birth, sex,
                       ethnicity_code, nationality, perm_province_code, perm_commune_code,
                       perm_detail, updated_at, batch_no) FROM STDIN"""
            ) as copy,
        ):
            for c in citizens:
                address = c["permanent_address"]
                copy.write_row(
                    (
                        c["personal_id"],
                        c["full_name"],
                        c["date_of_birth"],
                        c["sex"],
                        c["ethnicity_code"],
                        c["nationality"],
                        address["province_code"],
                        address["commune_code"],
                        address["detail"],
                        c["updated_at"],
                        batch_no,
                    )
                )


def landing(root: Path, dataset: str, province: str) -> Path:
    """The landing folder of a province's files under ``root`` (SOURCES.md layout)."""
    folder = root / dataset / province
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def file_source(dataset: str, province: str, root: Path) -> Source:
    """A file source whose landing folder is under ``root``."""
    return Source(dataset=dataset, province=province, path=str(landing(root, dataset, province)))


@dataclass
class Run:
    """What one run of a file source did."""

    batch_no: int | None
    status: str | None
    counts: dict[str, int] | None
    hold: str | None


def run_source(source: Source, run_id: str, *, now: datetime) -> Run:
    """Extract, validate and publish as the DAG's tasks do (a held batch stops at validate)."""
    key = f"{source.key}:{run_id}"
    batch_no = sync.extract(source, key, now=now)
    if batch_no is None:
        return Run(None, None, None, None)
    try:
        sync.validate(source, batch_no)
    except batches.BatchHeld as held:
        return Run(batch_no, "held", None, str(held))
    counts = sync.publish(source, batch_no)
    return Run(batch_no, "published", counts, None)


def drain(source: Source, prefix: str, *, now: datetime, limit: int = 20) -> list[Run]:
    """Run the source until a run finds nothing ready; the runs that took a file."""
    runs = []
    for number in range(limit):
        run = run_source(source, f"{prefix}-{number}", now=now)
        if run.batch_no is None:
            return runs
        runs.append(run)
    raise AssertionError(f"{source.key}: still files after {limit} runs")


def ledger(url: str, source: str) -> list[dict[str, Any]]:
    """The source's ledger rows, in order."""
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT * FROM audit.landing_files WHERE source = %s ORDER BY file_no", (source,)
        ).fetchall()


def rule_results(url: str, batch_no: int) -> dict[tuple[str, str], dict[str, Any]]:
    """(rule, action) → success and observed value, of one batch."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            """SELECT rule_id, action, bool_and(success), string_agg(observed_value, ' | ')
               FROM audit.rule_results WHERE batch_no = %s GROUP BY rule_id, action""",
            (batch_no,),
        ).fetchall()
    return {(r, a): {"success": s, "observed": o} for r, a, s, o in rows}


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
