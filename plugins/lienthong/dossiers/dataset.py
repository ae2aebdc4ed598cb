"""The dossiers dataset for the shared write-audit-publish mechanism: one batch per export
file, published into ``core.dossiers`` (one row per province and dossier)."""

from __future__ import annotations

from typing import Any

from lienthong.dossiers.contract import STAGING_COLUMNS, DossierItem, Preparer
from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS, DossierRow
from lienthong.dossiers.extraction import take_dossier_file
from lienthong.landing.intake import settle_files
from lienthong.pipeline.dataset import Dataset, FirstLoad

_CORE_COLUMNS = (
    "province_code, dossier_id, procedure_code, procedure_name, applicant_personal_id, "
    "applicant_name, commune_code, channel, received_at, due_at, completed_at, status, extra, "
    "flags, file_name, file_day, file_no, line_no, batch_no, published_at"
)

# The batch's valid rows, as core holds them.
_PUBLISHED_ROWS = """
SELECT a.province, s.dossier_id, s.procedure_code, s.procedure_name, s.applicant_personal_id,
       s.applicant_name, s.commune_code, s.channel, s.received_ts, s.due_ts, s.completed_ts,
       s.status, s.extra, coalesce(f.flags, '{}'),
       l.name, s.file_day, l.file_no, s.line_no, s.batch_no, now()
FROM staging.dossiers s
JOIN audit.batches a ON a.batch_no = s.batch_no
-- Joins, not a lookup per row: the batch's flags, and for an operator's release of a
-- quarantined row, the batch it was released from.
LEFT JOIN (SELECT row_no, array_agg(rule_id ORDER BY rule_id) AS flags FROM audit.findings
           WHERE batch_no = %(batch_no)s AND action = 'flag' GROUP BY row_no) f
       ON f.row_no = s.row_no
LEFT JOIN audit.released_rows r ON r.release_batch_no = s.batch_no AND r.release_row_no = s.row_no
-- The delivery the row came in: its own batch's, or the released row's.
JOIN audit.landing_files l ON l.batch_no = coalesce(r.batch_no, s.batch_no)
LEFT JOIN quarantine.records q ON q.batch_no = s.batch_no AND q.row_no = s.row_no
WHERE s.batch_no = %(batch_no)s AND s.collapsed IS NULL AND q.row_no IS NULL
"""

# The upsert in key order, the first load as scanned (as population's).
_IN_KEY_ORDER = "ORDER BY a.province, s.dossier_id"

# A dossier's row from a newer export day wins; within one day, a later delivery (a corrected
# file) wins. An older file never overwrites a newer one, whatever order they arrive in, and a
# rerun rewrites nothing.
PUBLISH_SQL = f"""
INSERT INTO core.dossiers AS c ({_CORE_COLUMNS})
{_PUBLISHED_ROWS}{_IN_KEY_ORDER}
ON CONFLICT (province_code, dossier_id) DO UPDATE SET ({_CORE_COLUMNS}) = (
  EXCLUDED.province_code, EXCLUDED.dossier_id, EXCLUDED.procedure_code, EXCLUDED.procedure_name,
  EXCLUDED.applicant_personal_id, EXCLUDED.applicant_name, EXCLUDED.commune_code,
  EXCLUDED.channel, EXCLUDED.received_at, EXCLUDED.due_at, EXCLUDED.completed_at,
  EXCLUDED.status, EXCLUDED.extra, EXCLUDED.flags, EXCLUDED.file_name, EXCLUDED.file_day,
  EXCLUDED.file_no, EXCLUDED.line_no, EXCLUDED.batch_no, EXCLUDED.published_at)
WHERE (c.file_day, c.batch_no) < (EXCLUDED.file_day, EXCLUDED.batch_no)
"""

FIRST_LOAD = FirstLoad(
    tables=("core.dossiers",),
    sql=f"INSERT INTO core.dossiers ({_CORE_COLUMNS}){_PUBLISHED_ROWS}",
)

# Rule D-K2: a corrected redelivery (the same name, other bytes) replaces the rows of the
# deliveries it corrects: their rows leave core (the corrected rows are published next), and
# their rows still held in quarantine are settled as replaced.
REPLACES_SQL = (
    """
DELETE FROM core.dossiers c
USING audit.landing_files l
WHERE l.batch_no = %(batch_no)s AND l.corrects IS NOT NULL
  AND c.province_code = l.province AND c.file_name = l.name AND c.batch_no < l.batch_no
""",
    """
UPDATE quarantine.records q
SET status = 'rejected', decided_by = 'lienthong', decided_at = now(),
    decision_reason = 'replaced by delivery ' || l.file_no || ' of ' || l.name
                      || ' (batch ' || l.batch_no || '), which corrects it (rule D-K2)'
FROM audit.landing_files l
JOIN audit.landing_files e ON e.source = l.source AND e.name = l.name AND e.batch_no < l.batch_no
WHERE l.batch_no = %(batch_no)s AND l.corrects IS NOT NULL
  AND q.batch_no = e.batch_no AND q.status = 'held'
""",
)


def suite_parameters(batch: dict[str, Any]) -> dict[str, Any]:
    """Values for the dossiers suites' $PARAMETERs."""
    from lienthong.reference.address_codes import address_codes

    return {"birth_province_codes": address_codes().birth_province_codes}


def _released_dossier(payload: dict[str, Any], staged: dict[str, Any]) -> DossierItem:
    """A quarantined dossier row read again from its payload (for an operator's release)."""
    row = DossierRow(
        line=staged["line_no"],
        values={column: payload.get(column) for column in DOCUMENTED_COLUMNS},
        extra={k: v for k, v in payload.items() if k not in DOCUMENTED_COLUMNS},
    )
    return DossierItem(row=row, file_day=staged["file_day"])


DOSSIERS = Dataset(
    name="dossiers",
    staging_table="staging.dossiers",
    staging_columns=STAGING_COLUMNS,
    key_column="dossier_id",
    # The same for every row of a file: copies of a dossier within one file are identical
    # (collapsed) or a conflict (quarantined by D-K2), never an older and a newer version.
    version_column="file_day",
    publish_sql=PUBLISH_SQL,
    first_load=FIRST_LOAD,
    preparer=lambda source: Preparer(),
    release_item=_released_dossier,
    personal_fields=frozenset({"applicant_personal_id", "applicant_name"}),
    extractor=take_dossier_file,
    suite_parameters=suite_parameters,
    incremental=False,
    replaces_sql=REPLACES_SQL,
    after_outcome=settle_files,
)
