"""The Ministry population API read as one batch's extraction: a walk of ``/v1/citizens`` from
the watermark (or in full), page by page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from lienthong.ministry.hook import (
    MinistryContractError,
    MinistryPopulationHook,
    format_rfc3339_utc,
)
from lienthong.ministry.page import CitizenPage
from lienthong.pipeline.contract import parse_rfc3339
from lienthong.pipeline.extraction import EncodedChunk, ExtractRequest
from lienthong.pipeline.publish import CLOCK_SKEW


class CitizenWalk:
    """One walk of the citizens endpoint.

    The window ends at the walk's start by our clock, or earlier by the server's own (its
    ``Date`` header): the watermark never passes a moment the walk may not have seen whole.
    The walk sends no upper bound (``updated_before``), so rows stamped after that are read
    (and published), and simply read again next time; and rows stamped in the future are
    read, for rule P-L2 to quarantine.

    The contract fixes ``total`` for one walk but does not promise a snapshot of the items: a
    server paging a live table sends records written while the walk runs (new ones, and ones
    changed again) after those it counted. They are read, as rows stamped after the window
    (`written_while_walking` says which may be), and counted in what the walk announces, so
    that rule P-S2 compares what came with what the server counted plus what it wrote
    meanwhile. Without an upper bound a record changed before the walk reached it moves to
    the end rather than out of the walk: bounding the walk would have P-S2 hold a batch for
    every record changed while it ran.
    """

    window_closed = False
    #: Pages are fetched ahead while the last one is staged (`lienthong.pipeline.prefetch`).
    read_ahead = True

    def __init__(self, request: ExtractRequest) -> None:
        source = request.source
        self.since = request.since
        self.mode = "full" if request.since is None else "incremental"
        self.hook = MinistryPopulationHook(source.conn_id, page_size=source.page_size or 1000)
        self.announced_total: int | None = None
        self.window_end: datetime = request.now
        #: Records read past the total the server announced, written while the walk ran.
        self.written_while_walking = 0

    def chunks(self) -> Iterator[Sequence[Any]]:
        """The items of each page, in order, left encoded where they can be (decoded where
        they are prepared: `lienthong.pipeline.extraction.EncodedChunk`)."""
        pages = self.hook.iter_pages(
            updated_since=self.since, defer_items=True, past_total=self._written_while_walking
        )
        for number, page in enumerate(pages):
            if number == 0 and page.served_at is not None:
                self.window_end = min(self.window_end, page.served_at)
            self.announced_total = page.total + self.written_while_walking
            yield page.items
        if self.announced_total is None:
            self.announced_total = 0

    @property
    def facts(self) -> dict[str, Any]:
        """What the walk learned besides its rows, kept on the batch."""
        return {"written_while_walking": self.written_while_walking}

    def _written_while_walking(self, page: CitizenPage, beyond: int, where: str) -> None:
        """Accept a page's items past the walk's total (its last ``beyond`` ones) when each is
        stamped at or after the window's end, less the clock skew rule P-L2 allows
        (`lienthong.pipeline.publish.CLOCK_SKEW`): records written while the walk ran.
        Anything else past the total (an older record sent again, an item without a readable
        stamp) is a contract break."""
        # Only a page that crosses the total is decoded here; the others are decoded where
        # their items are prepared.
        items = page.items.items() if isinstance(page.items, EncodedChunk) else page.items
        written_from = self.window_end - CLOCK_SKEW
        for item in items[max(len(items) - (beyond - self.written_while_walking), 0) :]:
            stamp = parse_rfc3339(item.get("updated_at")) if isinstance(item, dict) else None
            if stamp is None or stamp < written_from:
                stamped = item.get("updated_at") if isinstance(item, dict) else None
                raise MinistryContractError(
                    f"{where}: {page.total + beyond} items received, more than the total of "
                    f"{page.total} the walk announced, and an item past it (updated_at "
                    f"{stamped!r}) was not written while the walk ran (from "
                    f"{format_rfc3339_utc(written_from)})"
                )
        self.written_while_walking = beyond

    def describe(self) -> str:
        """The walk, for logs."""
        since = f"from {self.since:%Y-%m-%dT%H:%M:%SZ}" if self.since else "in full"
        return f"connection {self.hook.ministry_conn_id!r}, {since}"


def walk_citizens(request: ExtractRequest) -> CitizenWalk:
    """The population dataset's extractor."""
    return CitizenWalk(request)
