"""What the benchmark needs of the dossiers dataset: one day's export of N dossiers landed as
a province's file drop, its applicants for ``core.population``, its flat form for raw COPY, and
the peers' GX suite.

The export comes from the demo generator (`lienthong_demo.dossier_files`), with its labelled
defects at 2 % (every row defect it plants), written by the delivery's own ``write`` under a
landing root laid out as SOURCES.md §3 says::

    <root>/dossiers/40/dossiers_40_<YYYYMMDD>.csv            UTF-8, ",", documented order
    <root>/dossiers/40/dossiers_40_<YYYYMMDD>.manifest.json  rows, sha256, encoding
    <root>/applicants.jsonl                                  the citizens applicants are

The file is dated the day before ``now`` (Vietnam's calendar), so that rule D-L1 (arrival
within 7 days) passes. The applicants are clean citizens of the population generator, written
as the population API's items: the harness publishes them into ``core.population`` with a
population sync of their own (not timed), so that rule D-C4 finds them.

A file source is one batch per file: there is no incremental sync to measure.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

#: Seed and defect rate of the generated export (the same rows for the same day).
SEED = 1
DEFECT_RATE = 0.02

#: The province whose landing folder the export is dropped in.
PROVINCE = "40"

#: The file of applicants under the landing root (population API items, one a line).
APPLICANTS_FILE = "applicants.jsonl"

#: The citizens the applicants are drawn from: as many as the rows, within these bounds.
APPLICANTS = (100, 10_000)

#: The raw COPY's table: the CSV's columns, every one text.
FLAT_COLUMNS = DOCUMENTED_COLUMNS

_VIETNAM = timedelta(hours=7)


def landing_folder(root: Path) -> Path:
    """The province's landing folder under a landing root (the Source's ``path``)."""
    return root / "dossiers" / PROVINCE


def export_csv(root: Path) -> Path:
    """The export's CSV under a landing root."""
    [found] = sorted(landing_folder(root).glob("dossiers_*.csv"))
    return found


def manifest_of(csv_file: Path) -> Path:
    """The manifest beside an export's CSV."""
    return csv_file.with_name(csv_file.name.removesuffix(".csv") + ".manifest.json")


def applicants_file(root: Path) -> Path:
    """The applicants' items under a landing root."""
    return root / APPLICANTS_FILE


def write_export(root: Path, rows: int, now: datetime) -> int:
    """Write an export of ``rows`` generated dossiers (CSV and manifest) and its applicants
    under the landing root ``root``; return the rows written."""
    from lienthong_demo.dossier_files import demo_population, generate_dossier_delivery

    least, most = APPLICANTS
    people = demo_population(max(least, min(rows, most)), seed=SEED, now=now)
    day = (now + _VIETNAM).date() - timedelta(days=1)
    delivery = generate_dossier_delivery(
        PROVINCE, day, count=rows, seed=SEED, defect_rate=DEFECT_RATE, population=people
    )
    # One export in the folder: a run on a kept workdir replaces the earlier day's.
    shutil.rmtree(landing_folder(root), ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    delivery.write(root)
    with applicants_file(root).open("w", encoding="utf-8") as out:
        for person in people:
            out.write(json.dumps(person, ensure_ascii=False))
            out.write("\n")
    return len(delivery.rows)


def _text(value: str) -> str | None:
    # PostgreSQL text cannot hold U+0000; the mechanism stores U+FFFD in its place too.
    return value.replace("\x00", "\ufffd") if value else None


def flat_rows(root: Path) -> Iterator[tuple[str | None, ...]]:
    """Every row of the export's CSV as a raw COPY row (an empty value as NULL)."""
    with export_csv(root).open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            yield tuple(_text(row.get(column) or "") for column in FLAT_COLUMNS)


# -- the pandas peer's validation ------------------------------------------------------------


def read_frame(csv_file: Path) -> pd.DataFrame:
    """The export as a hand-written loader reads it: every column text, empty as missing."""
    import pandas as pd

    return pd.read_csv(csv_file, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")


def derive_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the peers' suite checks that GX's built-ins cannot derive (D-C1's birth
    province, D-C2's completed_at against the status), computed with pandas."""
    import pandas as pd

    status = frame["status"].astype("string")
    closed = status.isin(["completed", "rejected"]).astype("boolean")
    closed[status.isna()] = pd.NA
    derived = pd.DataFrame(
        {
            "pid_birth_province": frame["applicant_personal_id"].astype("string").str.slice(0, 3),
            "has_completed_at": frame["completed_at"].notna().astype("boolean"),
            "closed_status": closed,
        },
        index=frame.index,
    )
    return pd.concat([frame, derived], axis=1)


def peer_expectations(today: datetime, records: Path | None = None) -> list[Any]:
    """A GX suite comparable to the dossiers rules, on the DataFrame of ``records`` (the CSV).

    One expectation a rule part where a built-in fits: D-S1 (as many rows as the manifest
    says; the checksum has no built-in), D-S2 (the documented columns, the required fields),
    D-C1 (ID format, birth province), D-C2 (channel and status sets, due after received,
    completed_at exactly when closed and not before received), D-C3 (a commune of the
    province), D-C4 (applicants in the population, at least 95 %), D-K1 (RFC 3339 stamps),
    D-K2 (one row per dossier).
    """
    import great_expectations.expectations as gxe

    from lienthong.reference import admin_units
    from lienthong.reference.address_codes import address_codes

    del today  # nothing of the dossiers rules depends on the day but D-L1 (the file's date)
    if records is None:
        raise ValueError("the dossiers suite needs the export's CSV")
    manifest = json.loads(manifest_of(records).read_text(encoding="utf-8"))
    root = records.parents[2]
    with applicants_file(root).open(encoding="utf-8") as lines:
        known = sorted({json.loads(line)["personal_id"] for line in lines})
    communes = sorted(c.code for c in admin_units.current_communes() if c.province_code == PROVINCE)
    stamp = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9:]{5})$"
    return [
        gxe.ExpectTableRowCountToEqual(value=manifest["rows"]),
        gxe.ExpectTableColumnsToMatchSet(column_set=list(DOCUMENTED_COLUMNS), exact_match=False),
        *(
            gxe.ExpectColumnValuesToNotBeNull(column=column)
            for column in ("dossier_id", "procedure_code", "received_at", "status")
        ),
        gxe.ExpectColumnValuesToMatchRegex(column="applicant_personal_id", regex=r"^[0-9]{12}$"),
        gxe.ExpectColumnValuesToNotBeNull(column="applicant_personal_id"),
        gxe.ExpectColumnValuesToBeInSet(
            column="pid_birth_province", value_set=address_codes().birth_province_codes
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="channel"),
        gxe.ExpectColumnValuesToBeInSet(column="channel", value_set=["online", "offline"]),
        gxe.ExpectColumnValuesToBeInSet(
            column="status", value_set=["received", "processing", "completed", "rejected"]
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="due_at",
            column_B="received_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="has_completed_at",
            column_B="closed_status",
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="completed_at",
            column_B="received_at",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnValuesToNotBeNull(column="commune_code"),
        gxe.ExpectColumnValuesToBeInSet(column="commune_code", value_set=communes),
        gxe.ExpectColumnValuesToBeInSet(
            column="applicant_personal_id", value_set=known, mostly=0.95
        ),
        *(
            gxe.ExpectColumnValuesToMatchRegex(column=column, regex=stamp)
            for column in ("received_at", "due_at", "completed_at")
        ),
        gxe.ExpectColumnValuesToBeUnique(column="dossier_id"),
    ]
