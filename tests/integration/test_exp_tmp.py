import os, time, psycopg, pytest
from datetime import UTC, datetime
from lienthong_demo.citizens import generate_citizens
from tests.integration.population_fixtures import ministry, run_batch
from lienthong.review import decisions
from lienthong.warehouse.connection import connect
from lienthong.pipeline import data_docs

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

def test_exp(warehouse_url, monkeypatch, tmp_path):
    monkeypatch.setenv("LIENTHONG_HOME", str(tmp_path))
    items = [c.item for c in generate_citizens(600, seed=11, defect_rate=0.06, now=NOW)]
    with ministry(monkeypatch, items):
        t=time.monotonic(); batch_no, counts = run_batch("population:x", now=NOW); print("batch", time.monotonic()-t, counts)
    print(sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))[:30])
    with connect(warehouse_url) as conn:
        rows = conn.execute("SELECT row_no, rule_ids FROM quarantine.records WHERE batch_no=%s ORDER BY row_no", (batch_no,)).fetchall()
        print(rows)
        t=time.monotonic()
        out = decisions.release_rows(conn, batch_no, row_nos=[r[0] for r in rows[:5]], user="op", reason="test", warehouse_url=warehouse_url)
        print("release", time.monotonic()-t, out)
        print(conn.execute("SELECT * FROM audit.batches ORDER BY batch_no").fetchall())
