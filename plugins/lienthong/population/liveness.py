"""Rule P-L4 over what is published: a death registered in a province's civil-status registry
(``core.civil_events``) that the person's population record does not reflect (no
``date_of_death``) is flagged. The flags are re-evaluated whenever either table changes (the
``population_liveness`` DAG runs on both tables' assets), so a flag appears when the death
arrives and clears when the population catches up.
"""

from __future__ import annotations

import logging

import psycopg

log = logging.getLogger(__name__)

RULE_ID = "P-L4"

# Serialises evaluations started at once by both assets.
_LOCK_KEY = 0x706C34

_UNREFLECTED = """
    SELECT DISTINCT ON (p.personal_id) p.personal_id, e.province_code, e.event_id
    FROM core.civil_events e
    JOIN core.population p ON p.personal_id = e.personal_id
    WHERE e.event_type = 'death' AND NOT e.is_deleted AND p.date_of_death IS NULL
    ORDER BY p.personal_id, e.updated_at DESC
"""


def evaluate(conn: psycopg.Connection) -> dict[str, int]:
    """Bring the P-L4 flags up to date in one transaction; return the evaluation's counts."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(f"CREATE TEMP TABLE unreflected ON COMMIT DROP AS {_UNREFLECTED}")
        newly = conn.execute(
            """INSERT INTO audit.liveness_flags (rule_id, personal_id, province_code, event_id)
               SELECT %s, personal_id, province_code, event_id FROM unreflected
               ON CONFLICT (rule_id, personal_id) DO UPDATE
               SET province_code = EXCLUDED.province_code, event_id = EXCLUDED.event_id,
                   first_flagged_at = CASE WHEN audit.liveness_flags.cleared_at IS NULL
                                           THEN audit.liveness_flags.first_flagged_at
                                           ELSE now() END,
                   cleared_at = NULL
               WHERE audit.liveness_flags.cleared_at IS NOT NULL
                  OR audit.liveness_flags.event_id IS DISTINCT FROM EXCLUDED.event_id""",
            (RULE_ID,),
        ).rowcount
        cleared = conn.execute(
            """UPDATE audit.liveness_flags f SET cleared_at = now()
               WHERE f.rule_id = %s AND f.cleared_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM unreflected u WHERE u.personal_id = f.personal_id)""",
            (RULE_ID,),
        ).rowcount
        checked = conn.execute(
            """SELECT count(DISTINCT personal_id) FROM core.civil_events
               WHERE event_type = 'death' AND NOT is_deleted AND personal_id IS NOT NULL"""
        ).fetchone()[0]
        flagged = conn.execute("SELECT count(*) FROM unreflected").fetchone()[0]
        conn.execute(
            """INSERT INTO audit.flag_evaluations (rule_id, records_checked, flagged,
                   newly_flagged, cleared) VALUES (%s, %s, %s, %s, %s)""",
            (RULE_ID, checked, flagged, newly, cleared),
        )
    counts = {"checked": checked, "flagged": flagged, "newly_flagged": newly, "cleared": cleared}
    log.info("%s re-evaluated: %s", RULE_ID, counts)
    return counts


def flagged(conn: psycopg.Connection) -> set[str]:
    """The personal IDs P-L4 flags now."""
    return {
        pid
        for (pid,) in conn.execute(
            "SELECT personal_id FROM audit.liveness_flags WHERE rule_id = %s AND cleared_at IS NULL",
            (RULE_ID,),
        )
    }
