"""The demo's provincial file drops: every delivery problem of SOURCES.md §3 and §4, with the
outcome each file must have, written into the landing folders of the demo's sources.

``prepare_demo_drops`` writes the first round of files (into ``<landing_root>/dossiers/<p>/``
and ``<landing_root>/p06_tasks/<p>/``, the folders ``sources.yaml`` names) and returns every
scenario of every round. Some problems need a file to have been processed first (the same file
delivered again, a corrected redelivery, an older month re-sent after a newer one): those are
round 2, written by ``deliver_round(landing_root, scenarios, 2)`` once the round-1 files have
been run (each source's DAG run until it skips). ``outcome_of`` reads what became of a
scenario's file from the ledger, and ``render_drop_outcomes`` makes the demo's summary, one line
per file, with whether it ended as it must.

Every row of every file is labelled by the generators (``dossier_files``, ``task_workbooks``);
the applicants come from ``population``, the citizens that must be in ``core.population`` for
rule D-C4 (default: ``dossier_files.demo_population()``, which the caller must then load).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import dict_row

from lienthong.text import encodings
from lienthong_demo.dossier_files import (
    DeliveryOptions,
    DossierDelivery,
    corrected_redelivery,
    demo_population,
    generate_dossier_delivery,
    same_file_again,
)
from lienthong_demo.task_workbooks import (
    TaskWorkbookDelivery,
    WorkbookOptions,
    generate_task_series,
    generate_task_workbook,
)

__all__ = [
    "DEMO_PROVINCES",
    "DropScenario",
    "deliver_round",
    "outcome_of",
    "prepare_demo_drops",
    "render_drop_outcomes",
]

#: The provinces whose drop folders the demo fills (sources.yaml has their entries).
DEMO_PROVINCES = ("40", "01", "79")

_VIETNAM = timedelta(hours=7)


@dataclass(frozen=True)
class DropScenario:
    """One delivered file and what must become of it.

    Attributes:
        source: the sources-file entry (its DAG id), e.g. ``dossiers_40``.
        dataset, province: of the source.
        round: 1 (written by ``prepare_demo_drops``) or 2 (by ``deliver_round`` after round 1
            has run).
        file: the data file's name (for a manifest that comes without its CSV, the CSV it
            announces); the ledger's ``name``.
        problem: the delivery problem, in words.
        expected: the outcome the file must have: ``published``, ``held``, ``waiting``
            (a CSV without its manifest) or ``duplicate`` (loads nothing).
        rules: the rules that decide it (those that must hold it, or the fix it needs).
        rows: the rows' labelled outcomes (published, quarantined, collapsed, dropped).
        files: (path under the landing root, bytes) of each file delivered.
    """

    source: str
    dataset: str
    province: str
    round: int
    file: str
    problem: str
    expected: str
    rules: tuple[str, ...] = ()
    rows: Mapping[str, int] = field(default_factory=dict)
    files: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    def write(self, landing_root: Path) -> None:
        """Write the scenario's files under the landing root."""
        for relative, data in self.files:
            path = landing_root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _row_counts(labels: Sequence[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label in labels:
        counts[label.expected.outcome] = counts.get(label.expected.outcome, 0) + 1
    return counts


#: The dimension of each rule that quarantines rows (RULES.md).
_DIMENSION = {"C": "correct", "S": "sufficient", "K": "clean", "L": "live"}


def _publishable(labels: Sequence[Any]) -> bool:
    """Whether the labelled row defects leave every dimension's pass rate at 95 % or above
    (with a margin), so that a file meant to be published with its defects is not held."""
    checked = [label for label in labels if label.expected.outcome in ("published", "quarantined")]
    failing: dict[str, int] = {}
    for label in checked:
        if label.expected.outcome == "quarantined":
            dimension = _DIMENSION[label.expected.rule_id[2]]
            failing[dimension] = failing.get(dimension, 0) + 1
    return all(count <= 0.045 * len(checked) for count in failing.values())


def _dossier(
    delivery: DossierDelivery,
    round_no: int,
    problem: str,
    expected: str,
    rules: Sequence[str] = (),
    *,
    csv: bool = True,
    manifest: bool = True,
) -> DropScenario:
    folder = f"dossiers/{delivery.province_code}"
    files = []
    if csv:
        files.append((f"{folder}/{delivery.csv_name}", delivery.csv))
    if manifest and delivery.manifest is not None:
        files.append((f"{folder}/{delivery.manifest_name}", delivery.manifest))
    return DropScenario(
        source=f"dossiers_{delivery.province_code}",
        dataset="dossiers",
        province=delivery.province_code,
        round=round_no,
        file=delivery.csv_name,
        problem=problem,
        expected=expected,
        rules=tuple(rules),
        rows=_row_counts(delivery.labels) if csv else {},
        files=tuple(files),
    )


def _workbook(
    delivery: TaskWorkbookDelivery,
    round_no: int,
    problem: str,
    expected: str,
    rules: Sequence[str] = (),
) -> DropScenario:
    return DropScenario(
        source=f"p06_tasks_{delivery.province_code}",
        dataset="p06_tasks",
        province=delivery.province_code,
        round=round_no,
        file=delivery.name,
        problem=problem,
        expected=expected,
        rules=tuple(rules),
        rows=_row_counts(delivery.labels),
        files=((f"p06_tasks/{delivery.province_code}/{delivery.name}", delivery.data),),
    )


def _dossier_scenarios(
    provinces: Sequence[str], today: date, population: Sequence[Mapping[str, Any]]
) -> list[DropScenario]:
    first, second, third = (list(provinces) * 3)[:3]

    def export(province: str, days_ago: int, **options: Any) -> DossierDelivery:
        return generate_dossier_delivery(
            province,
            today - timedelta(days=days_ago),
            count=options.pop("count", 300),
            seed=options.pop("seed", 6),
            defect_rate=options.pop("defect_rate", 0.0),
            defects=options.pop("defects", None),
            population=population,
            options=DeliveryOptions(**options),
        )

    # The first seed whose labelled defects leave the file publishable.
    labelled = next(
        delivery
        for seed in range(6, 40)
        if _publishable(
            (delivery := export(first, 3, defect_rate=0.04, count=400, seed=seed)).labels
        )
    )
    legacy = export(
        first, 2, encoding=encodings.WINDOWS_1258, decompose_all=True, delimiter=";",
        shuffle_columns=True, defect_rate=0.02,
    )  # fmt: skip
    scenarios = [
        _dossier(labelled, 1, "UTF-8, a labelled defect of every row rule", "published",
                 ("D-C1", "D-C2", "D-C3", "D-C4", "D-S2", "D-K2")),
        _dossier(legacy, 1, "Windows-1258 with combining tone marks, ';', columns shuffled",
                 "published", ("D-K1",)),
        _dossier(export(first, 1, encoding=encodings.TCVN3, manifest="wrong_encoding",
                        defect_rate=0.02),
                 1, "TCVN3 text, the manifest claims UTF-8", "published", ("D-K1",)),
        _dossier(same_file_again(labelled), 2, "the same file delivered again", "duplicate",
                 ("D-K2",)),
        _dossier(corrected_redelivery(legacy), 2, "the same name, corrected content",
                 "published", ("D-K2",)),
        _dossier(export(second, 4, encoding=encodings.UTF8_SIG, extra_column=True),
                 1, "UTF-8 with a byte order mark, an extra column", "published", ("D-K1",)),
        _dossier(export(second, 3, manifest="wrong_rows"), 1,
                 "the manifest's row count is wrong", "held", ("D-S1",)),
        _dossier(export(second, 2, manifest="wrong_sha256"), 1,
                 "the manifest's checksum is wrong", "held", ("D-S1",)),
        _dossier(export(second, 1, manifest="missing"), 1, "a CSV without its manifest",
                 "waiting", ("D-S1",)),
        _dossier(export(second, 5), 1, "a manifest without its CSV", "held", ("D-S1",),
                 csv=False),
        _dossier(export(second, 12, arrival_delay_days=11), 1, "a file dated 12 days ago",
                 "held", ("D-L1",)),
        _dossier(export(third, 1, truncate=True), 1, "the transfer broke off in the last row",
                 "held", ("D-S1",)),
        _dossier(export(third, 2, empty="zero_bytes"), 1, "an empty file (no bytes at all)",
                 "held", ("D-S2",)),
        _dossier(export(third, 3, empty="header_only"), 1, "a header and no rows",
                 "published"),
        _dossier(export(third, 4, drop_column="status"), 1,
                 "a documented column (status) missing", "held", ("D-S2",)),
        _dossier(export(third, 5, defects=["D-C4"], defect_rate=0.2, seed=9), 1,
                 "a fifth of the applicants unknown to the population", "held", ("D-C4",)),
    ]  # fmt: skip
    return scenarios


def _month_start(day: date, back: int) -> date:
    month = day.replace(day=1)
    for _ in range(back):
        month = (month - timedelta(days=1)).replace(day=1)
    return month


def _task_scenarios(provinces: Sequence[str], today: date) -> list[DropScenario]:
    first, second, third = (list(provinces) * 3)[:3]
    # Small workbooks: a few defects per month keep every dimension at 95 % or above.
    pools = (
        ("T-C1:fix", "T-K1:identical", "T-L2", "T-C2:year"),
        ("T-C1:fix", "T-K1:unreadable_date", "T-L2", "T-C2:after_month"),
        ("T-C1:unknown", "T-K1:identical", "T-C2:missing_completion", "T-L2"),
    )
    scenarios = []
    months = [_month_start(today, back) for back in (3, 2, 1)]
    labelled = []
    for number, (month, pool) in enumerate(zip(months, pools, strict=True)):
        # One universe of tasks (the seed) for every month; the first defect rate whose
        # labelled defects leave the workbook publishable.
        delivery = next(
            delivery
            for rate in (0.08, 0.07, 0.06, 0.05, 0.04, 0.03, 0.02, 0.0)
            if _publishable(
                (delivery := generate_task_workbook(
                    first, month, seed=6, count=60, defect_rate=rate, defects=pool,
                    options=WorkbookOptions(sheet_name="Nhiệm vụ", dates_as_text=0.4),
                )).labels
            )
        )  # fmt: skip
        labelled.append(delivery)
        scenarios.append(
            _workbook(delivery, 1, f"month {number + 1} of 3, labelled defects of the row rules",
                      "published", ("T-C1", "T-C2", "T-K1", "T-L2"))
        )  # fmt: skip
    revised = generate_task_workbook(
        first, months[1], seed=6, count=60, defect_rate=0.0,
        options=WorkbookOptions(header_style="upper"),
    )  # fmt: skip
    scenarios.append(
        _workbook(revised, 2, "an older month sent again (revised) after a newer one", "held",
                  ("T-L1",))
    )  # fmt: skip
    layout = WorkbookOptions(
        sheet_name="Nhiem vu", cover_sheet=True, header_style="no_diacritics",
        shuffle_headers=True, dates_as_text=0.8, blank_rows=3,
    )  # fmt: skip
    earlier, later = generate_task_series(
        second, months[1], 2, seed=8, defect_rate=0.0, options=layout, drop_task_in=1
    )
    scenarios += [
        _workbook(earlier, 1, "headers without diacritics in another order, text dates, a cover"
                  " sheet, blank and totals rows", "published", ("T-C1", "T-K1")),
        _workbook(later, 1, "a task of last month's snapshot missing", "held", ("T-S2",)),
    ]  # fmt: skip
    only_sheet = generate_task_workbook(
        third, months[1], seed=9, defect_rate=0.0,
        options=WorkbookOptions(sheet_name="Báo cáo", header_style="upper", dates_as_text=1.0),
    )  # fmt: skip
    no_status = generate_task_workbook(
        third, months[2], seed=9, defect_rate=0.0,
        options=WorkbookOptions(missing_header="Trạng thái"),
    )  # fmt: skip
    scenarios += [
        _workbook(only_sheet, 1, "the only sheet, upper-case headers, every date as text",
                  "published"),
        _workbook(no_status, 1, "the status column missing", "held", ("T-S1",)),
        _workbook(replace(only_sheet), 2, "the same workbook delivered again", "duplicate"),
    ]  # fmt: skip
    return scenarios


def prepare_demo_drops(
    landing_root: Path,
    *,
    now: datetime,
    provinces: Sequence[str] = DEMO_PROVINCES,
    population: Sequence[Mapping[str, Any]] | None = None,
    replace_existing: bool = False,
) -> list[DropScenario]:
    """Write the first round of the demo's files under ``landing_root``; return every
    scenario (both rounds) with the outcome its file must have.

    Args:
        landing_root: the folder holding ``dossiers/<province>/`` and
            ``p06_tasks/<province>/`` (``.lienthong/landing`` for the shipped sources file).
        now: the demo's clock: export days and report months are dated from it (the files
            arrive now, so only the late file breaks rule D-L1).
        provinces: the three provinces whose folders are filled (the scenarios are spread over
            them; fewer provinces take more scenarios each).
        population: the citizens in ``core.population`` the applicants are drawn from.
        replace_existing: remove what ``landing_root`` holds first (the landing folders and
            the archive, held and rejected folders beside them). The demo's warehouse is new on
            every run; files an earlier run left would be taken again, so the demo starts from
            an empty landing root. Without it, a landing root that holds files is an error.

    Raises:
        FileExistsError: ``landing_root`` holds files and ``replace_existing`` is False.
    """
    if not provinces:
        raise ValueError("give at least one province")
    if landing_root.exists() and any(p.is_file() for p in landing_root.rglob("*")):
        if not replace_existing:
            raise FileExistsError(
                f"{landing_root} holds files of an earlier run; pass replace_existing=True"
            )
        shutil.rmtree(landing_root)
    today = (now + _VIETNAM).date()
    people = population if population is not None else demo_population(500, seed=6)
    scenarios = _dossier_scenarios(provinces, today, people) + _task_scenarios(provinces, today)
    deliver_round(landing_root, scenarios, 1)
    return scenarios


def deliver_round(landing_root: Path, scenarios: Sequence[DropScenario], round_no: int) -> None:
    """Write the files of one round (round 2 once every source has run round 1)."""
    for scenario in scenarios:
        if scenario.round == round_no:
            scenario.write(landing_root)


def outcome_of(conn: psycopg.Connection, scenario: DropScenario) -> dict[str, Any] | None:
    """What became of a scenario's file: its ledger row (the round-th delivery of its name)
    joined with its batch's counts and hold reason; None when it was never seen."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            """SELECT l.file_no, l.outcome, l.first_seen, l.reason, l.batch_no,
                      l.duplicate_of, l.corrects, b.status, b.received, b.published,
                      b.quarantined, b.collapsed, b.fixed, b.hold_reason,
                      (SELECT string_agg(f.rule_id || ' ' || f.n, ', ' ORDER BY f.rule_id)
                       FROM (SELECT rule_id, count(*) AS n FROM audit.findings
                             WHERE batch_no = l.batch_no AND action = 'flag'
                             GROUP BY rule_id) f) AS flagged
               FROM audit.landing_files l
               LEFT JOIN audit.batches b ON b.batch_no = l.batch_no
               WHERE l.source = %s AND l.name = %s ORDER BY l.file_no""",
            (scenario.source, scenario.file),
        ).fetchall()
    return rows[scenario.round - 1] if len(rows) >= scenario.round else None


def _rules_in(text: str | None) -> list[str]:
    return sorted(set(re.findall(r"rule ([DT]-[CSKL]\d)", text or "")))


def _describe(outcome: dict[str, Any], now: datetime) -> str:
    state = outcome["outcome"]
    if state == "published":
        return (
            f"published by batch {outcome['batch_no']}: {outcome['received']} rows, "
            f"{outcome['published']} published, {outcome['quarantined']} quarantined, "
            f"{outcome['collapsed']} collapsed, {outcome['fixed']} fixed"
            + (f", flagged {outcome['flagged']}" if outcome["flagged"] else "")
            + (f"; corrects delivery {outcome['corrects']}" if outcome["corrects"] else "")
        )
    if state == "held":
        rules = ", ".join(_rules_in(outcome["hold_reason"])) or "a dimension under threshold"
        return f"held (batch {outcome['batch_no']}) by {rules}"
    if state == "waiting":
        hours = max(0.0, (now - outcome["first_seen"]).total_seconds() / 3600)
        return f"waiting for its manifest since {outcome['first_seen']:%Y-%m-%d %H:%M} UTC ({hours:.1f} h)"
    if state == "duplicate":
        return f"duplicate of delivery {outcome['duplicate_of']}: nothing loaded"
    return f"{state}: {outcome['reason']}"


def render_drop_outcomes(
    conn: psycopg.Connection, scenarios: Sequence[DropScenario], *, now: datetime | None = None
) -> str:
    """The demo's summary of the file drops: per source, each file, its problem, what became
    of it, and whether that is the outcome it must have (``ok`` or ``UNEXPECTED``)."""
    from datetime import UTC

    now = now or datetime.now(UTC)
    lines = []
    current = None
    for scenario in sorted(scenarios, key=lambda s: (s.dataset, s.province, s.round, s.file)):
        if scenario.source != current:
            current = scenario.source
            lines.append(f"{scenario.source}:")
        outcome = outcome_of(conn, scenario)
        if outcome is None:
            verdict, text = "UNEXPECTED", "never seen"
        else:
            text = _describe(outcome, now)
            held_by = set(_rules_in(outcome["hold_reason"]))
            ok = outcome["outcome"] == scenario.expected and (
                scenario.expected != "held" or set(scenario.rules) <= held_by
            )
            verdict = "ok" if ok else "UNEXPECTED"
        round_note = " (later)" if scenario.round > 1 else ""
        lines.append(
            f"  {verdict:<10} {scenario.file}{round_note}: {scenario.problem} -> {text}"
            f" [must be {scenario.expected}"
            + (f", {' '.join(scenario.rules)}" if scenario.rules else "")
            + "]"
        )
    return "\n".join(lines)
