"""What makes a dataset, for the shared write-audit-publish mechanism.

A dataset is its contract (staging table and columns), its keys, its rules
(the Great Expectations suites under ``expectations/<name>/``), and the SQL
that publishes its valid rows into core. Everything else (staging by COPY,
validation, quarantine, audit, watermarks) is the same for every dataset.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lienthong.settings import EXPECTATIONS_DIR

DIMENSIONS = ("correct", "sufficient", "clean", "live")


@dataclass(frozen=True)
class Dataset:
    """One dataset's contract, keys, rules and publishing SQL."""

    name: str
    #: staging table (schema-qualified) holding ``batch_no``, ``row_no`` and ``staging_columns``
    staging_table: str
    staging_columns: tuple[str, ...]
    #: the business key (one live row per key) and the column whose newest value wins
    key_column: str
    version_column: str
    #: INSERT … ON CONFLICT into core of the batch's valid rows; takes %(batch_no)s
    publish_sql: str
    #: suite parameters for a batch: (batch row from audit.batches) → values for $PARAMETER
    suite_parameters: Callable[[dict[str, Any]], dict[str, Any]]
    #: minimum pass rate per dimension before the batch is held
    thresholds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.95))

    #: where the suites are; ``expectations/<name>/`` unless given
    suites_path: Path | None = None

    @property
    def suites_dir(self) -> Path:
        return self.suites_path or EXPECTATIONS_DIR / self.name
