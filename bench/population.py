"""What the benchmark needs of the population dataset: its records, their changed versions for
an incremental sync, their flat form for raw COPY, and the peers' GX suite.

Records come from the demo generator (`lienthong_demo.citizens`), with its labelled defects at
the usual 2 %, written as JSON lines: the API server serves those lines as they are, and every
peer reads the same records from that server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lienthong_demo.citizens import DEFECTS as DEFECT_LABELS

if TYPE_CHECKING:
    import pandas as pd

#: Seed and defect rate of the generated records (the same records in every run).
SEED = 1
DEFECT_RATE = 0.02

#: Every defect the generator plants except future-stamped rows (P-L2): the API sends those
#: again in every incremental walk, where beside 1 % of changed records they would be a tenth
#: of the batch and hold it (rule P-L2 still runs on every row).
DEFECTS = tuple(label for label in DEFECT_LABELS if label != "P-L2")

#: The raw COPY's table: the item flattened as core.population holds it, every column text.
FLAT_COLUMNS = (
    "personal_id",
    "full_name",
    "date_of_birth",
    "sex",
    "ethnicity_code",
    "nationality",
    "perm_province_code",
    "perm_commune_code",
    "perm_detail",
    "cur_province_code",
    "cur_commune_code",
    "cur_detail",
    "household_id",
    "marital_status",
    "date_of_death",
    "updated_at",
)


def write_items(path: Path, rows: int, now: datetime) -> int:
    """Write ``rows`` generated citizens, in API order, one JSON object a line; return the count.

    ``updated_at`` spreads over the 30 days before ``now``.
    """
    from lienthong_demo.citizens import generate_citizens

    written = 0
    with path.open("w", encoding="utf-8") as out:
        for citizen in generate_citizens(
            rows, seed=SEED, defect_rate=DEFECT_RATE, defects=DEFECTS, now=now
        ):
            out.write(json.dumps(citizen.item, ensure_ascii=False))
            out.write("\n")
            written += 1
    return written


def write_changes(items: Path, changes: Path, fraction: float, stamp: datetime) -> int:
    """Write a new version of ``fraction`` of the citizens in ``items`` (every n-th line; one
    version per personal_id): a new household, ``updated_at`` = ``stamp``. Return the count."""
    every = max(1, round(1 / fraction))
    text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    chosen: set[str] = set()
    with items.open(encoding="utf-8") as lines, changes.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            if number % every:
                continue
            item = json.loads(line)
            personal_id = item.get("personal_id") if isinstance(item, dict) else None
            if not isinstance(personal_id, str) or personal_id in chosen:
                continue
            chosen.add(personal_id)
            item["household_id"] = f"HK{(number * 7919) % 10**10:010d}"
            item["updated_at"] = text
            out.write(json.dumps(item, ensure_ascii=False))
            out.write("\n")
    return len(chosen)


def flat_row(item: Any) -> tuple[str | None, ...]:
    """One item as the raw COPY's row: the documented fields as text, the address flattened.

    Whatever an item holds becomes a row (a non-text value as its JSON text): the floor must
    load every record ours receives.
    """
    if not isinstance(item, dict):
        item = {}
    permanent = item.get("permanent_address")
    current = item.get("current_address")
    permanent = permanent if isinstance(permanent, dict) else {}
    current = current if isinstance(current, dict) else {}
    values = (
        item.get("personal_id"),
        item.get("full_name"),
        item.get("date_of_birth"),
        item.get("sex"),
        item.get("ethnicity_code"),
        item.get("nationality"),
        permanent.get("province_code"),
        permanent.get("commune_code"),
        permanent.get("detail"),
        current.get("province_code"),
        current.get("commune_code"),
        current.get("detail"),
        item.get("household_id"),
        item.get("marital_status"),
        item.get("date_of_death"),
        item.get("updated_at"),
    )
    return tuple(_text(value) for value in values)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    # PostgreSQL text cannot hold U+0000; the mechanism stores U+FFFD in its place too.
    return text.replace("\x00", "\ufffd")


def flat_rows(items: Path) -> Iterator[tuple[str | None, ...]]:
    """Every item of a JSON-lines file as a raw COPY row."""
    with items.open(encoding="utf-8") as lines:
        for line in lines:
            yield flat_row(json.loads(line))


# -- the pandas peer's validation ------------------------------------------------------------


def derive_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns the peers' suite checks that GX's built-ins cannot derive (P-C2 to P-C4, P-C6),
    computed with pandas as a hand-written loader would."""
    import pandas as pd

    pid = frame["personal_id"].astype("string")
    dob = frame["date_of_birth"].astype("string")
    sex = frame["sex"].astype("string")
    century = pd.to_numeric(dob.str.slice(0, 2), errors="coerce")
    derived = pd.DataFrame(
        {
            "pid_birth_province": pid.str.slice(0, 3),
            "pid_century_sex": pd.to_numeric(pid.str.slice(3, 4), errors="coerce"),
            "expected_century_sex": (century - 19) * 2 + (sex == "F").astype("Int64"),
            "pid_year": pid.str.slice(4, 6),
            "birth_year": dob.str.slice(2, 4),
            "perm_pair": frame["permanent_address.province_code"].astype("string")
            + ":"
            + frame["permanent_address.commune_code"].astype("string"),
        },
        index=frame.index,
    )
    return pd.concat([frame, derived], axis=1)


def peer_expectations(today: datetime, records: Path | None = None) -> list[Any]:
    """A GX suite comparable to the population rules, on the normalised DataFrame (``records``,
    the file a file dataset's peer read, is not used: the peer read the API).

    One expectation a rule where a built-in fits: P-C1 to P-C7 (ID format, birth province, ID
    against sex/century and year, dates in range, commune in province, code sets), P-S1 (the
    required fields), P-K3 (one row per ID), P-L2 (no future stamps).
    """
    import great_expectations.expectations as gxe

    from lienthong.reference import admin_units
    from lienthong.reference.address_codes import address_codes

    codes = address_codes()
    pairs = sorted(f"{p}:{c}" for p, c in codes.current | codes.legacy)
    day = today.strftime("%Y-%m-%d")
    future = (today + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    required = (
        "personal_id",
        "full_name",
        "date_of_birth",
        "sex",
        "permanent_address.province_code",
        "permanent_address.commune_code",
    )
    return [
        gxe.ExpectColumnValuesToMatchRegex(column="personal_id", regex=r"^[0-9]{12}$"),
        gxe.ExpectColumnValuesToBeInSet(
            column="pid_birth_province", value_set=codes.birth_province_codes
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="pid_century_sex",
            column_B="expected_century_sex",
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnPairValuesToBeEqual(
            column_A="pid_year", column_B="birth_year", ignore_row_if="either_value_is_missing"
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column="date_of_birth",
            regex=r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column="date_of_birth", min_value="1900-01-01", max_value=day
        ),
        gxe.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="date_of_death",
            column_B="date_of_birth",
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        ),
        gxe.ExpectColumnValuesToBeInSet(column="perm_pair", value_set=pairs),
        gxe.ExpectColumnValuesToBeInSet(column="sex", value_set=["M", "F"]),
        gxe.ExpectColumnValuesToBeInSet(
            column="ethnicity_code", value_set=[f"{n:02d}" for n in range(1, 55)]
        ),
        gxe.ExpectColumnValuesToMatchRegex(column="nationality", regex=r"^[A-Z]{2}$"),
        gxe.ExpectColumnValuesToBeInSet(
            column="current_address.province_code",
            value_set=sorted(p.code for p in admin_units.current_provinces()),
        ),
        *(gxe.ExpectColumnValuesToNotBeNull(column=column) for column in required),
        gxe.ExpectColumnValuesToBeUnique(column="personal_id"),
        gxe.ExpectColumnValuesToMatchRegex(
            column="updated_at", regex=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}(\.[0-9]+)?Z$"
        ),
        gxe.ExpectColumnValuesToBeBetween(column="updated_at", max_value=future),
    ]
