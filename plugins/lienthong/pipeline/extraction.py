"""What a source hands the shared mechanism for one batch: items in chunks, and a few facts.

A dataset's extractor turns a request (which source, from which watermark, at what time) into
an `Extraction`, or None when there is nothing to extract now (a landing folder with no
complete file). The mechanism stages every item of every chunk; the facts it reads once the
chunks are exhausted.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:
    import psycopg

    from lienthong.sources import Source


@dataclass(frozen=True)
class ExtractRequest:
    """What an extractor is asked for.

    Attributes:
        source: the sources-file entry.
        since: the watermark (inclusive lower bound of the window), None for a full read.
        now: the extraction's clock.
        batch_key: the batch's key (the Airflow run), so that a rerun finds the same input.
        conn: a warehouse connection, for extractors that keep state there (file ledgers).
    """

    source: Source
    since: datetime | None
    now: datetime
    batch_key: str
    conn: psycopg.Connection


@dataclass(frozen=True)
class EncodedChunk:
    """A chunk whose items are still in the source's encoding (an API page's JSON), decoded
    where they are prepared.

    Decoding costs the same in a preparation worker as in the staging loop, but decoded
    items must then be pickled to the worker and rebuilt there: a page's bytes cross for
    almost nothing, and the staging loop, which feeds every worker, is spared the decoding.

    Attributes:
        data: the encoded chunk.
        count: how many items it holds (the staging loop numbers rows before decoding).
        decode: the bytes to their items, in order; a module-level function (or a partial of
            one), so that it crosses to a worker by reference.
    """

    data: bytes
    count: int
    decode: Callable[[bytes], Sequence[Any]]

    def __len__(self) -> int:
        return self.count

    def items(self) -> Sequence[Any]:
        """The decoded items; an error if they are not the ``count`` announced."""
        items = self.decode(self.data)
        if len(items) != self.count:
            raise ValueError(
                f"an encoded chunk decoded to {len(items)} items, not the {self.count} counted "
                "when it was read"
            )
        return items


class JsonItems(Sequence[Any]):
    """Items still in the JSON array their source sent (an API page's ``items``).

    As a sequence, the items are read by ``decode`` (the source's careful decoder, which keeps
    whatever an item holds: keys given twice, values of any type), all at once on first use.
    A preparer that reads a chunk by column reads ``data`` itself
    (`lienthong.pipeline.columns.json_columns`) and asks `item` only for the items it cannot
    read so.

    Attributes:
        data: a JSON array, as sent, already checked to be JSON (by msgspec).
        decode: JSON text (the array, or one of its items) → what the careful decoder reads
            in it; a module-level function, so that the chunk crosses to a worker by
            reference.
    """

    def __init__(self, data: bytes, decode: Callable[[bytes], Any]) -> None:
        self.data = data
        self.decode = decode

    @cached_property
    def texts(self) -> list[bytes]:
        """Each item's JSON text, as sent."""
        return [bytes(text) for text in _RAW_ITEMS.decode(self.data)]

    def item(self, index: int) -> Any:
        """The item at ``index``, read on its own."""
        return self.decode(self.texts[index])

    @cached_property
    def _items(self) -> list[Any]:
        items = self.decode(self.data)  # at once: a parser's call per item costs more
        if not isinstance(items, list) or len(items) != len(self.texts):
            return [self.item(index) for index in range(len(self.texts))]
        return items

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]


_RAW_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


#: How `pickled_chunk` pickles rows: only for the task's own preparation workers, of the same
#: Python.
PICKLE = pickle.HIGHEST_PROTOCOL


def pickled_chunk(
    rows: Sequence[Any], build: Callable[[Sequence[Any]], Sequence[Any]]
) -> EncodedChunk:
    """A chunk of rows as read (tuples of plain values: a file's split lines, a database
    driver's rows), pickled as one string of bytes; ``build`` makes them items where they are
    prepared (a module-level function or a partial of one, so that it crosses by reference).
    A memoryview (psycopg2's binary values) crosses as the bytes it shows.

    Items are dicts or objects holding dicts: pickled one by one they cost the staging loop,
    which feeds every worker, 5-9 us a row; plain tuples about 1, and the work of building the
    items moves to the workers with them."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, PICKLE)
    pickler.dispatch_table = _AS_BYTES
    pickler.dump(rows)
    return EncodedChunk(out.getvalue(), len(rows), partial(_unpickled, build))


# Pickle refuses a memoryview: its bytes cross instead (read back as bytes).
_AS_BYTES = {**copyreg.dispatch_table, memoryview: lambda view: (bytes, (view.tobytes(),))}


def _unpickled(build: Callable[[Sequence[Any]], Sequence[Any]], data: bytes) -> Sequence[Any]:
    return build(pickle.loads(data))


class Extraction(Protocol):
    """One batch's read of a source.

    ``chunks`` yields the items in order (a sequence of items, or an `EncodedChunk`); the
    attributes are valid once it is exhausted:
    ``announced_total`` (what the source said it would send, for the count rule),
    ``window_end`` (the watermark never passes it: the extraction's own clock or the
    source's), and ``window_closed`` (True when every version before ``window_end`` has been
    read, so the watermark may move to it even where no row reached it). An extraction may
    also carry ``facts``, a JSON-able dict of what it learned of its source besides the rows
    (a table's missing columns, a file's encoding), kept on the batch (``source_facts``) for
    the batch-level rules, and set ``read_ahead`` when its next chunk should be read while the
    last one is staged (a source that waits on the network, a file whose reading is work of its
    own): a thread then walks ``chunks`` while the staging loop COPYs.

    The warehouse connection (``ExtractRequest.conn``) is the staging loop's, and COPY holds it
    from a chunk's first byte to its last: an extraction uses it before its first chunk, or in
    ``finish``, an optional method the loop calls once every chunk is staged, in the staging
    transaction, for what the extraction keeps in the warehouse besides the rows (a landing
    file's ledger entry).
    """

    mode: str
    announced_total: int | None
    window_end: datetime | None
    window_closed: bool

    def chunks(self) -> Iterator[Sequence[Any] | EncodedChunk]: ...

    def describe(self) -> str:
        """What is read, for logs and the batch's record."""
        ...
