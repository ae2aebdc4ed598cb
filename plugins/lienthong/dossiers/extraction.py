"""A province's dossier landing folder read as one batch's extraction: the next complete export
(CSV and manifest, SOURCES.md §3), streamed in chunks.

The files of a day's export are ``dossiers_<province>_<YYYYMMDD>.csv`` and its
``….manifest.json``. The manifest completes the CSV: a CSV without it waits (and is reported
as waiting, never loaded); a manifest without its CSV is taken all the same, as a batch with
no rows that rule D-S1 holds. Whether the CSV agrees with its manifest (checksum, row count,
the file it names) and whether it came in time are the batch rules' business (D-S1, D-L1):
this module only records what it read in the ledger's ``facts``.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import date
from functools import partial
from typing import Any

from lienthong.dossiers.contract import DossierItem
from lienthong.dossiers.export_file import (
    DOCUMENTED_COLUMNS,
    DossierExportReader,
    DossierRow,
    ExportFileError,
    PackedRow,
)
from lienthong.dossiers.manifest import Manifest, ManifestError, parse_manifest
from lienthong.landing.area import LandingFile
from lienthong.landing.file_names import parse_dossier_file_name
from lienthong.landing.intake import (
    Delivery,
    Stray,
    TakenFileExtraction,
    named_files,
    take_next,
)
from lienthong.pipeline.extraction import EncodedChunk, ExtractRequest, pickled_chunk

log = logging.getLogger(__name__)

#: Rows per chunk staged by one COPY.
CHUNK_ROWS = 5000


def group_dossier_files(
    province: str | None, files: list[LandingFile]
) -> tuple[list[Delivery], list[Stray]]:
    """The day exports among a landing folder's files: a CSV and its manifest together."""
    named, strays = named_files(province, files, parse_dossier_file_name)
    days: dict[str, dict[str, Any]] = {}
    for file, name in named:
        entry = days.setdefault(name.csv_name, {"day": name.day})
        entry[name.kind] = file
    deliveries = [
        Delivery(
            name=csv_name,
            period=entry["day"],
            data=entry.get("csv"),
            manifest=entry.get("manifest"),
            waiting_for=None if "manifest" in entry else "its manifest",
        )
        for csv_name, entry in days.items()
    ]
    return deliveries, strays


class DossierFileExtraction(TakenFileExtraction):
    """One export file (or a manifest without its CSV) read for one batch."""

    # Reading a row (splitting, decoding, checking its encoding) is the task's own work: done
    # by a thread while the staging loop waits for COPY, it costs the extraction no time.
    read_ahead = True

    def _manifest(self, facts: dict[str, Any]) -> Manifest | None:
        file = self.taken.delivery.manifest
        if file is None:
            return None
        try:
            manifest = parse_manifest(file.path.read_bytes(), name=file.name)
        except ManifestError as error:
            facts["manifest_error"] = str(error)
            return None
        facts["manifest"] = dataclasses.asdict(manifest)
        self.announced_total = manifest.rows
        return manifest

    def chunks(self) -> Iterator[EncodedChunk]:
        """The file's rows in chunks, each encoded as its rows' `PackedRow` tuples pickled (a
        chunk crosses to a preparation worker as one string of bytes, its items built there);
        what reading it established is ``read_facts`` once they are exhausted."""
        delivery = self.taken.delivery
        facts: dict[str, Any] = {
            "csv_present": delivery.data is not None,
            "manifest_present": delivery.manifest is not None,
        }
        manifest = self._manifest(facts)
        if delivery.data is not None:
            with delivery.data.path.open("rb") as stream:
                try:
                    reader = DossierExportReader(
                        stream,
                        name=delivery.name,
                        claimed_encoding=manifest.encoding if manifest else None,
                    )
                except ExportFileError as error:
                    facts["read_error"] = str(error)
                    reader = None
                if reader is not None:
                    items = partial(dossier_items, delivery.period, reader.facts.missing_columns)
                    for rows in reader.packed_chunks(CHUNK_ROWS):
                        yield pickled_chunk(rows, items)
                    read = reader.facts
                    facts["file"] = dataclasses.asdict(read)
                    facts["columns_in_documented_order"] = _in_documented_order(read.header)
                    if read.sha256 != self.taken.record["sha256"]:
                        raise RuntimeError(
                            f"{delivery.name} changed while it was being read (SHA-256 "
                            f"{read.sha256}, {self.taken.record['sha256']} when taken); "
                            "a retry reads it again"
                        )
        self.read_facts = facts


def dossier_items(
    file_day: date, missing_columns: tuple[str, ...], rows: Sequence[PackedRow]
) -> list[DossierItem]:
    """A chunk's items from its `PackedRow` tuples (built where they are prepared)."""
    return [DossierItem(DossierRow.unpack(row), file_day, missing_columns) for row in rows]


def _in_documented_order(header: tuple[str, ...]) -> bool:
    """Whether the documented columns the header holds come in the documented order."""
    keys = [re.sub(r"[\s\-]+", "_", name.strip().lower()) for name in header]
    known = [key for key in keys if key in DOCUMENTED_COLUMNS]
    return known == [column for column in DOCUMENTED_COLUMNS if column in known]


def take_dossier_file(request: ExtractRequest) -> DossierFileExtraction | None:
    """The dossiers dataset's extractor: the next complete export of the source's landing
    folder (oldest first), or None when no file is ready."""
    taken = take_next(request, "dossiers", group_dossier_files)
    if taken is None:
        return None
    return DossierFileExtraction(request, taken)
