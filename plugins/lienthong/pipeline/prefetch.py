"""Reading ahead: the next chunk of a source is fetched while this one is prepared and staged.

A source that spends its time waiting (an API answering over the network) gives that time
back: a thread walks the extraction's chunks into a small queue, and the staging loop takes
them in order. The order of the items, and so every row number, is the same as a page-by-page
read; an error in the walk is raised in the staging loop, where the batch is marked failed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_END = object()


def read_ahead(chunks: Iterator[T], *, depth: int = 2) -> Iterator[T]:
    """The items of ``chunks`` in order, at most ``depth`` read ahead by a thread."""
    ahead: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def walk() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ahead.put((chunk, None), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            ahead.put((_END, exc))
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=walk, name="read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            chunk, error = ahead.get()
            if chunk is _END:
                if error is not None:
                    raise error
                return
            yield chunk
    finally:
        stop.set()
        # Let a reader blocked on a full queue see the stop.
        while reader.is_alive():
            try:
                ahead.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.1)
