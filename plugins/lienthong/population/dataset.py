"""The population dataset for the shared write-audit-publish mechanism."""

from __future__ import annotations

from functools import cache
from typing import Any

from lienthong.ministry.extraction import walk_citizens
from lienthong.pipeline.dataset import Dataset, FirstLoad
from lienthong.population.contract import STAGING_COLUMNS, Preparer

_CORE_COLUMNS = (
    "personal_id, full_name, date_of_birth, sex, ethnicity_code, nationality, perm_province_code, "
    "perm_commune_code, perm_detail, cur_province_code, cur_commune_code, cur_detail, household_id, "
    "marital_status, date_of_death, extra, updated_at, batch_no"
)

# The batch's valid rows.
_PUBLISHED_ROWS = """
SELECT s.personal_id, s.full_name, s.dob, s.sex, s.ethnicity_code, s.nationality,
       s.perm_province_code, s.perm_commune_code, s.perm_detail, s.cur_province_code,
       s.cur_commune_code, s.cur_detail, s.household_id, s.marital_status, s.dod, s.extra,
       s.updated_ts, s.batch_no
FROM staging.population s
WHERE s.batch_no = %(batch_no)s AND s.collapsed IS NULL
  AND NOT EXISTS (SELECT 1 FROM quarantine.records q
                  WHERE q.batch_no = s.batch_no AND q.row_no = s.row_no)
"""

# The upsert takes them in key order: the key's index is then walked page by page, not probed
# at random (a full publish of 300k rows 4.1 s -> 3.6 s). Sorted by bytes (COLLATE "C"): a
# published personal_id is 12 digits, in the same order under any collation, and comparing
# bytes is cheaper than locale rules (a million rows, 9.0 s -> 8.4 s even under C.UTF-8). A
# first load, which builds the index after its rows, takes them as they are scanned: sorting
# them first cost it more than the sorted index build saved (a million rows, 4.6 -> 4.0 s).
_IN_KEY_ORDER = 'ORDER BY s.personal_id COLLATE "C"'

# Newest updated_at wins; an equal one keeps what is there, so a rerun rewrites nothing.
PUBLISH_SQL = f"""
INSERT INTO core.population AS c ({_CORE_COLUMNS})
{_PUBLISHED_ROWS}{_IN_KEY_ORDER}
ON CONFLICT (personal_id) DO UPDATE SET
  ({_CORE_COLUMNS}) = (EXCLUDED.personal_id, EXCLUDED.full_name, EXCLUDED.date_of_birth,
   EXCLUDED.sex, EXCLUDED.ethnicity_code, EXCLUDED.nationality, EXCLUDED.perm_province_code,
   EXCLUDED.perm_commune_code, EXCLUDED.perm_detail, EXCLUDED.cur_province_code,
   EXCLUDED.cur_commune_code, EXCLUDED.cur_detail, EXCLUDED.household_id, EXCLUDED.marital_status,
   EXCLUDED.date_of_death, EXCLUDED.extra, EXCLUDED.updated_at, EXCLUDED.batch_no)
WHERE c.updated_at < EXCLUDED.updated_at
"""

FIRST_LOAD = FirstLoad(
    tables=("core.population",),
    sql=f"INSERT INTO core.population ({_CORE_COLUMNS}){_PUBLISHED_ROWS}",
)


@cache
def _country_codes() -> list[str]:
    import pycountry

    return sorted(country.alpha_2 for country in pycountry.countries)


def suite_parameters(batch: dict[str, Any]) -> dict[str, Any]:
    """Values for the population suites' $PARAMETERs."""
    from lienthong.reference.address_codes import address_codes

    return {
        "birth_province_codes": address_codes().birth_province_codes,
        "country_codes": _country_codes(),
    }


POPULATION = Dataset(
    name="population",
    staging_table="staging.population",
    staging_columns=STAGING_COLUMNS,
    key_column="personal_id",
    version_column="updated_ts",
    publish_sql=PUBLISH_SQL,
    first_load=FIRST_LOAD,
    preparer=lambda source: Preparer(),
    personal_fields=frozenset({"personal_id", "full_name"}),
    province_column="perm_province_code",
    extractor=walk_citizens,
    suite_parameters=suite_parameters,
)
