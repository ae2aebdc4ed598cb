"""An operator at work in Airflow's UI, in headless Chromium, against a real Airflow (api-server,
scheduler, dag-processor) on loopback and a real warehouse: sign in through Airflow's own page,
open Data quality from Airflow's navigation, find a held batch, look at quarantined rows,
release some (one corrected) and reject another, approve a held batch through its Required
Action, and reject another held batch from the view. Screenshots go to
``test-artefacts/browser/``."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest

from lienthong_demo.ministry_server import MinistryServer

from ..airflow_stack import SCHEDULING, TRIGGERED_RUNS_ONLY, USERS, AirflowApi, AirflowStack
from ..integration.population_fixtures import TOKEN, ministry, ministry_connection
from ..review_fixtures import artefacts_dir, citizens, right_sex, row_of, run_batch
from ..webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.integration, pytest.mark.airflow, pytest.mark.browser]

VIEW = 'iframe[title="Data quality"]'


@pytest.fixture(scope="module")
def prepared(module_warehouse: str, tmp_path_factory) -> dict:
    """A published batch with rows quarantined under four rules (run in this process)."""
    items, broken = citizens()
    home = tmp_path_factory.mktemp("lienthong-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LIENTHONG_HOME", str(home))
        with ministry(mp, items):
            published = run_batch("population:browser-published")
    return {"items": items, "broken": broken, "published": published, "home": home}


@pytest.fixture(scope="module")
def webhook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def airflow(module_warehouse, prepared, webhook, tmp_path_factory) -> Iterator[AirflowStack]:
    """Airflow running the population DAG against a source that announces 3 more records
    than it sends (rule P-S2): each run's batch is held."""
    with MinistryServer(prepared["items"], token=TOKEN, total_offset=3) as source:
        stack = AirflowStack(
            tmp_path_factory.mktemp("airflow"),
            warehouse_url=module_warehouse,
            lienthong_home=prepared["home"],
            extra_env={
                "AIRFLOW_CONN_MINISTRY_POPULATION": ministry_connection(source.port),
                "AIRFLOW_CONN_LIENTHONG_WEBHOOK": webhook.connection,
                **TRIGGERED_RUNS_ONLY,
            },
        )
        with stack.running(SCHEDULING):
            yield stack


def _batch_of_run(url: str, run_id: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT batch_no FROM audit.batches WHERE batch_key = %s", (f"population:{run_id}",)
        ).fetchone()[0]


def _one(url: str, query: str, *args) -> tuple:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchone()


def test_an_operator_reviews_quarantined_rows_and_held_batches_in_airflow(
    airflow, browser, module_warehouse, prepared, webhook
):
    shots = artefacts_dir("browser")
    api = AirflowApi(airflow)
    broken, published = prepared["broken"], prepared["published"]
    rows = {name: row_of(module_warehouse, published, item) for name, item in broken.items()}
    run_id = api.trigger()

    context = browser.new_context(viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.set_default_timeout(60_000)
    # Nothing but the test's own servers: the GX Data Docs name CDNs, which are cut off here.
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost")
            else route.abort()
        ),
    )

    def shot(name: str) -> None:
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)

    # Sign in through Airflow's own page.
    page.goto(f"{airflow.base_url}/")
    page.wait_for_url("**/auth/login**")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", USERS["operator"][1])
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/auth/login" not in url)

    # The run's batch is held and waits in its Required Action; its holders were told once.
    api.wait_task(run_id, "review", "awaiting_input")
    held = _batch_of_run(module_warehouse, run_id)
    assert [m["batch_no"] for m in webhook.messages] == [held]
    assert (webhook.messages[0]["rule"], webhook.messages[0]["dimension"]) == ("P-S2", "sufficient")

    # Data quality, from Airflow's navigation: the held batch is found by its status.
    page.get_by_role("link", name="Data quality").first.click()
    page.wait_for_url("**/plugin/data-quality**")
    view = page.frame_locator(VIEW)
    view.locator("table.batches").wait_for()
    view.locator('select[name="status"]').select_option("held")
    view.get_by_role("button", name="Filter").click()
    view.locator(f'tr[data-batch="{published}"]').wait_for(state="detached")
    held_row = view.locator(f'tr[data-batch="{held}"]')
    assert "held" in held_row.inner_text().lower()
    shot("01-held-batches")

    # The published batch's quarantined rows, each rule's reason beside the failing value.
    page.goto(f"{airflow.base_url}/plugin/data-quality/lienthong/batches/{published}")
    view.locator("#rows").wait_for()
    sex_row = view.locator(f'tr.qrow[data-row="{rows["sex"]}"]')
    assert "P-C7" in sex_row.inner_text() and "sex = X" in sex_row.inner_text()
    view.locator('select[name="rule"]').select_option("P-C1")
    view.locator("#rows").get_by_role("button", name="Filter").click()
    view.locator(f'tr.qrow[data-row="{rows["sex"]}"]').wait_for(state="detached")
    assert view.locator("tr.qrow").count() == 1
    assert "P-C1" in view.locator(f'tr.qrow[data-row="{rows["short_id"]}"]').inner_text()
    shot("02-quarantined-rows-of-a-rule")
    # The validation's GX Data Docs, served through the view.
    view.locator("a.validation-page", has_text="population.rows").click()
    # (Airflow's UI may reload the frame once as it puts the page's path in its address.)
    view.get_by_text("Expectation Validation Result").first.wait_for()
    view.get_by_text("Expectation Suite: population.rows").first.wait_for()
    shot("02b-data-docs")
    page.goto(f"{airflow.base_url}/plugin/data-quality/lienthong/batches/{published}")
    view.locator("#rows").wait_for()

    # Release two rows: one with its sex corrected (published), one as it is (still P-C1).
    sex = right_sex(broken["sex"])
    view.locator(f'tr.qrow[data-row="{rows["sex"]}"] details.payload summary').click()
    view.locator(f'input.correction[data-row="{rows["sex"]}"][data-field="sex"]').fill(sex)
    view.locator(f'input.row-select[value="{rows["short_id"]}"]').check()
    view.locator("#release-selected").click()
    view.locator("#decision-reason").fill("sex confirmed with the commune; ID re-checked")
    shot("03-release-dialog")
    view.locator("#decision-confirm").click()
    flash = view.locator("#flash")
    flash.wait_for(state="visible")
    assert "1 published, 1 back in quarantine" in flash.inner_text()
    assert "P-C1" in flash.inner_text()
    shot("04-released")
    assert _one(
        module_warehouse,
        "SELECT sex FROM core.population WHERE personal_id = %s",
        broken["sex"]["personal_id"],
    ) == (sex,)
    release_batch, again = _one(
        module_warehouse,
        """SELECT r.release_batch_no, q.rule_ids FROM audit.released_rows r
           JOIN quarantine.records q ON (q.batch_no, q.row_no) = (r.release_batch_no, r.release_row_no)
           WHERE r.batch_no = %s AND r.row_no = %s""",
        published,
        rows["short_id"],
    )
    assert again == ["P-C1"]
    assert _one(
        module_warehouse,
        "SELECT rule_id, original, fixed FROM audit.fixes WHERE batch_no = %s AND field = 'sex'",
        release_batch,
    ) == ("OPERATOR", "X", sex)

    # Reject another: kept, marked rejected, never published.
    view.locator(f'input.row-select[value="{rows["no_name"]}"]').check()
    view.locator("#reject-selected").click()
    view.locator("#decision-reason").fill("no such person at the commune")
    view.locator("#decision-confirm").click()
    view.locator("#flash").filter(has_text="Rejected 1 row").wait_for()
    shot("05-rejected")
    assert _one(
        module_warehouse,
        "SELECT status, decided_by, decision_reason FROM quarantine.records"
        " WHERE batch_no = %s AND row_no = %s",
        published,
        rows["no_name"],
    ) == ("rejected", "operator", "no such person at the commune")

    # Approve the held batch through its Required Action, in Airflow's own page.
    page.goto(f"{airflow.base_url}/dags/population/runs/{run_id}/tasks/review/required_actions")
    page.locator("#element_reason").fill("the source's total is known to be off by three")
    shot("06-required-action")
    page.get_by_test_id("hitl-option-Approve").click()
    assert api.wait_run(run_id) == "success"
    assert api.task_state(run_id, "publish") == "success"
    assert _one(module_warehouse, "SELECT status FROM audit.batches WHERE batch_no = %s", held) == (
        "published",
    )
    assert _one(
        module_warehouse,
        "SELECT decided_by, action, reason, via FROM audit.decisions WHERE batch_no = %s",
        held,
    ) == (
        "operator",
        "approve_batch",
        "the source's total is known to be off by three",
        "required_action",
    )
    page.goto(f"{airflow.base_url}/plugin/data-quality/lienthong/batches/{held}")
    decisions = view.locator("#decisions")
    decisions.wait_for()
    assert "approve batch" in decisions.inner_text()
    assert "in the Required Action" in decisions.inner_text()
    shot("07-approved-batch")

    # Another held batch, rejected from the view: its Required Action shows the same decision.
    second = api.trigger()
    api.wait_task(second, "review", "awaiting_input")
    held_again = _batch_of_run(module_warehouse, second)
    page.goto(f"{airflow.base_url}/plugin/data-quality/lienthong/batches/{held_again}")
    view.locator('button[data-decide="reject"]').click()
    view.locator("#decision-reason").fill("the ministry will resend the whole extract")
    view.locator("#decision-confirm").click()
    view.locator("#flash").filter(has_text="rejected").wait_for()
    assert "Required Action in Airflow is answered too" in view.locator("#flash").inner_text()
    shot("08-rejected-from-the-view")
    answer = api.required_action(second)
    assert answer["response_received"] is True
    assert answer["chosen_options"] == ["Reject"]
    assert answer["responded_by_user"]["name"] == "operator"
    assert answer["params_input"] == {"reason": "the ministry will resend the whole extract"}
    api.wait_run(second)
    assert api.task_state(second, "publish") == "skipped"
    assert _one(
        module_warehouse, "SELECT status FROM audit.batches WHERE batch_no = %s", held_again
    ) == ("rejected",)
    assert _one(
        module_warehouse,
        "SELECT count(*) FROM audit.decisions WHERE batch_no = %s",
        held_again,
    ) == (1,)
    page.goto(f"{airflow.base_url}/dags/population/runs/{second}/tasks/review/required_actions")
    received = page.get_by_text("Response received")
    received.wait_for()
    assert "from operator" in received.inner_text()
    reason = page.locator("#element_reason")
    assert reason.input_value() == "the ministry will resend the whole extract"
    assert reason.is_disabled()
    shot("09-required-action-answered-from-the-view")
    # The trend of pass rates per dimension, as a chart.
    page.goto(f"{airflow.base_url}/plugin/data-quality/lienthong/trend?dataset=population")
    chart = view.locator("svg.trend")
    chart.wait_for()
    assert chart.locator("polyline").count() == 4
    shot("10-trend")
    # One notification per held batch, no more.
    assert [m["batch_no"] for m in webhook.messages] == [held, held_again]
    context.close()
