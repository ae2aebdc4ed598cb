"""The population sync against a server of the contract written by another team
(`tests.support.contract_server`): keyset cursors, a capped page size, records that change
while a walk runs, timestamps and cursors written as the contract allows."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from lienthong.ministry.hook import MinistryContractError
from lienthong.pipeline.batches import BatchHeld
from lienthong_demo.citizens import generate_citizens
from tests.support.contract_server import ContractServer

from .population_fixtures import population_sync as sync
from .population_fixtures import run_batch

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
#: A token as an identity provider may issue one: base64 characters and a colon.
TOKEN = "eyJhbGciOi+Jz/dW==:x%y"


def _clean(count: int = 40) -> list[dict]:
    return [c.item for c in generate_citizens(count, seed=21, defect_rate=0.0, now=NOW)]


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fresh(count: int = 40) -> list[dict]:
    """Clean items, the newest stamped an hour before NOW (rule P-L1 is met)."""
    items = _clean(count)
    items[-1]["updated_at"] = _stamp(NOW - timedelta(hours=1))
    return items


def _serve(monkeypatch, items: list[dict], **options) -> ContractServer:
    server = ContractServer(items, token=TOKEN, **options)
    monkeypatch.setenv("AIRFLOW_CONN_MINISTRY_POPULATION", server.connection_uri())
    return server


def _one(url: str, query: str, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchone()


def test_a_uri_connection_capped_pages_and_an_opaque_cursor(warehouse_url, monkeypatch):
    items = _clean()
    with _serve(monkeypatch, items, max_page=7) as server:
        _batch_no, counts = run_batch("population:other-1", now=NOW)
    assert counts["published"] == 40, counts
    assert server.pages == 6
    assert {h["Authorization"] for h in server.headers} == {f"Bearer {TOKEN}"}
    newest = max(datetime.fromisoformat(i["updated_at"]) for i in items)
    assert _one(warehouse_url, "SELECT watermark FROM audit.watermarks")[0] == newest


def test_an_incremental_run_with_nothing_new(warehouse_url, monkeypatch):
    items = _clean()
    with _serve(monkeypatch, items):
        run_batch("population:first", now=NOW)
    mark = _one(warehouse_url, "SELECT watermark FROM audit.watermarks")[0]
    with _serve(monkeypatch, []) as server:
        _batch_no, counts = run_batch("population:empty", full=False, now=NOW + timedelta(hours=1))
    assert counts["received"] == 0, counts
    assert server.queries[0]["updated_since"]
    assert _one(warehouse_url, "SELECT watermark FROM audit.watermarks")[0] == mark


def test_timestamps_in_other_rfc3339_forms(warehouse_url, monkeypatch):
    items = _clean(6)
    base = NOW - timedelta(hours=2)
    items[0]["updated_at"] = base.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")
    items[1]["updated_at"] = (base + timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%S+07:00")
    items[2]["updated_at"] = base.strftime("%Y-%m-%dt%H:%M:%Sz")
    items[3]["updated_at"] = base.strftime("%Y-%m-%dT%H:%M:%S-00:00")
    items[4]["updated_at"] = base.strftime("%Y-%m-%dT%H:%M:%S.1234567890Z")
    items[5]["updated_at"] = base.strftime("%Y-%m-%dT%H:%M:%S.5+00:00")
    with _serve(monkeypatch, items):
        _batch_no, counts = run_batch("population:stamps", now=NOW)
    assert counts["published"] == 6, counts


def test_faults_the_contract_lists(warehouse_url, monkeypatch):
    items = _clean()
    with _serve(monkeypatch, items, max_page=15) as server:
        server.faults = [
            (429, {"Retry-After": "1"}, {"error": "slow down"}),
            (200, {}, b'{"items": [{"personal_id": "0012'),
            "drop",
        ]
        server.on_page = lambda n: server.faults.append((503, {}, b"busy")) if n == 1 else None
        _batch_no, counts = run_batch("population:faults", now=NOW)
    assert counts["published"] == 40, counts
    assert server.pages == 3


def test_unknown_fields_and_nfd_names(warehouse_url, monkeypatch):
    items = _fresh(10)
    items[0]["biometrics"] = {"face": True, "nested": {"a": [1, 2]}}
    items[1]["full_name"] = unicodedata.normalize("NFD", "Nguyễn Thị Ánh Hồng")
    items[2]["permanent_address"]["detail"] = unicodedata.normalize("NFD", "Số 5 ngõ Huế")
    items[3]["permanent_address"]["geo"] = [21.0, 105.8]
    with _serve(monkeypatch, items):
        _batch_no, counts = run_batch("population:unknown", now=NOW)
    assert counts["published"] == 10, counts
    new_fields = _one(warehouse_url, "SELECT new_fields FROM audit.batches")[0]
    assert new_fields == ["biometrics", "permanent_address.geo"]
    geo = _one(
        warehouse_url,
        "SELECT extra FROM core.population WHERE personal_id = %s",
        items[3]["personal_id"],
    )[0]
    assert geo == {"permanent_address.geo": [21.0, 105.8]}
    extra = _one(
        warehouse_url,
        "SELECT extra FROM core.population WHERE personal_id = %s",
        items[0]["personal_id"],
    )[0]
    assert extra == {"biometrics": {"face": True, "nested": {"a": [1, 2]}}}
    name = _one(
        warehouse_url,
        "SELECT full_name FROM core.population WHERE personal_id = %s",
        items[1]["personal_id"],
    )[0]
    assert name == "Nguyễn Thị Ánh Hồng"


def test_a_wrong_token_is_named(warehouse_url, monkeypatch):
    with _serve(monkeypatch, _clean(3)) as server:
        server.token = "other"
        with pytest.raises(Exception) as caught:
            sync.extract("population:401", full=True, now=NOW)
    assert "401" in str(caught.value) and "ministry_population" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_item_without_updated_at_is_quarantined_not_published_on_approval(
    warehouse_url, monkeypatch
):
    from lienthong.review import decisions

    items = _fresh()
    del items[3]["updated_at"]
    with _serve(monkeypatch, items):
        batch_no = sync.extract("population:no-stamp", full=True, now=NOW)
        with pytest.raises(BatchHeld, match="P-S3"):
            sync.validate(batch_no)
    with psycopg.connect(warehouse_url) as conn:
        decisions.approve_batch(conn, batch_no, user="chi", reason="one stamp missing")
    counts = _one(
        warehouse_url, "SELECT status, received, published, quarantined FROM audit.batches"
    )
    assert counts == ("published", 40, 39, 1)
    quarantined = _one(warehouse_url, "SELECT record_key, rule_ids FROM quarantine.records")
    assert quarantined == (items[3]["personal_id"], ["P-K5"])


def test_an_address_field_that_disappears_holds_the_batch(warehouse_url, monkeypatch):
    # "A documented field that disappears is a contract break": the addresses' fields too.
    items = _fresh()
    for item in items:
        del item["permanent_address"]["detail"]
    with _serve(monkeypatch, items):
        batch_no = sync.extract("population:no-detail", full=True, now=NOW)
        with pytest.raises(BatchHeld, match=r"P-S3.*permanent_address\.detail"):
            sync.validate(batch_no)


def test_a_record_registered_while_the_walk_runs(warehouse_url, monkeypatch):
    # The contract fixes total for one walk, not the items: a keyset server sends a record
    # written meanwhile after those it counted. It is read, and counted in what was announced.
    items = _fresh()
    newcomer = dict(items[0], personal_id=items[0]["personal_id"][:6] + "999999")
    newcomer["updated_at"] = _stamp(NOW + timedelta(seconds=2))
    with _serve(monkeypatch, items, max_page=10) as server:
        server.on_page = lambda n: server.records.append(newcomer) if n == 1 else None
        batch_no, counts = run_batch("population:live", now=NOW)
    assert (counts["received"], counts["published"], counts["quarantined"]) == (41, 41, 0)
    facts, total = _one(
        warehouse_url,
        "SELECT source_facts, announced_total FROM audit.batches WHERE batch_no = %s",
        batch_no,
    )
    assert (facts["written_while_walking"], total) == (1, 41)
    assert _one(
        warehouse_url,
        "SELECT full_name FROM core.population WHERE personal_id = %s",
        newcomer["personal_id"],
    ) == (newcomer["full_name"],)
    # Stamped after the window's end: the watermark stops there, and reads it again next time.
    assert _one(warehouse_url, "SELECT watermark FROM audit.watermarks")[0] == NOW


def test_a_record_read_then_changed_while_the_walk_runs(warehouse_url, monkeypatch):
    items = _fresh()
    first = min(items, key=lambda i: (i["updated_at"], i["personal_id"]))
    changed = dict(first, full_name="Trần Văn Đổi", updated_at=_stamp(NOW + timedelta(seconds=1)))

    def change(page: int) -> None:
        if page == 2:
            server.records[server.records.index(first)] = changed

    with _serve(monkeypatch, items, max_page=10) as server:
        server.on_page = change
        _batch_no, counts = run_batch("population:changed", now=NOW)
    # Both versions came; the older yields to the newer (P-K3's kin), which is published.
    assert (counts["received"], counts["collapsed"], counts["published"]) == (41, 1, 40), counts
    assert _one(
        warehouse_url,
        "SELECT full_name FROM core.population WHERE personal_id = %s",
        first["personal_id"],
    ) == ("Trần Văn Đổi",)


def test_an_older_record_past_the_total_breaks_the_contract(warehouse_url, monkeypatch):
    # A record stamped a day before the walk cannot have been written while it ran: a server
    # that sends more than it counted without that reason is walked no further.
    items = _fresh()
    late = dict(items[0], personal_id=items[0]["personal_id"][:6] + "888888")
    late["updated_at"] = _stamp(NOW - timedelta(days=1))
    with _serve(monkeypatch, items, max_page=10) as server:
        server.on_page = lambda n: server.records.append(late) if n == 1 else None
        with pytest.raises(
            MinistryContractError,
            match=r"41 items received, more than the total of 40.*updated_at '2026-11-20T07:00:00Z'",
        ):
            sync.extract("population:late", full=True, now=NOW)
