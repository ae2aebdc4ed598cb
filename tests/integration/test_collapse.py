"""Copies of a key in one batch collapse (rule P-K3 and its kin): identical copies into the
first, older versions into the newest, a copy whose version does not read into one whose does;
ties, items that break the contract, rows without a key and other batches' rows stay as they
are (`lienthong.pipeline.staging.collapse_duplicates`)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from lienthong.pipeline.staging import BATCH_SCAN_SETTINGS, collapse_duplicates
from lienthong.population.dataset import POPULATION

pytestmark = pytest.mark.integration

#: A batch number no test's batch reaches (the test rolls back what it stages).
BATCH = 2_000_000_011

OLD, NEW = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)

#: (row_no, key, version, content hash, item defect) → what collapsing makes of the row.
ROWS = {
    # three identical copies: the first stays
    (0, "A", OLD, "h1", None): None,
    (1, "A", OLD, "h1", None): "identical",
    (2, "A", OLD, "h1", None): "identical",
    # an older version and a newer one
    (3, "B", OLD, "h1", None): "superseded",
    (4, "B", NEW, "h2", None): None,
    # two different rows of the same newest version: a tie, for rule P-K3 to hold
    (5, "C", NEW, "h1", None): None,
    (6, "C", NEW, "h2", None): None,
    # a version that does not read yields to one that does
    (7, "D", None, "h1", None): "superseded",
    (8, "D", OLD, "h2", None): None,
    # alone, whatever its version (the other batch's newer copy is not this batch's)
    (9, "E", None, "h1", None): None,
    # the newer copy breaks the contract (P-K5): it takes no part
    (10, "F", OLD, "h1", None): None,
    (11, "F", NEW, "h2", "wrong type"): None,
    # identical copies of an older version, and a newer one
    (12, "G", OLD, "h1", None): "superseded",
    (13, "G", OLD, "h1", None): "identical",
    (14, "G", NEW, "h2", None): None,
    # no key: nothing to collapse into
    (15, None, OLD, "h1", None): None,
    (16, None, OLD, "h1", None): None,
    # identical copies, neither version readable
    (17, "I", None, "h1", None): None,
    (18, "I", None, "h1", None): "identical",
    # different copies, neither version readable: a tie
    (19, "J", None, "h1", None): None,
    (20, "J", None, "h2", None): None,
}


def test_copies_collapse_by_key_within_their_batch_alone(warehouse_conn):
    conn = warehouse_conn
    conn.execute("CREATE TEMPORARY TABLE staged (LIKE staging.population)")
    dataset = dataclasses.replace(POPULATION, staging_table="pg_temp.staged")
    with conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO pg_temp.staged (batch_no, row_no, personal_id, updated_ts,
                                           content_hash, item_defect, missing_fields)
               VALUES (%s, %s, %s, %s, %s, %s, '{}')""",
            [(BATCH, *row) for row in ROWS]
            + [(BATCH + 1, 0, "E", NEW, "h9", None), (BATCH + 1, 1, "A", NEW, "h9", None)],
        )

    collapse_duplicates(conn, dataset, BATCH, rows=len(ROWS))

    # Planned as every query that reads a whole batch is: on every core, without JIT.
    settings = {
        name: conn.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
        for name in BATCH_SCAN_SETTINGS
    }
    assert settings == BATCH_SCAN_SETTINGS

    collapsed = dict(
        conn.execute(
            "SELECT row_no, collapsed FROM pg_temp.staged WHERE batch_no = %s", (BATCH,)
        ).fetchall()
    )
    assert collapsed == {row[0]: outcome for row, outcome in ROWS.items()}
    other = conn.execute(
        "SELECT count(*) FROM pg_temp.staged WHERE batch_no = %s AND collapsed IS NOT NULL",
        (BATCH + 1,),
    ).fetchone()
    assert other == (0,)
