"""The manifest that completes a dossier export (SOURCES.md §3).

``dossiers_<province>_<YYYYMMDD>.manifest.json`` holds::

    {"file": "<csv name>", "rows": N, "sha256": "<hex of the csv bytes>",
     "exported_at": "<timestamp>", "encoding": "utf-8"}

``parse_manifest`` checks the shape and types and nothing else: whether the CSV's bytes,
rows and encoding agree with it (rules D-S1, D-K1) is decided by whoever read the CSV.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

__all__ = ["MANIFEST_FIELDS", "Manifest", "ManifestError", "parse_manifest"]

MANIFEST_FIELDS = ("file", "rows", "sha256", "exported_at", "encoding")
"""The documented fields of a manifest, all required."""

_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


class ManifestError(ValueError):
    """A manifest that cannot be used: not JSON, not an object, a field missing or mistyped.

    ``manifest`` is the manifest file's name, ``field`` the field at fault (None when the
    whole document is).
    """

    def __init__(self, manifest: str, field: str | None, problem: str) -> None:
        where = f"manifest {manifest}" + (f", field {field!r}" if field else "")
        super().__init__(f"{where}: {problem}")
        self.manifest = manifest
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Manifest:
    """A parsed manifest.

    ``encoding`` is the claim as written (``"utf-8"``, ``"UTF8"``, ``"cp1258"``...);
    ``lienthong.text.encodings.canonical_encoding`` names it. ``sha256`` is lower case.
    ``exported_at`` is timezone-aware; a timestamp written without an offset is read as UTC
    (SOURCES.md: all timestamps are UTC) and noted in ``warnings``. Fields the contract does
    not document are kept in ``extra``.
    """

    name: str
    file: str
    rows: int
    sha256: str
    exported_at: datetime
    encoding: str
    extra: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def parse_manifest(data: bytes, *, name: str) -> Manifest:
    """Parse the bytes of the manifest file ``name``.

    Raises:
        ManifestError: the bytes are not a JSON object (UTF-8, with or without a byte order
            mark), or a documented field is missing or of the wrong type: ``file`` a
            non-empty string, ``rows`` a non-negative integer, ``sha256`` 64 hex digits,
            ``exported_at`` an RFC 3339 timestamp, ``encoding`` a non-empty string.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManifestError(name, None, f"not UTF-8 text ({error})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(name, None, f"not JSON ({error})") from None
    if not isinstance(document, dict):
        raise ManifestError(name, None, f"a JSON {type(document).__name__}, not an object")
    for key in MANIFEST_FIELDS:
        if key not in document:
            raise ManifestError(name, key, "missing")

    def text_field(key: str) -> str:
        value = document[key]
        if not isinstance(value, str) or not value.strip():
            raise ManifestError(name, key, f"must be a non-empty string, not {value!r}")
        return value.strip()

    rows = document["rows"]
    # bool is an int in Python; true is not a row count.
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
        raise ManifestError(name, "rows", f"must be a non-negative integer, not {rows!r}")
    sha256 = text_field("sha256")
    if not _SHA256.match(sha256):
        raise ManifestError(name, "sha256", f"must be 64 hexadecimal digits, not {sha256!r}")
    stamp = text_field("exported_at")
    try:
        # RFC 3339 (5.6) allows a lower-case "t" and "z", which fromisoformat refuses; every
        # other character of a timestamp is the same in upper case.
        exported_at = datetime.fromisoformat(stamp.upper())
    except ValueError:
        raise ManifestError(name, "exported_at", f"not an RFC 3339 timestamp: {stamp!r}") from None
    warnings: list[str] = []
    if exported_at.tzinfo is None:
        exported_at = exported_at.replace(tzinfo=UTC)
        warnings.append(f"exported_at {stamp!r} has no UTC offset; read as UTC")
    return Manifest(
        name=name,
        file=text_field("file"),
        rows=rows,
        sha256=sha256.lower(),
        exported_at=exported_at,
        encoding=text_field("encoding"),
        extra={key: value for key, value in document.items() if key not in MANIFEST_FIELDS},
        warnings=tuple(warnings),
    )
