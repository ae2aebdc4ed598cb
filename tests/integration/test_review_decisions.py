"""Operators' decisions on real parts: a population batch from the demo server over loopback,
validated by GX on a real PostgreSQL, then released, rejected, approved, by the library."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.pipeline import data_docs
from lienthong.pipeline.batches import BatchHeld
from lienthong.review import decisions
from lienthong.review.decisions import AlreadyDecided, DecisionError, NothingToDecide
from lienthong.warehouse.connection import connect
from lienthong_demo.citizens import generate_citizens
from tests.integration.population_fixtures import population_sync as sync

from .population_fixtures import ministry, run_batch, snapshot

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


#: The rows broken on purpose, by name: the rule each must be quarantined under.
BROKEN = {"sex": ["P-C7"], "short_id": ["P-C1"], "future": ["P-L2"], "no_name": ["P-S1"]}


@pytest.fixture
def broken() -> dict[str, dict]:
    """Four citizens broken on purpose, each under one known rule."""
    made = [c.item for c in generate_citizens(4, seed=9, defect_rate=0.0, now=NOW)]
    by_name = dict(zip(BROKEN, made, strict=True))
    by_name["sex"]["sex"] = "X"  # P-C7; correctable by hand
    by_name["short_id"]["personal_id"] = "12345"  # P-C1; still wrong if released as it is
    by_name["future"]["updated_at"] = _stamp(NOW + timedelta(days=2))  # P-L2
    by_name["no_name"]["full_name"] = None  # P-S1
    return by_name


@pytest.fixture
def items(broken) -> list[dict]:
    """300 clean citizens and the broken four."""
    clean = [c.item for c in generate_citizens(300, seed=5, defect_rate=0.0, now=NOW)]
    return clean + list(broken.values())


def _row(conn: psycopg.Connection, batch_no: int, item: dict) -> int:
    """The row number an item got in a batch (rows are numbered in the API's order)."""
    return conn.execute(
        "SELECT row_no FROM quarantine.records WHERE batch_no = %s AND payload = %s::jsonb",
        (batch_no, json.dumps(item)),
    ).fetchone()[0]


@pytest.fixture
def published_batch(warehouse_url, monkeypatch, items, tmp_path) -> int:
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    with ministry(monkeypatch, items):
        batch_no, _ = run_batch("population:review", now=NOW)
    return batch_no


def _quarantine(conn: psycopg.Connection, batch_no: int) -> dict[int, tuple]:
    return {
        row_no: (rules, status, by, reason)
        for row_no, rules, status, by, reason in conn.execute(
            """SELECT row_no, rule_ids, status, decided_by, decision_reason
               FROM quarantine.records WHERE batch_no = %s""",
            (batch_no,),
        )
    }


def test_quarantine_of_the_prepared_batch(warehouse_url, published_batch, broken):
    with connect(warehouse_url) as conn:
        quarantined = _quarantine(conn, published_batch)
        rows = {name: _row(conn, published_batch, item) for name, item in broken.items()}
    assert {name: quarantined[n][0] for name, n in rows.items()} == BROKEN
    assert len(quarantined) == 4 and all(r[1] == "held" for r in quarantined.values())
    # Data Docs were built for the validation.
    page = data_docs.index("population", published_batch)
    assert page is not None and "population.rows" in page.read_text()


def test_a_corrected_row_that_passes_is_published_with_the_correction_as_a_fix(
    warehouse_url, published_batch, broken
):
    item = broken["sex"]
    sex = "M" if int(item["personal_id"][3]) % 2 == 0 else "F"
    with connect(warehouse_url) as conn:
        row = _row(conn, published_batch, item)
        outcome = decisions.release_rows(
            conn,
            published_batch,
            row_nos=[row],
            corrections={row: {"sex": sex}},
            user="an.nguyen",
            reason="the ministry confirmed the sex by phone",
            warehouse_url=warehouse_url,
            now=NOW + timedelta(hours=1),
        )
        assert outcome.published == [row] and outcome.quarantined == {}
        release = outcome.release_batch_no
        core = conn.execute(
            "SELECT sex, batch_no FROM core.population WHERE personal_id = %s",
            (item["personal_id"],),
        ).fetchone()
        assert core == (sex, release)
        assert conn.execute(
            "SELECT rule_id, field, original, fixed FROM audit.fixes WHERE batch_no = %s",
            (release,),
        ).fetchall() == [("OPERATOR", "sex", "X", sex)]
        decision = conn.execute(
            """SELECT decided_by, action, row_nos, corrections, reason, release_batch_no,
                      decided_at FROM audit.decisions"""
        ).fetchone()
        assert decision[:6] == (
            "an.nguyen",
            "release_rows",
            [row],
            {str(row): {"sex": sex}},
            "the ministry confirmed the sex by phone",
            release,
        )
        assert decision[6] is not None
        original = _quarantine(conn, published_batch)[row]
        assert original[1:] == ("released", "an.nguyen", "the ministry confirmed the sex by phone")
        counts = conn.execute(
            "SELECT mode, status, received, published, quarantined FROM audit.batches"
            " WHERE batch_no = %s",
            (release,),
        ).fetchone()
        assert counts == ("release", "published", 1, 1, 0)


def test_a_released_row_that_still_fails_returns_to_quarantine_under_that_rule(
    warehouse_url, published_batch, broken
):
    with connect(warehouse_url) as conn:
        row = _row(conn, published_batch, broken["short_id"])
        core_before = conn.execute("SELECT count(*) FROM core.population").fetchone()[0]
        outcome = decisions.release_rows(
            conn,
            published_batch,
            rule_id="P-C1",
            user="an.nguyen",
            reason="try again",
            warehouse_url=warehouse_url,
            now=NOW + timedelta(hours=1),
        )
        assert outcome.published == [] and outcome.quarantined == {row: ["P-C1"]}
        again = _quarantine(conn, outcome.release_batch_no)
        assert {n: r[:2] for n, r in again.items()} == {0: (["P-C1"], "held")}
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == core_before
        # The row it came from is released, and cannot be decided again.
        assert _quarantine(conn, published_batch)[row][1] == "released"
        with pytest.raises(AlreadyDecided, match=f"row {row} released by an.nguyen"):
            decisions.reject_rows(conn, published_batch, row_nos=[row], user="binh", reason="no")
        # The row in quarantine again is decided where it now is.
        decisions.reject_rows(
            conn, outcome.release_batch_no, row_nos=[0], user="binh", reason="give up"
        )


def test_a_release_does_not_move_the_watermark(warehouse_url, published_batch, broken):
    with connect(warehouse_url) as conn:
        before = conn.execute("SELECT watermark, batch_no FROM audit.watermarks").fetchone()
        # Three days later the future-stamped row's time has come: it passes, and is published.
        row = _row(conn, published_batch, broken["future"])
        outcome = decisions.release_rows(
            conn,
            published_batch,
            row_nos=[row],
            user="an.nguyen",
            reason="its time has come",
            warehouse_url=warehouse_url,
            now=NOW + timedelta(days=3),
        )
        assert outcome.published == [row]
        assert conn.execute("SELECT watermark, batch_no FROM audit.watermarks").fetchone() == before
        assert before[0] < datetime.fromisoformat(broken["future"]["updated_at"])


def test_rejected_rows_are_kept_and_never_published(warehouse_url, published_batch, broken):
    with connect(warehouse_url) as conn:
        no_name = _row(conn, published_batch, broken["no_name"])
        future = _row(conn, published_batch, broken["future"])
        decision = decisions.reject_rows(
            conn, published_batch, row_nos=[no_name, future], user="binh", reason="not real"
        )
        assert decision.row_nos == sorted([no_name, future])
        assert decision.action == "reject_rows"
        quarantined = _quarantine(conn, published_batch)
        assert quarantined[no_name][1:] == ("rejected", "binh", "not real")
        assert quarantined[future][1] == "rejected"
        with pytest.raises(AlreadyDecided):
            decisions.release_rows(
                conn, published_batch, row_nos=[no_name], user="an", reason="changed my mind"
            )
        with pytest.raises(NothingToDecide):
            decisions.reject_rows(conn, published_batch, rule_id="P-S1", user="an", reason="x")
        assert (
            conn.execute(
                "SELECT count(*) FROM core.population WHERE personal_id = %s",
                (broken["no_name"]["personal_id"],),
            ).fetchone()[0]
            == 0
        )


def test_a_decision_needs_a_user_a_reason_and_rows_in_quarantine(
    warehouse_url, published_batch, broken
):
    before = snapshot(warehouse_url)
    with connect(warehouse_url) as conn:
        row = _row(conn, published_batch, broken["sex"])
        other = _row(conn, published_batch, broken["short_id"])
        with pytest.raises(DecisionError, match="reason"):
            decisions.reject_rows(conn, published_batch, row_nos=[row], user="an", reason=" ")
        with pytest.raises(DecisionError, match="user"):
            decisions.reject_rows(conn, published_batch, row_nos=[row], user="", reason="x")
        with pytest.raises(NothingToDecide, match=r"\[100000\]"):
            decisions.reject_rows(
                conn, published_batch, row_nos=[row, 100000], user="an", reason="x"
            )
        with pytest.raises(DecisionError, match="not being released"):
            decisions.release_rows(
                conn,
                published_batch,
                row_nos=[row],
                corrections={other: {"sex": "M"}},
                user="an",
                reason="x",
            )
        with pytest.raises(DecisionError, match=r"object\.name"):
            decisions.release_rows(
                conn,
                published_batch,
                row_nos=[row],
                corrections={row: {"a.b.c": "M"}},
                user="an",
                reason="x",
            )
        assert conn.execute("SELECT count(*) FROM audit.decisions").fetchone()[0] == 0
    assert snapshot(warehouse_url) == before


def test_text_the_warehouse_cannot_keep_and_rows_beyond_its_range_are_refused(
    warehouse_url, published_batch, broken
):
    # A NUL character or a lone surrogate (JSON's \u0000, \ud800) cannot be kept as text, and a
    # row number beyond an integer's range is in no quarantine: each is a DecisionError naming
    # what was wrong, not a database error halfway through a decision; nothing changes.
    before = snapshot(warehouse_url)
    with connect(warehouse_url) as conn:
        row = _row(conn, published_batch, broken["sex"])
        with pytest.raises(DecisionError, match="the reason contains a NUL"):
            decisions.reject_rows(conn, published_batch, row_nos=[row], user="an", reason="a\x00")
        with pytest.raises(DecisionError, match="the reason contains a lone surrogate"):
            decisions.reject_rows(conn, published_batch, row_nos=[row], user="an", reason="\ud800")
        with pytest.raises(DecisionError, match="the user contains a NUL"):
            decisions.reject_rows(conn, published_batch, row_nos=[row], user="a\x00", reason="x")
        with pytest.raises(DecisionError, match="the rule contains a NUL"):
            decisions.reject_rows(conn, published_batch, rule_id="P-C7\x00", user="an", reason="x")
        with pytest.raises(NothingToDecide, match=r"\[4294967296\]"):
            decisions.reject_rows(conn, published_batch, row_nos=[2**32], user="an", reason="x")
        for fields, wrong in (
            ({"sex": "M\x00"}, "the corrected value of 'sex' contains a NUL"),
            ({"sex": "\udc80"}, "the corrected value of 'sex' contains a lone surrogate"),
            ({"se\x00x": "M"}, "the corrected field .* contains a NUL"),
        ):
            with pytest.raises(DecisionError, match=wrong):
                decisions.release_rows(
                    conn,
                    published_batch,
                    row_nos=[row],
                    corrections={row: fields},
                    user="an",
                    reason="x",
                    warehouse_url=warehouse_url,
                    now=NOW,
                )
        assert decisions.pending_releases(conn) == []
    assert snapshot(warehouse_url) == before


def test_decisions_are_append_only(warehouse_url, published_batch):
    with connect(warehouse_url) as conn:
        decisions.reject_rows(conn, published_batch, rule_id="P-C1", user="binh", reason="x")
        for statement in (
            "UPDATE audit.decisions SET reason = 'edited'",
            "DELETE FROM audit.decisions",
            "TRUNCATE audit.decisions CASCADE",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT reason FROM audit.decisions").fetchone()[0] == "x"


@pytest.fixture
def held_batch(warehouse_url, monkeypatch, items, tmp_path) -> int:
    """A batch held by P-S2: the source announced three more than it sent."""
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    with ministry(monkeypatch, items, total_offset=3):
        batch_no = sync.extract("population:held", full=True, now=NOW)
        with pytest.raises(BatchHeld):
            sync.validate(batch_no)
    return batch_no


def test_approving_a_held_batch_publishes_it_as_it_stands(warehouse_url, held_batch):
    with connect(warehouse_url) as conn:
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 0
        decision = decisions.approve_batch(
            conn, held_batch, user="chi", reason="the source's count is known to be off by 3"
        )
        assert decision.action == "approve_batch"
        status, published, quarantined, hold_reason = conn.execute(
            "SELECT status, published, quarantined, hold_reason FROM audit.batches"
        ).fetchone()
        assert (status, published, quarantined) == ("published", 300, 4)
        assert "P-S2" in hold_reason  # why it was held stays on record
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 300
        assert sorted(r[0] for r in _quarantine(conn, held_batch).values()) == sorted(
            BROKEN.values()
        )
        assert conn.execute("SELECT batch_no FROM audit.watermarks").fetchone()[0] == held_batch
        with pytest.raises(AlreadyDecided, match="approve_batch by chi"):
            decisions.reject_batch(conn, held_batch, user="dung", reason="too late")


def test_rejecting_a_held_batch_publishes_nothing(warehouse_url, held_batch):
    with connect(warehouse_url) as conn:
        decisions.reject_batch(conn, held_batch, user="dung", reason="the source resends")
        assert conn.execute("SELECT status FROM audit.batches").fetchone()[0] == "rejected"
        assert conn.execute("SELECT count(*) FROM core.population").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM quarantine.records").fetchone()[0] == 0
        with pytest.raises(AlreadyDecided):
            decisions.approve_batch(conn, held_batch, user="chi", reason="no")
        # A rerun of the run's tasks leaves it rejected.
        assert sync.extract("population:held", full=True, now=NOW) == held_batch
        assert conn.execute("SELECT status FROM audit.batches").fetchone()[0] == "rejected"


def test_a_release_stopped_midway_is_finished_later(
    warehouse_url, published_batch, broken, monkeypatch
):
    item = broken["sex"]

    def stopped(*args, **kwargs):
        raise RuntimeError("the worker was killed")

    with connect(warehouse_url) as conn:
        row = _row(conn, published_batch, item)
        with monkeypatch.context() as patch:
            patch.setattr(decisions.validation, "validate", stopped)
            with pytest.raises(RuntimeError, match="killed"):
                decisions.release_rows(
                    conn,
                    published_batch,
                    row_nos=[row],
                    corrections={
                        row: {"sex": "M" if int(item["personal_id"][3]) % 2 == 0 else "F"}
                    },
                    user="an",
                    reason="confirmed",
                    warehouse_url=warehouse_url,
                    now=NOW + timedelta(hours=1),
                )
        # The decision stands; its batch waits to be finished.
        (release,) = decisions.pending_releases(conn)
        assert _quarantine(conn, published_batch)[row][1] == "released"
        assert decisions.release_outcome(conn, release).status == "staged"
        outcome = decisions.complete_release(conn, release, warehouse_url=warehouse_url)
        assert (outcome.status, outcome.published) == ("published", [row])
        assert decisions.pending_releases(conn) == []
        # Finishing it again changes nothing.
        assert decisions.complete_release(conn, release, warehouse_url=warehouse_url) == outcome
