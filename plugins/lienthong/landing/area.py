"""A file source's landing area, reached through Airflow's ``ObjectStoragePath``.

The sources file gives each file source a ``path``: the folder where that province's files
arrive (``…/dossiers/40``, laid out as in SOURCES.md). It may be a local folder (absolute, or
relative to the project root) or an object-storage URL (``s3://bucket/landing/dossiers/40``,
with an Airflow connection as ``s3://conn_id@bucket/…``): the same code lists, reads and moves
files in both.

Nothing in the landing area is ever deleted. A file lands in ``<folder>``; once its batch has
an outcome it moves to a folder beside it, into a sub-folder named after its delivery's number
in the ledger (``audit.landing_files.file_no``), so that two deliveries of one name never meet
and a move that is repeated after a crash finds the file where the first attempt left it:

``<folder>_archive/<file_no>/``   published, or a duplicate of an earlier delivery
``<folder>_held/<file_no>/``      its batch is on hold: an operator decides
``<folder>_rejected/<file_no>/``  its batch was rejected; ``<name>.reason.txt`` beside it
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import ObjectStoragePath

from lienthong.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

#: Where a delivery goes for each outcome that moves it.
PLACES = {"published": "archive", "duplicate": "archive", "held": "held", "rejected": "rejected"}


def landing_path(path: str) -> ObjectStoragePath:
    """The landing folder a sources-file ``path`` names: a URL as it is, a local path made
    absolute (relative paths are relative to the project root)."""
    if "://" in path:
        return ObjectStoragePath(path.rstrip("/"))
    local = Path(path).expanduser()
    if not local.is_absolute():
        local = PROJECT_ROOT / local
    return ObjectStoragePath(local.resolve().as_uri())


@dataclass(frozen=True)
class LandingFile:
    """One file in the landing folder, as listed."""

    name: str
    path: ObjectStoragePath
    size: int
    modified_at: datetime | None

    @property
    def location(self) -> str:
        """The file's URL, as the ledger records it."""
        return str(self.path)


class LandingArea:
    """One source's landing folder and the folders beside it."""

    def __init__(self, path: str | ObjectStoragePath) -> None:
        self.folder = path if isinstance(path, ObjectStoragePath) else landing_path(path)

    def __repr__(self) -> str:
        return f"LandingArea({str(self.folder)!r})"

    @property
    def url(self) -> str:
        """The landing folder's URL."""
        return str(self.folder)

    def beside(self, place: str) -> ObjectStoragePath:
        """The folder beside the landing folder for ``place`` (archive, held, rejected)."""
        return self.folder.parent / f"{self.folder.name}_{place}"

    def files(self) -> list[LandingFile]:
        """The files in the landing folder (not its sub-folders), by name. A folder that does
        not exist yet holds nothing."""
        fs = self.folder.fs
        if hasattr(fs, "invalidate_cache"):
            # Object stores cache listings; files come and go between runs.
            fs.invalidate_cache(self.folder.path)
        try:
            entries = list(self.folder.iterdir())
        except (FileNotFoundError, NotADirectoryError):
            log.warning("landing folder %s does not exist (yet): nothing to read", self.url)
            return []
        found = []
        for entry in entries:
            if not entry.is_file():
                continue
            stat = entry.stat()
            mtime = stat.st_mtime
            found.append(
                LandingFile(
                    name=entry.name,
                    path=entry,
                    size=int(stat.st_size),
                    modified_at=datetime.fromtimestamp(mtime, UTC) if mtime else None,
                )
            )
        return sorted(found, key=lambda f: f.name)

    def path_of(self, location: str) -> ObjectStoragePath:
        """A location recorded in the ledger, as a path on this area's storage."""
        return ObjectStoragePath(location, conn_id=self.folder.conn_id)

    def move(self, location: str, place: str, file_no: int) -> str:
        """Move a file to ``<folder>_<place>/<file_no>/<name>`` and return its new location.

        Idempotent: a file already there (an earlier attempt moved it) stays; a file that is
        neither where the ledger says nor there is an error, since nothing may be lost.

        Raises:
            FileNotFoundError: the file is in neither place.
        """
        source = self.path_of(location)
        target_folder = self.beside(place) / str(file_no)
        target = target_folder / source.name
        if str(source) == str(target):
            return str(target)
        if source.exists():
            target_folder.mkdir(parents=True, exist_ok=True)
            source.move(target)
            log.info("moved %s to %s", source, target)
            return str(target)
        if target.exists():
            return str(target)
        raise FileNotFoundError(f"{source}: not there, nor at {target}; the ledger says it was")

    def write_reason(self, place: str, file_no: int, name: str, text: str) -> str:
        """Write ``<name>.reason.txt`` beside a moved file (kept if it is already there, so a
        repeated move does not rewrite the reason); return its location."""
        target = self.beside(place) / str(file_no) / f"{name}.reason.txt"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return str(target)
