"""A chunk of rows as read crosses to a preparation worker as one pickle, its items built on
the other side (`lienthong.pipeline.extraction.pickled_chunk`)."""

from __future__ import annotations

import pickle
from functools import partial

from lienthong.pipeline.extraction import EncodedChunk, pickled_chunk
from lienthong.registry.extraction import registry_items

KEYS = ("event_id", "full_name", "is_deleted", "photos")


def test_rows_cross_as_one_pickle_and_their_items_are_built_on_the_other_side():
    rows = [("E1", "Nguyễn Văn A", 0, None), ("E2", b"L\xc3\xaa Th\xe1\xbb\x8b B", 1, [])]

    chunk = pickled_chunk(rows, partial(registry_items, KEYS))
    crossed = pickle.loads(pickle.dumps(chunk))

    assert isinstance(crossed, EncodedChunk) and len(crossed) == 2
    assert crossed.items() == registry_items(KEYS, rows)
    assert crossed.items()[1] == {
        "event_id": "E2",
        "full_name": "Lê Thị B",
        "is_deleted": True,
        "photos": [],
    }


def test_a_memoryview_from_a_driver_crosses_as_its_bytes():
    # psycopg2 returns bytea as a memoryview, which pickle refuses, alone or in an array.
    rows = [("E1", memoryview("Trần C".encode()), 0, [memoryview(b"\x89PNG")])]

    items = pickle.loads(pickle.dumps(pickled_chunk(rows, partial(registry_items, KEYS)))).items()

    assert items == registry_items(KEYS, rows)
    assert items[0]["full_name"] == "Trần C"
    assert items[0]["photos"] == [b"\x89PNG"]
