"""What the pipeline must do with labelled demo data: per row and per batch.

The file generators (``dossier_files``, ``task_workbooks``) label every row they write, and
every delivery, with the rule of RULES.md that must catch it, so that a test can assert that
the warehouse holds exactly what the labels say.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLEAN", "BatchExpectation", "RowExpectation"]

#: Row outcomes (RULES.md: published, quarantined, collapsed) and "dropped" for the rows a
#: reader leaves out by design (blank and totals rows of a workbook, T-K1).
OUTCOMES = ("published", "quarantined", "collapsed", "dropped")
#: Actions of RULES.md.
ACTIONS = ("fix", "quarantine", "hold", "flag")


@dataclass(frozen=True)
class RowExpectation:
    """Where one row must end, and which rule sends it there (None for a clean row).

    ``action`` is the rule's action: ``fix`` (published after a repair), ``quarantine``,
    ``flag`` (published and marked), or ``fix`` for a collapsed duplicate.
    """

    outcome: str
    rule_id: str | None = None
    action: str | None = None


CLEAN = RowExpectation("published")


@dataclass(frozen=True)
class BatchExpectation:
    """A batch-level rule the delivery must trip: ``hold`` (nothing published), ``fix``
    (read right anyway, counted), or ``skip`` (a delivery already loaded: loads once)."""

    rule_id: str
    action: str
    reason: str
