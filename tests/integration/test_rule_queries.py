"""SQL rules written for speed select exactly the rows their rule names.

P-C3 and P-C4 compare character codes before they run their regular expressions (a third of
the time on a million rows). Here each query, read from its file as validation reads it, runs
on rows made to probe every guard (non-digits in every compared place, short and empty text,
NULLs, non-ASCII digits and letters, sex other than M/F) and must select the rows that a plain
reading of the rule in Python selects.
"""

from __future__ import annotations

import itertools
import re

import psycopg
import pytest

from lienthong.pipeline.validation import load_suite
from lienthong.population.dataset import POPULATION

pytestmark = pytest.mark.integration

_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_YEAR = re.compile(r"[0-9]{4}-")


def _p_c3(personal_id: str | None, date_of_birth: str | None, sex: str | None) -> bool:
    """Rule P-C3 fails the row: the ID's G digit disagrees with sex and century of birth."""
    if personal_id is None or date_of_birth is None or sex not in ("M", "F"):
        return False
    if not _TWELVE_DIGITS.fullmatch(personal_id) or not _YEAR.match(date_of_birth):
        return False
    expected = (int(date_of_birth[:2]) - 19) * 2 + (1 if sex == "F" else 0)
    return int(personal_id[3]) != expected


def _p_c4(personal_id: str | None, date_of_birth: str | None, sex: str | None) -> bool:
    """Rule P-C4 fails the row: the ID's YY disagrees with the year of birth."""
    if personal_id is None or date_of_birth is None:
        return False
    if not _TWELVE_DIGITS.fullmatch(personal_id) or not _YEAR.match(date_of_birth):
        return False
    return personal_id[4:6] != date_of_birth[2:4]


_IDS = (
    None,
    "",
    "001090123456",  # G 0 (a man born 19xx), YY 90
    "001190123456",  # G 1
    "001290123456",  # G 2
    "001390123456",  # G 3 (a woman born 20xx)
    "001305123456",  # G 3, YY 05
    "0013051234",  # too short
    "0013051234567",  # too long
    "001A90123456",  # a letter where G is
    "0011:0123456",  # a character just past the digits
    "001/90123456",  # one just before
    "0011٩0123456",  # an Arabic-Indic nine among ASCII digits
    "001 90123456",
    "001",
)
_DATES = (
    None,
    "",
    "1990-05-17",
    "2005-01-01",
    "1905-12-31",
    "2190-01-01",
    "1990",  # no dash
    "19x0-01-01",
    "2005-02-30",  # not a real day: the rules read the text, not the date
    "٢٠05-01-01",  # Arabic-Indic digits for the century
    "1",
    "A990-01-01",
)
_SEXES = (None, "M", "F", "X", "")


@pytest.fixture
def probes(warehouse_conn: psycopg.Connection) -> str:
    """A table of every combination of the probing values, as a batch of the rules reads it."""
    rows = [
        (row_no, *values)
        for row_no, values in enumerate(itertools.product(_IDS, _DATES, _SEXES), start=1)
    ]
    warehouse_conn.execute(
        "CREATE TEMPORARY TABLE probes (row_no int, personal_id text, date_of_birth text, sex text)"
    )
    with warehouse_conn.cursor().copy(
        "COPY probes (row_no, personal_id, date_of_birth, sex) FROM STDIN"
    ) as copy:
        for row in rows:
            copy.write_row(row)
    return "probes"


@pytest.mark.parametrize(("rule_id", "reading"), [("P-C3", _p_c3), ("P-C4", _p_c4)])
def test_a_rule_checking_character_codes_first_selects_the_rows_its_rule_names(
    warehouse_conn: psycopg.Connection, probes: str, rule_id: str, reading
):
    _, expectations = load_suite(POPULATION.suites_dir / "rows.json", "full", batch_no=1)
    (rule,) = [e for e in expectations if e.meta["rule_id"] == rule_id]
    query = rule.unexpected_rows_query.format(batch=probes)

    selected = {row_no for (row_no,) in warehouse_conn.execute(query)}

    expected = {
        row_no
        for row_no, personal_id, date_of_birth, sex in warehouse_conn.execute(
            "SELECT row_no, personal_id, date_of_birth, sex FROM probes"
        )
        if reading(personal_id, date_of_birth, sex)
    }
    assert len(expected) >= 20, "the probes must make the rule fail often"
    assert selected == expected
