"""Reading a province's dossier export CSV (SOURCES.md §3) into rows and facts.

``DossierExportReader`` streams one CSV from a binary file object: memory stays flat
however many rows the file holds. It reads what provinces really send (rule D-K1):

* **Encoding** from the bytes, whatever the manifest claims: UTF-8, UTF-8 with a byte order
  mark, Windows-1258 (toned letters as base letter + combining mark, composed to NFC) or TCVN3
  (``lienthong.text.encodings`` judges which). The CSV is split on its ASCII delimiters,
  quotes and line breaks before anything is decoded (all four encodings are
  ASCII-compatible), so the encoding can be decided on a bounded look-ahead of the first
  records holding non-ASCII bytes (up to 1 MiB or 400 such fields) and then each field is
  decoded on its own and checked as it goes: a field that is not valid in the file's
  encoding (a UTF-8 row pasted into a Windows-1258 file, bytes UTF-8 or Windows-1258 does not
  define) is read as best it can be and its row marked.
* **Delimiter** ``,`` or ``;`` (also tab or ``|``) sniffed from the header row: the one that
  splits it into the most documented column names, then the most frequent. The header is the
  first non-blank line (a line break inside a quoted header name is not supported).
* **Columns** in any order, matched to the documented names ignoring case, surrounding
  whitespace and inner whitespace or dashes (``Dossier ID`` is ``dossier_id``). Columns not
  documented are *extra*, kept with every row; documented columns not in the header are
  *missing*, reported by name (the batch is held on that).
* **Rows**: RFC 4180 quoting (delimiters, quotes and line breaks inside quoted fields). A row
  with the wrong number of fields is kept and marked with its line number: fields past the
  header are kept as extras (``"column 12"``), absent ones read as None. A record the CSV
  parser gives up on (a runaway quote longer than the csv module's field limit) is kept as a
  row whose extra ``"raw"`` holds its text. Blank lines are not rows; they are counted.
* **Truncation**: a file that ends inside a quoted field, or mid-row without a final line
  break, has its last row marked and the fact reported.

Values are NFC text, or None when empty or only whitespace; nothing else is changed
(trimming, P-K1-style fixes and rule checks belong to the dataset's contract and suites).
The file's bytes are hashed while they are read, so the SHA-256 to compare with the manifest
(rule D-S1) comes with the rows, without a second read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from lienthong.text import encodings

__all__ = [
    "DOCUMENTED_COLUMNS",
    "DossierExportReader",
    "DossierRow",
    "ExportFileError",
    "ExportFileFacts",
    "PackedRow",
]

DOCUMENTED_COLUMNS = (
    "dossier_id",
    "procedure_code",
    "procedure_name",
    "applicant_personal_id",
    "applicant_name",
    "commune_code",
    "channel",
    "received_at",
    "due_at",
    "completed_at",
    "status",
)
"""The columns of SOURCES.md §3, in the documented order."""

_DELIMITERS = (",", ";", "\t", "|")
_LOOKAHEAD_BYTES = 1 << 20
_LOOKAHEAD_FIELDS = 400
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Characters of distinct fields a reader remembers the reading of
#: (`DossierExportReader._decode`): some 50,000 names a few dozen characters long.
_DECODED_KEPT = 2_000_000
_BOM_TEXT = encodings.BOM.decode("latin-1")  # the BOM's bytes as the latin-1 layer shows them


class ExportFileError(ValueError):
    """A file that cannot be read as a dossier export at all (e.g. UTF-16), naming it."""


@dataclass(frozen=True)
class DossierRow:
    """One record of the file.

    Attributes:
        line: the line of the file the record starts on (the header is line 1 unless blank
            lines precede it).
        values: every documented column → NFC text, or None when empty, only whitespace,
            absent from this row or missing from the header.
        extra: columns not documented (by their header name as read), and fields past the
            header's width (``"column N"``), NFC text or None.
        defect: why the row is malformed (wrong number of fields, truncated, a field not
            valid in the file's encoding), several joined by ``"; "``; None when it is not.
        renormalised: documented or extra columns whose UTF-8 text was not NFC as received
            (decomposed letters composed here; the D-K1 fix).
        received: the text of each renormalised column as it was received (before NFC), for
            the audit trail of the fix.
    """

    line: int
    values: dict[str, str | None]
    extra: dict[str, str | None]
    defect: str | None = None
    renormalised: tuple[str, ...] = ()
    received: dict[str, str] = field(default_factory=dict)

    @classmethod
    def unpack(cls, packed: PackedRow) -> DossierRow:
        """The row of a `PackedRow` (`DossierExportReader.packed_chunks`)."""
        line, values, extra, defect, renormalised, received = packed
        return cls(
            line,
            dict(zip(DOCUMENTED_COLUMNS, values, strict=True)),
            extra,
            defect,
            renormalised,
            received,
        )


#: A `DossierRow` as plain values: (line, the documented columns' values in documented order,
#: extra, defect, renormalised, received). Rows cross to preparation workers by the thousand,
#: and so they pickle several times faster than as dataclasses (`DossierRow.unpack`).
PackedRow = tuple[
    int, tuple[str | None, ...], dict[str, str | None], str | None, tuple[str, ...], dict[str, str]
]


@dataclass(frozen=True)
class ExportFileFacts:
    """What reading one file established. Final only when ``complete`` is True.

    Attributes:
        name: the file's name, as the caller gave it.
        complete: the whole file has been read (row_count, sha256, byte_count, truncation
            and, for an all-ASCII start, the encoding are final).
        byte_count, sha256: of the bytes read (all of the file once complete).
        empty: the file has no bytes at all.
        encoding: ``utf-8``, ``utf-8-sig``, ``windows-1258``, ``tcvn3``, ``ascii`` (no
            non-ASCII byte: every encoding reads it the same), or None (empty file).
        encoding_certain: False when Windows-1258 against TCVN3 was decided by a tie-break.
        encoding_reason: why that encoding.
        encoding_claimed: the claim passed in (the manifest's), as written.
        encoding_agrees: the detection fits the claim (None without a claim); see
            ``encodings.encodings_agree``.
        delimiter: the field delimiter, None for an empty file.
        header: the header row's fields as read (NFC), empty for an empty file.
        missing_columns: documented columns the header lacks, in documented order.
        extra_columns: header names of the columns not documented, in file order.
        duplicate_columns: documented columns the header holds more than once (the first is
            used; later ones are kept as extras under ``"<name> (column N)"``).
        row_count: records read (every one yields a row), blank lines not counted.
        malformed_rows: rows with a defect.
        blank_lines: lines with nothing on them (not rows).
        undecodable_fields: fields not valid in the file's encoding (read as best they
            could be; their rows are marked).
        plausible_words, judged_words: of the decoded words with a non-ASCII letter, how
            many read as Vietnamese (``encodings.score_words``): a low share says the
            encoding or the text is wrong.
        ends_with_newline: the last byte is a line break.
        truncated: the file ends inside a quoted field, or mid-row (no final line break and
            fewer fields than the header).
        truncation: what the truncation looks like, None when not truncated.
    """

    name: str
    complete: bool
    byte_count: int
    sha256: str
    empty: bool
    encoding: str | None
    encoding_certain: bool
    encoding_reason: str | None
    encoding_claimed: str | None
    encoding_agrees: bool | None
    delimiter: str | None
    header: tuple[str, ...]
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    duplicate_columns: tuple[str, ...]
    row_count: int
    malformed_rows: int
    blank_lines: int
    undecodable_fields: int
    plausible_words: int
    judged_words: int
    ends_with_newline: bool
    truncated: bool
    truncation: str | None


class _HashingReader(io.RawIOBase):
    """A raw byte stream that hashes, counts and remembers the last byte of what it reads."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream
        self.sha256 = hashlib.sha256()
        self.byte_count = 0
        self.last_byte = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._stream.read(len(buffer))
        size = len(data) if data else 0
        if size:
            buffer[:size] = data
            self.sha256.update(data)
            self.byte_count += size
            self.last_byte = data[-1:]
        return size


class _Lines:
    """Physical lines for the csv module, counted, with the lines of the current record."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self.count = 0
        self.record: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._text.readline()
        if not line:
            raise StopIteration
        self.count += 1
        self.record.append(line)
        return line


@dataclass
class _Record:
    line: int
    fields: list[str] | None  # latin-1 text of each field (bytes 1:1), None when unparsable
    raw: str  # the record's lines, latin-1
    error: str | None = None


def _column_key(name: str) -> str:
    """How a header name is compared with a documented one."""
    text = unicodedata.normalize("NFC", name).replace("\ufeff", "").strip().lower()
    return re.sub(r"[\s\-]+", "_", text)


_DOCUMENTED_KEYS = {_column_key(name): name for name in DOCUMENTED_COLUMNS}
_DOCUMENTED_AT = {name: at for at, name in enumerate(DOCUMENTED_COLUMNS)}


def _sniff_delimiter(header_line: str) -> str:
    best, best_rank = ",", (-1, -1)
    for delimiter in _DELIMITERS:
        names = next(csv.reader([header_line], delimiter=delimiter))
        recognised = len({_column_key(name) for name in names} & _DOCUMENTED_KEYS.keys())
        rank = (recognised, len(names))
        if rank > best_rank:
            best, best_rank = delimiter, rank
    return best


def _quote_open_at_end(raw: str, delimiter: str) -> bool:
    """Whether a record's text ends inside a quoted field (the csv module's reading)."""
    in_quotes = False
    at_field_start = True
    index, size = 0, len(raw)
    while index < size:
        char = raw[index]
        if in_quotes:
            if char == '"':
                if index + 1 < size and raw[index + 1] == '"':
                    index += 1
                else:
                    in_quotes = False
        elif char == '"' and at_field_start:
            in_quotes = True
        at_field_start = not in_quotes and char in (delimiter, "\n", "\r")
        index += 1
    return in_quotes


class DossierExportReader:
    """Rows and facts of one dossier export CSV, streamed from a binary file object.

    The header and the encoding (when the file's first megabyte holds non-ASCII bytes) are
    read when the reader is made, so ``facts.missing_columns`` can hold the batch before any
    row is used. Iterate (or call ``chunks``) once; ``facts`` is final after the last row.

    Example::

        with path.open("rb") as stream:
            reader = DossierExportReader(stream, name=path.name, claimed_encoding="utf-8")
            for chunk in reader.chunks(5000):
                ...
            facts = reader.facts

    Args:
        stream: the file's bytes, read from where it stands to its end.
        name: the file's name, for facts and errors.
        claimed_encoding: what the manifest says (only compared, and a tie-break).

    Raises:
        ExportFileError: the file starts with a UTF-16 byte order mark, or its header line
            cannot be read as CSV.
    """

    def __init__(self, stream: BinaryIO, *, name: str, claimed_encoding: str | None = None) -> None:
        self.name = name
        self._claimed = claimed_encoding
        self._raw = _HashingReader(stream)
        buffered = io.BufferedReader(self._raw, buffer_size=1 << 16)
        start = buffered.peek(3)[:3]
        if start[:2] in _UTF16_BOMS:
            raise ExportFileError(
                f"dossier file {name}: starts with a UTF-16 byte order mark; the contract's "
                f"encodings are {', '.join(encodings.ENCODINGS)} and TCVN3"
            )
        self._bom = start == encodings.BOM
        text = io.TextIOWrapper(buffered, encoding="latin-1", newline="")
        self._lines = _Lines(text)
        self._encoding: str | None = encodings.UTF8_SIG if self._bom else None
        self._encoding_certain = True
        self._encoding_reason: str | None = "UTF-8 byte order mark" if self._bom else None
        self._row_count = 0
        self._malformed = 0
        self._blank_lines = 0
        self._undecodable = 0
        self._plausible = 0
        self._judged = 0
        self._complete = False
        self._truncation: str | None = None
        self._started = False
        self._pending: deque[_Record] = deque()
        self._delimiter: str | None = None
        self._header: tuple[str, ...] = ()
        self._header_raw: list[str] = []
        # per position: (documented name or None, extra name or None)
        self._columns: list[tuple[str | None, str | None]] = []
        self._in_order = False
        # latin-1 text of a field → (text, before_nfc, plausible, judged words), read in
        # ``_decoded_in`` (`_decode`)
        self._decoded: dict[str, tuple[str, str | None, int, int]] = {}
        self._decoded_in: str | None = None
        self._decoded_chars = 0
        self._missing: tuple[str, ...] = DOCUMENTED_COLUMNS
        self._extra_columns: tuple[str, ...] = ()
        self._duplicates: tuple[str, ...] = ()
        self._records = self._read_header()
        if self._records is not None and self._encoding is None:
            self._look_ahead()
        self._apply_header()

    # -- public -----------------------------------------------------------------------------

    @property
    def facts(self) -> ExportFileFacts:
        """What is known of the file so far (final once ``complete``)."""
        encoding = self._encoding
        if encoding is None and self._complete and self._raw.byte_count:
            encoding = encodings.ASCII
        return ExportFileFacts(
            name=self.name,
            complete=self._complete,
            byte_count=self._raw.byte_count,
            sha256=self._raw.sha256.hexdigest(),
            empty=self._complete and self._raw.byte_count == 0,
            encoding=encoding,
            encoding_certain=self._encoding_certain,
            encoding_reason=self._encoding_reason
            or ("every byte is ASCII" if encoding == encodings.ASCII else None),
            encoding_claimed=self._claimed,
            encoding_agrees=None
            if self._claimed is None
            else encodings.encodings_agree(encoding, self._claimed),
            delimiter=self._delimiter,
            header=self._header,
            missing_columns=self._missing,
            extra_columns=self._extra_columns,
            duplicate_columns=self._duplicates,
            row_count=self._row_count,
            malformed_rows=self._malformed,
            blank_lines=self._blank_lines,
            undecodable_fields=self._undecodable,
            plausible_words=self._plausible,
            judged_words=self._judged,
            ends_with_newline=self._raw.last_byte in (b"\n", b"\r"),
            truncated=self._truncation is not None,
            truncation=self._truncation,
        )

    def __iter__(self) -> Iterator[DossierRow]:
        return map(DossierRow.unpack, self._start())

    def chunks(self, size: int = 5000) -> Iterator[list[DossierRow]]:
        """The rows in lists of at most ``size``."""
        for packed in self.packed_chunks(size):
            yield [DossierRow.unpack(row) for row in packed]

    def packed_chunks(self, size: int = 5000) -> Iterator[list[PackedRow]]:
        """The rows as `PackedRow` tuples, in lists of at most ``size``."""
        if size < 1:
            raise ValueError(f"chunk size must be at least 1, not {size}")
        chunk: list[PackedRow] = []
        for row in self._start():
            chunk.append(row)
            if len(chunk) >= size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # -- header and encoding ----------------------------------------------------------------

    def _read_header(self) -> Iterator[_Record] | None:
        """Read up to the header line; the record iterator after it (None: no header)."""
        for line in self._lines:
            if self._lines.count == 1 and self._bom and line.startswith(_BOM_TEXT):
                line = line[len(_BOM_TEXT) :]
            if not line.strip():
                self._blank_lines += 1
                self._lines.record.clear()
                continue
            try:
                self._delimiter = _sniff_delimiter(line)
                self._header_raw = next(csv.reader([line], delimiter=self._delimiter))
            except csv.Error as error:
                # A runaway quote in the header (past the csv module's field limit): the file
                # cannot be read at all, and says so, rather than fail every run that takes it.
                raise ExportFileError(
                    f"dossier file {self.name}: its header line cannot be read as CSV ({error})"
                ) from None
            self._lines.record.clear()
            return self._parse_records()
        self._complete = True
        return None

    def _parse_records(self) -> Iterator[_Record]:
        lines = self._lines
        reader = csv.reader(lines, delimiter=self._delimiter or ",", strict=False)
        while True:
            lines.record.clear()
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raw = "".join(lines.record)
                yield _Record(lines.count - len(lines.record) + 1, None, raw, str(error))
                continue
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                self._blank_lines += 1
                continue
            raw = "".join(lines.record)
            yield _Record(lines.count - len(lines.record) + 1, fields, raw)

    def _look_ahead(self) -> None:
        """Buffer records until enough non-ASCII text is seen to decide the encoding."""
        assert self._records is not None
        samples = [name.encode("latin-1") for name in self._header_raw if not name.isascii()]
        buffered = 0

        def take(record: _Record) -> None:
            if record.fields is None:
                if not record.raw.isascii():
                    samples.append(record.raw.encode("latin-1"))
            else:
                samples.extend(f.encode("latin-1") for f in record.fields if not f.isascii())

        for record in self._pending:
            buffered += len(record.raw)
            take(record)
        for record in self._records:
            self._pending.append(record)
            buffered += len(record.raw)
            take(record)
            if not samples:
                # All ASCII so far: nothing to decide yet; keep the look-ahead bounded.
                if buffered >= _LOOKAHEAD_BYTES:
                    return
                continue
            if len(samples) >= _LOOKAHEAD_FIELDS or buffered >= _LOOKAHEAD_BYTES:
                break
        if samples:
            detection = encodings.detect_encoding(samples, hint=self._claimed)
            self._encoding = detection.encoding
            self._encoding_certain = detection.certain
            self._encoding_reason = detection.reason

    def _apply_header(self) -> None:
        names = [self._decode(name, count=False)[0].strip() for name in self._header_raw]
        self._header = tuple(names)
        seen: set[str] = set()
        extra: list[str] = []
        duplicates: list[str] = []
        columns: list[tuple[str | None, str | None]] = []
        for position, name in enumerate(names, start=1):
            documented = _DOCUMENTED_KEYS.get(_column_key(name))
            if documented is not None and documented not in seen:
                seen.add(documented)
                columns.append((documented, None))
                continue
            if documented is not None:
                duplicates.append(documented)
            label = name or f"column {position}"
            if documented is not None or label in extra:
                label = f"{label} (column {position})"
            extra.append(label)
            columns.append((None, label))
        self._columns = columns
        # Every column documented, in the documented order, none twice: a record of the
        # header's width is its values as they stand (`_row_in_order`).
        self._in_order = columns == [(name, None) for name in DOCUMENTED_COLUMNS]
        self._missing = tuple(name for name in DOCUMENTED_COLUMNS if name not in seen)
        self._extra_columns = tuple(extra)
        self._duplicates = tuple(dict.fromkeys(duplicates))

    # -- rows -------------------------------------------------------------------------------

    def _next_record(self) -> _Record | None:
        if self._pending:
            return self._pending.popleft()
        if self._records is None:
            return None
        record = next(self._records, None)
        if record is None:
            return None
        if self._encoding is None and not record.raw.isascii():
            # The first non-ASCII text after an all-ASCII start: decide on a look-ahead
            # from here (the rows before it read the same in every encoding).
            self._pending.append(record)
            self._look_ahead()
            self._apply_header()
            return self._pending.popleft()
        return record

    def _start(self) -> Iterator[PackedRow]:
        """The rows, once: a reader reads its stream a single time."""
        if self._started:
            raise RuntimeError(f"dossier file {self.name} is being or has been read already")
        self._started = True
        return self._rows()

    def _rows(self) -> Iterator[PackedRow]:
        width = len(self._columns)
        last: _Record | None = None
        while True:
            record = self._next_record()
            if record is None:
                break
            if last is not None:
                yield self._row(last, width, None)
            last = record
        if last is not None:
            yield self._row(last, width, self._truncated(last, width))
        self._complete = True

    def _truncated(self, record: _Record, width: int) -> str | None:
        # Also for a record the parser gave up on: the file may end inside its runaway quote.
        if _quote_open_at_end(record.raw, self._delimiter or ","):
            self._truncation = (
                f"the file ends inside a quoted field opened on or after line {record.line}"
            )
            return "file ends inside a quoted field (truncated)"
        if record.fields is None:
            return None
        if self._raw.last_byte not in (b"\n", b"\r") and len(record.fields) < width:
            self._truncation = (
                f"the file ends mid-row on line {record.line} "
                f"({len(record.fields)} of {width} fields, no final line break)"
            )
            return "file ends mid-row (truncated)"
        return None

    def _row(self, record: _Record, width: int, truncation: str | None) -> PackedRow:
        self._row_count += 1
        fields = record.fields
        if self._in_order and truncation is None and fields is not None and len(fields) == width:
            return self._row_in_order(record.line, fields)
        problems: list[str] = []
        values: list[str | None] = [None] * len(DOCUMENTED_COLUMNS)
        extra: dict[str, str | None] = {label: None for _, label in self._columns if label}
        renormalised: list[str] = []
        received: dict[str, str] = {}
        if record.fields is None:
            text, problem, _ = self._decode(record.raw, "raw")
            extra["raw"] = text
            problems.append(f"unreadable record ({record.error})")
            if problem:
                problems.append(problem)
        else:
            if len(fields) != width and truncation is None:
                problems.append(f"{len(fields)} fields where the header has {width}")
            for position, raw in enumerate(fields):
                if position < width:
                    documented, label = self._columns[position]
                    column = documented or label or ""
                else:
                    documented, column = None, f"column {position + 1}"
                value: str | None = raw
                if not raw.isascii():
                    value = self._field(raw, column, problems, renormalised, received)
                if value is not None and not value.strip():
                    value = None
                if documented is not None:
                    values[_DOCUMENTED_AT[documented]] = value
                else:
                    extra[column] = value
        if truncation:
            problems.append(truncation)
        if problems:
            self._malformed += 1
        defect = "; ".join(problems) if problems else None
        return record.line, tuple(values), extra, defect, tuple(renormalised), received

    def _row_in_order(self, line: int, fields: list[str]) -> PackedRow:
        """`_row` of a record of every documented column in order, none extra: what the
        task reading the file spends most of its time on, for nearly every row of a file as
        the contract describes it, without looking up each field's column."""
        values: list[str | None] = list(fields)
        problems: list[str] = []
        renormalised: list[str] = []
        received: dict[str, str] = {}
        for position, raw in enumerate(fields):
            if not raw.isascii():
                column = DOCUMENTED_COLUMNS[position]
                values[position] = self._field(raw, column, problems, renormalised, received)
        if not all(map(str.strip, values)):
            values = [value if value.strip() else None for value in values]
        if problems:
            self._malformed += 1
            return line, tuple(values), {}, "; ".join(problems), tuple(renormalised), received
        return line, tuple(values), {}, None, tuple(renormalised), received

    def _field(
        self,
        raw: str,
        column: str,
        problems: list[str],
        renormalised: list[str],
        received: dict[str, str],
    ) -> str:
        """A field's text (`_decode`), its problem and its text as received (where NFC
        changed it) noted for its row."""
        value, problem, before_nfc = self._decode(raw, column)
        if problem:
            problems.append(problem)
        if before_nfc is not None:
            renormalised.append(column)
            received[column] = before_nfc
        return value

    def _decode(
        self, latin1: str, column: str = "header", *, count: bool = True
    ) -> tuple[str, str | None, str | None]:
        """(NFC text, problem or None, the UTF-8 text as received when it was not NFC) of one
        field."""
        if latin1.isascii():
            return latin1, None, None
        encoding = self._encoding or encodings.UTF8
        if count:
            # Procedure names and many applicants' names repeat through a file: a field read
            # once in this encoding without a problem reads the same again.
            if self._decoded_in != encoding:
                self._decoded.clear()
                self._decoded_chars = 0
                self._decoded_in = encoding
            known = self._decoded.get(latin1)
            if known is not None:
                text, before_nfc, plausible, judged = known
                self._plausible += plausible
                self._judged += judged
                return text, None, before_nfc
        data = latin1.encode("latin-1")
        problem: str | None = None
        text: str | None = None
        before_nfc: str | None = None
        # Valid UTF-8 with non-ASCII bytes is UTF-8 whatever the file's encoding (legacy
        # Vietnamese text practically never is), so a UTF-8 row in a legacy file reads right.
        try:
            received = data.decode("utf-8")
        except UnicodeDecodeError:
            received = None
        if received is not None:
            text = unicodedata.normalize("NFC", received)
            before_nfc = received if text != received else None
            if encoding not in (encodings.UTF8, encodings.UTF8_SIG):
                problem = f"column {column}: UTF-8 text in a {encoding} file"
        elif encoding in (encodings.UTF8, encodings.UTF8_SIG):
            detection = encodings.detect_encoding([data])
            fallback = detection.encoding or encodings.WINDOWS_1258
            text = encodings.decode(data, fallback, errors="replace")
            problem = f"column {column}: not valid UTF-8, read as {fallback}"
        else:
            try:
                text = encodings.decode(data, encoding)
            except UnicodeDecodeError:
                text = encodings.decode(data, encoding, errors="replace")
                problem = f"column {column}: bytes {encoding} does not define (read as U+FFFD)"
        if not count:
            return text, problem, before_nfc
        if problem:
            self._undecodable += 1
        plausible, judged = encodings.score_words(text)
        self._plausible += plausible
        self._judged += judged
        if problem is None and _DECODED_KEPT:
            self._decoded_chars += len(latin1) + len(text)
            if self._decoded_chars > _DECODED_KEPT:
                # Bounded by its text, not its count (a field may be 131,072 characters long):
                # memory stays flat however long the file.
                self._decoded.clear()
                self._decoded_chars = len(latin1) + len(text)
            self._decoded[latin1] = (text, before_nfc, plausible, judged)
        return text, problem, before_nfc
