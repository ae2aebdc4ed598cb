"""A batch's outcome in words: rows per outcome, pass rate per dimension, rules that caught rows."""

from __future__ import annotations

import psycopg


def batch_report(conn: psycopg.Connection, batch_no: int) -> str:
    """A short plain-text report of one batch, from the audit schema."""
    row = conn.execute(
        """SELECT mode, status, received, fixed, published, quarantined, collapsed, applied,
                  announced_total, hold_reason FROM audit.batches WHERE batch_no = %s""",
        (batch_no,),
    ).fetchone()
    mode, status, received, fixed, published, quarantined, collapsed, applied, announced, hold = row
    lines = [f"batch {batch_no} ({mode}): {status}"]
    said = f" (source announced {announced})" if announced is not None else ""
    if status == "published":
        lines.append(
            f"  received {received}{said}: published {published}, "
            f"quarantined {quarantined}, duplicates collapsed {collapsed}; fixed {fixed}; "
            f"{applied} changed core"
        )
    else:
        lines.append(f"  received {received}{said}; nothing published")
    scores = conn.execute(
        """SELECT dimension, pass_rate, threshold, rows_failed FROM audit.dimension_scores
           WHERE batch_no = %s ORDER BY array_position(ARRAY['correct','sufficient','clean','live'], dimension)""",
        (batch_no,),
    ).fetchall()
    if scores:
        lines.append("  pass rate per dimension:")
        lines += [
            f"    {dim:<10} {rate:7.2%}  (threshold {threshold:.0%}, {failed} rows failing)"
            for dim, rate, threshold, failed in scores
        ]
    rules = conn.execute(
        """SELECT rule_id, action, count(*) FROM audit.findings WHERE batch_no = %s
           GROUP BY rule_id, action ORDER BY rule_id""",
        (batch_no,),
    ).fetchall()
    fixes = conn.execute(
        "SELECT rule_id, count(DISTINCT row_no) FROM audit.fixes WHERE batch_no = %s GROUP BY rule_id ORDER BY 1",
        (batch_no,),
    ).fetchall()
    if rules:
        lines.append("  rows caught by rule: " + ", ".join(f"{r} {n} ({a})" for r, a, n in rules))
    if fixes:
        lines.append("  rows fixed by rule:  " + ", ".join(f"{r} {n}" for r, n in fixes))
    if hold:
        lines.append("  on hold: " + hold.replace("\n", "\n           "))
    return "\n".join(lines)
