"""The Ministry population API read as one batch's extraction: a walk of ``/v1/citizens`` from
the watermark (or in full), page by page."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from lienthong.ministry.hook import MinistryPopulationHook
from lienthong.pipeline.extraction import ExtractRequest


class CitizenWalk:
    """One walk of the citizens endpoint.

    The window ends at the walk's start by our clock, or earlier by the server's own (its
    ``Date`` header): the watermark never passes a moment the walk may not have seen whole.
    The API sends no upper bound, so rows stamped after that are read (and published), and
    simply read again next time.
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

    def chunks(self) -> Iterator[Sequence[Any]]:
        """The items of each page, in order, left encoded where they can be (decoded where
        they are prepared: `lienthong.pipeline.extraction.EncodedChunk`)."""
        pages = self.hook.iter_pages(updated_since=self.since, defer_items=True)
        for number, page in enumerate(pages):
            if number == 0 and page.served_at is not None:
                self.window_end = min(self.window_end, page.served_at)
            self.announced_total = page.total
            yield page.items
        if self.announced_total is None:
            self.announced_total = 0

    def describe(self) -> str:
        """The walk, for logs."""
        since = f"from {self.since:%Y-%m-%dT%H:%M:%SZ}" if self.since else "in full"
        return f"connection {self.hook.ministry_conn_id!r}, {since}"


def walk_citizens(request: ExtractRequest) -> CitizenWalk:
    """The population dataset's extractor."""
    return CitizenWalk(request)
