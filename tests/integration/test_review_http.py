"""The Data quality view over HTTP, served by a real Airflow api-server on loopback: who may
see, who may decide, and what the audit keeps. The warehouse is real, the batches come from
the demo Ministry server through the population steps."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest

from ..airflow_stack import AirflowStack
from ..review_fixtures import (
    BROKEN,
    citizens,
    right_sex,
    row_of,
    run_batch,
    warehouse_state,
)
from .population_fixtures import ministry

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


@pytest.fixture(scope="module")
def batches(module_warehouse: str, tmp_path_factory) -> dict:
    """A published batch with four quarantined rows, and a batch held by rule P-S2."""
    items, broken = citizens()
    home = tmp_path_factory.mktemp("lienthong-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIENTHONG_HOME", str(home))
        with ministry(mp, items):
            published = run_batch("population:http-published")
        with ministry(mp, items, total_offset=3):
            held = run_batch("population:http-held", held=True)
    return {"published": published, "held": held, "broken": broken, "home": home}


@pytest.fixture(scope="module")
def airflow(module_warehouse: str, batches: dict, tmp_path_factory) -> Iterator[AirflowStack]:
    stack = AirflowStack(
        tmp_path_factory.mktemp("airflow"),
        warehouse_url=module_warehouse,
        lienthong_home=batches["home"],
    )
    with stack.running():
        yield stack


@pytest.fixture(scope="module")
def as_operator(airflow: AirflowStack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{airflow.base_url}/lienthong",
        headers={"Authorization": f"Bearer {airflow.token('operator')}"},
        timeout=120,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def as_viewer(airflow: AirflowStack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{airflow.base_url}/lienthong",
        headers={"Authorization": f"Bearer {airflow.token('viewer')}"},
        timeout=120,
    ) as client:
        yield client


@pytest.fixture(scope="module")
def anonymous(airflow: AirflowStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{airflow.base_url}/lienthong", timeout=60) as client:
        yield client


def _decisions(batch: dict, row: int) -> list[tuple[str, dict]]:
    """Every decision an endpoint can take, on the test's batches."""
    return [
        (f"/api/batches/{batch['published']}/rows/release", {"row_nos": [row], "reason": "r"}),
        (f"/api/batches/{batch['published']}/rows/reject", {"row_nos": [row], "reason": "r"}),
        (f"/api/batches/{batch['published']}/rows/release", {"rule_id": "P-C1", "reason": "r"}),
        (f"/api/batches/{batch['held']}/approve", {"reason": "r"}),
        (f"/api/batches/{batch['held']}/reject", {"reason": "r"}),
    ]


def test_without_a_session_everything_is_401_and_nothing_changes(
    anonymous, batches, module_warehouse
):
    before = warehouse_state(module_warehouse)
    row = row_of(module_warehouse, batches["published"], batches["broken"]["short_id"])
    for path in (
        "/",
        f"/batches/{batches['published']}",
        "/trend",
        "/api/batches",
        f"/data-docs/population/{batches['published']}/index.html",
    ):
        response = anonymous.get(path)
        assert response.status_code == 401, path
    # A browser without a session is sent to Airflow's own sign-in.
    page = anonymous.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 401 and "/auth/login?next=" in page.text
    for path, body in _decisions(batches, row):
        assert anonymous.post(path, json=body).status_code == 401, path
    # A token that is not Airflow's is no better.
    forged = {"Authorization": "Bearer not-a-token"}
    for path, body in _decisions(batches, row):
        assert anonymous.post(path, json=body, headers=forged).status_code in (401, 403), path
    assert warehouse_state(module_warehouse) == before


def test_a_user_who_may_not_act_gets_403_and_nothing_changes(as_viewer, batches, module_warehouse):
    before = warehouse_state(module_warehouse)
    row = row_of(module_warehouse, batches["published"], batches["broken"]["short_id"])
    for path, body in _decisions(batches, row):
        response = as_viewer.post(path, json=body)
        assert response.status_code == 403, path
        assert "Required Actions of the population DAG" in response.json()["detail"]
    assert warehouse_state(module_warehouse) == before


def test_a_viewer_sees_the_batches_with_personal_ids_and_names_masked(as_viewer, batches):
    listing = as_viewer.get("/api/batches").json()
    assert {b["batch_no"] for b in listing["batches"]} >= {batches["published"], batches["held"]}
    page = as_viewer.get(f"/batches/{batches['published']}")
    assert page.status_code == 200
    sex_row = batches["broken"]["sex"]
    assert sex_row["personal_id"] not in page.text
    assert sex_row["personal_id"][:3] + "•" in page.text
    assert sex_row["full_name"] not in page.text
    assert "release-selected" not in page.text  # no decision buttons


def test_the_operator_sees_everything_and_the_data_docs(as_operator, batches):
    page = as_operator.get(f"/batches/{batches['published']}")
    assert page.status_code == 200
    broken = batches["broken"]
    assert broken["sex"]["personal_id"] in page.text and broken["sex"]["full_name"] in page.text
    for rule in BROKEN.values():
        assert f'data-rule="{rule}"' in page.text
    assert 'id="release-selected"' in page.text
    docs = as_operator.get(f"/data-docs/population/{batches['published']}/index.html")
    assert docs.status_code == 200 and "text/html" in docs.headers["content-type"]
    assert "population.rows" in docs.text
    styles = as_operator.get(
        f"/data-docs/population/{batches['published']}/static/styles/data_docs_default_styles.css"
    )
    assert styles.status_code == 200
    assert (
        as_operator.get(f"/data-docs/population/{batches['published']}/../../x").status_code == 404
    )
    held = as_operator.get(f"/batches/{batches['held']}")
    assert 'data-decide="approve"' in held.text and "P-S2" in held.text
    trend = as_operator.get("/trend?dataset=population&province=01")
    assert trend.status_code == 200


def test_malformed_requests_are_4xx_naming_what_is_wrong_never_500(
    as_operator, batches, module_warehouse
):
    published = batches["published"]
    before = warehouse_state(module_warehouse)
    row = row_of(module_warehouse, published, batches["broken"]["no_name"])
    # Pages beyond any list (their offset overflowed the warehouse's bigint).
    for path in ("/api/batches", "/", f"/batches/{published}"):
        response = as_operator.get(path, params={"page": str(10**20)})
        assert response.status_code == 422, path
        assert response.json()["detail"][0]["loc"] == ["query", "page"]
    fixes = as_operator.get(f"/batches/{published}", params={"fixes_page": str(10**20)})
    assert fixes.status_code == 422
    # The last day there is, as "until" (its next day overflowed).
    assert as_operator.get("/api/batches", params={"until": "9999-12-31"}).status_code == 200
    assert as_operator.get("/", params={"until": "9999-12-31"}).status_code == 200
    # A NUL character in a query or path parameter, which the warehouse cannot take.
    for path, name in (
        ("/api/batches?province=%00", "province"),
        ("/?status=%00", "status"),
        (f"/batches/{published}?rule=%00", "rule"),
        ("/trend?province=%00", "province"),
        ("/runs/population%00/x", "dag_id"),
        (f"/data-docs/population/{published}/index%00.html", "path"),
    ):
        response = as_operator.get(path)
        assert response.status_code == 400, path
        assert response.json()["detail"].startswith(f"{name}: contains a NUL"), path
    # Bodies: a NUL or a lone surrogate (JSON's own escapes), a row number beyond an integer.
    release = f"/api/batches/{published}/rows/release"
    for path, body, field in (
        (
            f"/api/batches/{published}/rows/reject",
            rb'{"row_nos": [0], "reason": "a\u0000"}',
            "reason",
        ),
        (
            f"/api/batches/{published}/rows/reject",
            rb'{"row_nos": [0], "reason": "\ud800"}',
            "reason",
        ),
        (
            f"/api/batches/{published}/rows/reject",
            rb'{"rule_id": "P\u0000", "reason": "r"}',
            "rule_id",
        ),
        (
            release,
            rb'{"row_nos": [0], "reason": "r", "corrections": {"0": {"sex": "\ud800"}}}',
            "corrections",
        ),
        (f"/api/batches/{batches['held']}/approve", rb'{"reason": "ok\u0000"}', "reason"),
    ):
        response = as_operator.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (path, body, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", field]
    beyond = as_operator.post(
        f"/api/batches/{published}/rows/reject", json={"row_nos": [row, 2**40], "reason": "r"}
    )
    assert beyond.status_code == 400 and str(2**40) in beyond.json()["detail"]
    assert warehouse_state(module_warehouse) == before


def test_approving_a_delivery_its_published_correction_replaced_is_refused_before_airflow(
    as_operator, airflow, batches, module_warehouse
):
    # The held batch stands for a file delivery that a published correction has replaced, and
    # waits as a Required Action: the view refuses to approve it before answering Airflow,
    # whose answer, once given, could no longer be rejected from here.
    held, published = batches["held"], batches["published"]
    with psycopg.connect(module_warehouse, autocommit=True) as conn:
        before = warehouse_state(module_warehouse)
        common = "'dossiers_40', 'dossiers', 'x.csv', 'landing', now(), now()"
        (replaced,) = conn.execute(
            "INSERT INTO audit.landing_files (source, dataset, name, landing, first_seen,"
            f" last_seen, outcome, batch_no) VALUES ({common}, 'held', %s) RETURNING file_no",
            (held,),
        ).fetchone()
        conn.execute(
            "INSERT INTO audit.landing_files (source, dataset, name, landing, first_seen,"
            f" last_seen, outcome, batch_no, corrects) VALUES ({common}, 'published', %s, %s)",
            (published, replaced),
        )
        conn.execute(
            "INSERT INTO audit.batch_reviews (batch_no, dag_id, run_id, task_id)"
            " VALUES (%s, 'population', 'no-such-run', 'review')",
            (held,),
        )
        try:
            answer = as_operator.post(f"/api/batches/{held}/approve", json={"reason": "fine"})
            after = warehouse_state(module_warehouse)
        finally:
            conn.execute("DELETE FROM audit.batch_reviews WHERE batch_no = %s", (held,))
            conn.execute("DELETE FROM audit.landing_files WHERE corrects = %s", (replaced,))
            conn.execute("DELETE FROM audit.landing_files WHERE file_no = %s", (replaced,))
    assert answer.status_code == 400, answer.text
    assert "corrected by delivery" in answer.json()["detail"]
    assert after == before
    # Airflow was not asked to take the answer (its access log would show the run).
    assert "no-such-run" not in (airflow.home / "api-server.log").read_text()


def test_decisions_over_http_are_audited_with_user_time_reason_and_rows(
    as_operator, batches, module_warehouse
):
    broken, published = batches["broken"], batches["published"]
    before = warehouse_state(module_warehouse)
    sex_row = row_of(module_warehouse, published, broken["sex"])
    name_row = row_of(module_warehouse, published, broken["no_name"])

    # No reason: refused, nothing changes.
    blank = as_operator.post(
        f"/api/batches/{published}/rows/reject", json={"row_nos": [name_row], "reason": "  "}
    )
    assert blank.status_code == 422
    assert warehouse_state(module_warehouse) == before

    released = as_operator.post(
        f"/api/batches/{published}/rows/release",
        json={
            "row_nos": [sex_row],
            "corrections": {str(sex_row): {"sex": right_sex(broken["sex"])}},
            "reason": "sex confirmed with the commune",
        },
    )
    assert released.status_code == 200, released.text
    assert released.json()["published"] == [sex_row]
    rejected = as_operator.post(
        f"/api/batches/{published}/rows/reject",
        json={"row_nos": [name_row], "reason": "no such person"},
    )
    assert rejected.status_code == 200
    again = as_operator.post(
        f"/api/batches/{published}/rows/reject",
        json={"row_nos": [name_row], "reason": "twice"},
    )
    assert again.status_code == 409
    approved = as_operator.post(
        f"/api/batches/{batches['held']}/approve", json={"reason": "count known to be off"}
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["required_action_answered"] is False  # held outside a DAG run
    assert (
        as_operator.post(
            f"/api/batches/{batches['held']}/reject", json={"reason": "too late"}
        ).status_code
        == 409
    )

    with psycopg.connect(module_warehouse) as conn:
        audit = conn.execute(
            """SELECT decided_by, decided_at IS NOT NULL, action, batch_no, row_nos, reason, via
               FROM audit.decisions ORDER BY decision_id"""
        ).fetchall()
        assert audit == [
            (
                "operator",
                True,
                "release_rows",
                published,
                [sex_row],
                "sex confirmed with the commune",
                "review",
            ),
            ("operator", True, "reject_rows", published, [name_row], "no such person", "review"),
            (
                "operator",
                True,
                "approve_batch",
                batches["held"],
                [],
                "count known to be off",
                "review",
            ),
        ]
        assert conn.execute(
            "SELECT sex FROM core.population WHERE personal_id = %s",
            (broken["sex"]["personal_id"],),
        ).fetchone() == (right_sex(broken["sex"]),)
        assert conn.execute(
            "SELECT status FROM audit.batches WHERE batch_no = %s", (batches["held"],)
        ).fetchone() == ("published",)
    listed = as_operator.get(f"/api/batches/{published}/decisions").json()
    assert [d["action"] for d in listed] == ["release_rows", "reject_rows"]


def test_a_batch_whose_staged_rows_expired_keeps_its_quarantined_rows(
    as_operator, module_warehouse, batches
):
    from datetime import timedelta

    from lienthong.pipeline import retention

    items, broken = citizens(seed=9)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIENTHONG_HOME", str(batches["home"]))
        with ministry(mp, items):
            expired = run_batch("population:http-expired")
    page = as_operator.get(f"/batches/{expired}")
    assert 'id="staging-expired"' not in page.text
    assert '<code class="value"' in page.text  # the values each rule read, while they are staged
    with psycopg.connect(module_warehouse, autocommit=True) as conn:
        # Every quarantined row decided, the batch long finished: its staged rows may go.
        conn.execute(
            """UPDATE quarantine.records SET status = 'rejected', decided_by = 'test',
                      decided_at = now(), decision_reason = 'test' WHERE batch_no = %s""",
            (expired,),
        )
        conn.execute(
            """UPDATE audit.batches SET updated_at = now() - interval '60 days',
                      window_end = window_end - interval '60 days' WHERE batch_no = %s""",
            (expired,),
        )
        assert retention.expire(conn, "population", older_than=timedelta(days=30)) == [expired]
    page = as_operator.get(f"/batches/{expired}")
    assert page.status_code == 200
    assert 'id="staging-expired"' in page.text
    # The quarantined rows are still there, with their payloads and their rules, and no
    # value is shown as null for want of the staged row.
    assert broken["sex"]["personal_id"] in page.text
    for rule in BROKEN.values():
        assert f'data-rule="{rule}"' in page.text
    assert '<code class="value"' not in page.text
