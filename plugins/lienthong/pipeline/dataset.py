"""What makes a dataset, for the shared write-audit-publish mechanism.

A dataset is its contract (how one item becomes one staging row, with the fixes applied),
its keys, its rules (the Great Expectations suites under ``expectations/<name>/``), the SQL
that publishes its valid rows into core, and how its source is read. Everything else
(batches, one run per source, staging by COPY, validation, quarantine, audit, watermarks) is
the same for every dataset.

Every staging table holds, besides the dataset's own columns: ``batch_no``, ``row_no``,
``missing_fields`` (documented fields absent from the item), ``extra`` (fields the contract
does not document), ``item_defect`` (what keeps the item from the contract's types: rules
P-K5, E-K3 and their kin), ``payload`` (the item as received) or ``payload_text`` (the same,
as text, when it cannot be stored as JSON), ``content_hash`` (of the fixed record, to spot
identical copies) and ``collapsed``.

A dataset whose source is a whole input (a file) may also name the core rows a batch replaces
(``replaces_sql``: a corrected file's earlier rows, a month's earlier snapshot) and act once a
batch reaches an outcome (``after_outcome``: a file source moves the batch's file).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lienthong.settings import EXPECTATIONS_DIR

if TYPE_CHECKING:
    import psycopg

    from lienthong.pipeline.extraction import Extraction, ExtractRequest
    from lienthong.sources import Source

DIMENSIONS = ("correct", "sufficient", "clean", "live")


@dataclass(frozen=True)
class Fix:
    """One automatic repair of one field, with the value as received (``audit.fixes``)."""

    rule_id: str
    field: str
    original: str | None
    fixed: str | None


class AfterOutcome(Protocol):
    """Called once a batch is held, published or rejected, after the outcome is committed,
    with the batch's row of ``audit.batches`` and an operator's note (their reason) when a
    person decided. A rerun of the step calls it again: it must be idempotent."""

    def __call__(
        self, conn: psycopg.Connection, batch: dict[str, Any], note: str | None
    ) -> None: ...


class Preparer(Protocol):
    """Turns one item received into one staging row (in ``staging_columns`` order, starting
    with ``row_no``) and the fixes applied to it. It never raises on a bad item: what is wrong
    goes into the row for the rules to judge. A large batch's items are prepared in worker
    processes (`lienthong.pipeline.preparation`): items travel there pickled, so an extractor
    hands over plain data (dicts, lists, dataclasses of a module), and ``prepare`` keeps no
    state from one item to the next."""

    def prepare(self, row_no: int, item: Any) -> tuple[tuple, Iterable[Fix]]: ...

    # A preparer may also have ``prepare_many(start, items)``: ``prepare`` of each item of a
    # chunk, numbered from ``start``, the same rows and fixes in order, which the mechanism
    # then calls instead (a chunk's plain items read by column: `lienthong.pipeline.columns`).


@dataclass(frozen=True)
class FirstLoad:
    """How a dataset's batch fills core tables that are still empty (a first, whole load).

    Its rows go into tables without their indexes, which are built again once: sorting a
    million keys once costs a fraction of a million insertions into a unique index, which an
    ``ON CONFLICT`` upsert needs (`lienthong.pipeline.publish`).

    Attributes:
        tables: the core tables ``publish_sql`` writes (schema-qualified); all must be empty.
        sql: a plain INSERT (no ``ON CONFLICT``: the tables have no index to check against
            while it runs) of exactly the rows ``publish_sql`` would publish into empty
            tables, in no particular order (the index builds sort the keys; rows sorted
            first cost the insert more than they save the builds); takes %(batch_no)s.
    """

    tables: tuple[str, ...]
    sql: str


@dataclass(frozen=True)
class Dataset:
    """One dataset's contract, keys, rules, source and publishing SQL."""

    name: str
    #: staging table (schema-qualified) holding ``batch_no`` and ``staging_columns``
    staging_table: str
    staging_columns: tuple[str, ...]
    #: the business key (one live row per key in a batch) and the column whose newest value wins
    key_column: str
    version_column: str
    #: INSERT … ON CONFLICT into core of the batch's valid rows; takes %(batch_no)s
    publish_sql: str
    #: a preparer for one batch of a source
    preparer: Callable[[Source], Preparer]
    #: how the source is read (None: nothing to read now)
    extractor: Callable[[ExtractRequest], Extraction | None]
    #: suite parameters for a batch: (batch row from audit.batches) → values for $PARAMETER
    suite_parameters: Callable[[dict[str, Any]], dict[str, Any]] = lambda batch: {}
    #: read from a watermark (else every batch is a whole input, such as a file)
    incremental: bool = True
    #: minimum pass rate per dimension before the batch is held (a source may override)
    thresholds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(DIMENSIONS, 0.95))
    #: where the suites are; ``expectations/<name>/`` unless given
    suites_path: Path | None = None
    #: payload fields and staging columns that hold personal IDs and names (masked for those
    #: who may look at quarantined rows but not decide)
    personal_fields: frozenset[str] = frozenset()
    #: the staging column that places a row in a province, for a national dataset (a
    #: provincial batch has its province)
    province_column: str | None = None
    #: how a quarantined row's payload (operator's corrections applied) becomes an item for
    #: the preparer again, given the row as it was staged; None: the payload is the item
    release_item: Callable[[dict[str, Any], dict[str, Any]], Any] | None = None
    #: statements run in the publishing transaction before ``publish_sql`` (each takes
    #: %(batch_no)s): the core rows this batch replaces, such as a corrected file's earlier
    #: rows or a month's earlier snapshot
    replaces_sql: tuple[str, ...] = ()
    #: what to do once a batch reaches an outcome (a file source moves its file)
    after_outcome: AfterOutcome | None = None
    #: a large batch into empty core tables, loaded with their indexes built after (None:
    #: always ``publish_sql``)
    first_load: FirstLoad | None = None

    @property
    def suites_dir(self) -> Path:
        return self.suites_path or EXPECTATIONS_DIR / self.name

    def thresholds_for(self, source: Source | None) -> dict[str, float]:
        """The pass-rate thresholds of a source: the dataset's, overridden by its entry."""
        return {**self.thresholds, **(source.thresholds if source else {})}
