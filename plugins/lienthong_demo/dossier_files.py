"""A seeded generator of provincial dossier exports (SOURCES.md §3) with labelled defects.

``generate_dossier_delivery`` makes one day's CSV and manifest for a province, the way a
province's system would drop them, and labels every row with what the pipeline must do:
clean rows are published; each other row carries exactly one defect with the rule that must
catch it (``DEFECTS``). Delivery scenarios (``DeliveryOptions``) cover what really arrives:
another encoding or delimiter, shuffled, extra or missing columns, a lying or missing
manifest, an empty or truncated file, a late file; ``same_file_again`` and
``corrected_redelivery`` make the second delivery of a file. Each delivery lists the batch
rules it must trip (``DossierDelivery.batch``).

Applicants are real people of the population generator (``demo_population``: the same seed
gives the same citizens, so a test can load them into the warehouse first); communes are real
communes of the file's province (``lienthong.reference.admin_units``). Procedure codes follow
the national format (``1.001612``); the names are real procedures, the codes illustrative.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from lienthong.dossiers.export_file import DOCUMENTED_COLUMNS
from lienthong.landing.file_names import dossier_csv_name, dossier_manifest_name
from lienthong.population.personal_id import compose_personal_id
from lienthong.reference import admin_units
from lienthong.text import encodings
from lienthong_demo.citizens import generate_citizens
from lienthong_demo.expectations import CLEAN, BatchExpectation, RowExpectation

__all__ = [
    "DEFECTS",
    "DeliveryOptions",
    "DossierDelivery",
    "DossierLabel",
    "corrected_redelivery",
    "demo_population",
    "generate_dossier_delivery",
    "same_file_again",
]

_Q = "quarantined"

DEFECTS: dict[str, RowExpectation] = {
    "D-C1:length": RowExpectation(_Q, "D-C1", "quarantine"),
    "D-C1:letter": RowExpectation(_Q, "D-C1", "quarantine"),
    "D-C1:province": RowExpectation(_Q, "D-C1", "quarantine"),
    "D-C2:channel": RowExpectation(_Q, "D-C2", "quarantine"),
    "D-C2:status": RowExpectation(_Q, "D-C2", "quarantine"),
    "D-C2:due_before_received": RowExpectation(_Q, "D-C2", "quarantine"),
    "D-C2:completed_not_closed": RowExpectation(_Q, "D-C2", "quarantine"),
    "D-C2:closed_without_completed": RowExpectation(_Q, "D-C2", "quarantine"),
    "D-C2:completed_before_received": RowExpectation(_Q, "D-C2", "quarantine"),
    "D-C3": RowExpectation(_Q, "D-C3", "quarantine"),
    "D-S2": RowExpectation(_Q, "D-S2", "quarantine"),
    "D-K2": RowExpectation("collapsed", "D-K2", "fix"),
    "D-C4": RowExpectation("published", "D-C4", "flag"),
}
"""Every row defect the generator can plant, and what must happen to the row.

D-K2 rows are exact copies of an earlier row of the file (the copy collapses); D-C4 rows have
a well-formed personal ID of nobody in the population (published, flagged)."""

# (code, name, working days to process): real procedures, illustrative codes.
_PROCEDURES = (
    ("1.001612", "Đăng ký thường trú", 7),
    ("1.001614", "Đăng ký tạm trú", 3),
    ("1.001616", "Xóa đăng ký thường trú", 3),
    ("1.001193", "Đăng ký khai sinh", 1),
    ("1.000656", "Đăng ký khai tử", 1),
    ("1.001022", "Đăng ký kết hôn", 3),
    ("2.000635", "Cấp bản sao trích lục hộ tịch", 1),
    ("1.004873", "Cấp giấy xác nhận tình trạng hôn nhân", 3),
    ("2.000488", "Cấp phiếu lý lịch tư pháp cho công dân Việt Nam", 10),
    ("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", 1),
    ("1.001757", "Đăng ký thành lập hộ kinh doanh", 3),
    ("1.009994", "Cấp giấy phép xây dựng nhà ở riêng lẻ", 15),
    ("1.004227", "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất", 10),
    ("1.000894", "Giải quyết trợ cấp thất nghiệp", 15),
    ("1.001699", "Cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi", 5),
)
_NOTES = ("", "", "", "Hồ sơ ưu tiên", "Bổ sung giấy tờ", "Nộp qua bưu điện", "Đã thu phí")
_EXTRA_COLUMN = "ghi_chu"
_LOCAL = timedelta(hours=7)  # Vietnam's time: offices open 07:30-17:00 local
_MANIFEST_CLAIM = {
    encodings.UTF8: "utf-8",
    encodings.UTF8_SIG: "utf-8",
    encodings.WINDOWS_1258: "windows-1258",
    encodings.TCVN3: "tcvn3",
}
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


def _moment(stamp: str) -> datetime:
    return datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)


@dataclass(frozen=True)
class DeliveryOptions:
    """How the province's system writes and delivers the file.

    Attributes:
        encoding: ``utf-8``, ``utf-8-sig``, ``windows-1258`` (toned letters as base letter +
            combining mark where the code page lacks them; all of them with
            ``decompose_all``) or ``tcvn3``.
        delimiter: ``,`` or ``;``.
        shuffle_columns: columns in a seeded random order.
        extra_column: an undocumented ``ghi_chu`` column (notes).
        drop_column: a documented column left out of the file.
        manifest: ``ok``; ``wrong_rows``, ``wrong_sha256`` (rule D-S1 holds); ``wrong_encoding``
            (claims another encoding: D-K1 reads it right anyway); ``missing`` (no manifest,
            D-S1 holds).
        empty: ``zero_bytes`` (nothing at all) or ``header_only``.
        truncate: the transfer broke off inside the last row (the manifest describes the
            whole file: D-S1 holds).
        arrival_delay_days: days between the file's date and its arrival (> 7: D-L1 holds).
    """

    encoding: str = encodings.UTF8
    decompose_all: bool = False
    delimiter: str = ","
    shuffle_columns: bool = False
    extra_column: bool = False
    drop_column: str | None = None
    manifest: str = "ok"
    empty: str | None = None
    truncate: bool = False
    arrival_delay_days: int = 0

    def __post_init__(self) -> None:
        if self.encoding not in encodings.ENCODINGS:
            raise ValueError(f"encoding must be one of {encodings.ENCODINGS}")
        if self.delimiter not in (",", ";"):
            raise ValueError("delimiter must be ',' or ';'")
        if self.drop_column is not None and self.drop_column not in DOCUMENTED_COLUMNS:
            raise ValueError(f"{self.drop_column!r} is not a documented column")
        if self.manifest not in ("ok", "wrong_rows", "wrong_sha256", "wrong_encoding", "missing"):
            raise ValueError(f"unknown manifest scenario {self.manifest!r}")
        if self.empty not in (None, "zero_bytes", "header_only"):
            raise ValueError(f"unknown empty scenario {self.empty!r}")


@dataclass(frozen=True)
class DossierLabel:
    """One row written, what the reader must read from it and what must become of it.

    ``line`` is the row's line in the CSV; ``values`` the documented columns as the reader
    must return them (None when empty or not in the file); ``defect`` the planted label
    (a key of ``DEFECTS``, ``"truncated"`` for the row a transfer cut, None when clean).
    """

    line: int
    dossier_id: str | None
    values: dict[str, str | None]
    extra: dict[str, str | None]
    defect: str | None
    expected: RowExpectation


@dataclass(frozen=True)
class DossierDelivery:
    """One delivery of a day's export: the bytes, where they go, and the labels."""

    province_code: str
    day: date
    arrival: date
    options: DeliveryOptions
    csv_name: str
    csv: bytes
    manifest_name: str
    manifest: bytes | None
    columns: tuple[str, ...]
    labels: tuple[DossierLabel, ...]
    batch: tuple[BatchExpectation, ...] = ()
    rows: tuple[dict[str, str], ...] = field(default=(), repr=False)
    planted: tuple[str | None, ...] = field(default=(), repr=False)

    def write(self, landing: Path) -> list[Path]:
        """Write the files under ``landing/dossiers/<province>/`` (SOURCES.md §3), the CSV
        first and the manifest last (it completes the file); return their paths."""
        folder = landing / "dossiers" / self.province_code
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / self.csv_name]
        paths[0].write_bytes(self.csv)
        if self.manifest is not None:
            paths.append(folder / self.manifest_name)
            paths[1].write_bytes(self.manifest)
        return paths


def demo_population(
    count: int = 500, *, seed: int = 6, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Clean citizens of the population generator (no defects): load them into the
    warehouse and pass them to ``generate_dossier_delivery`` as its applicants."""
    when = now or datetime(2026, 1, 1, tzinfo=UTC)
    return [c.item for c in generate_citizens(count, seed=seed, defect_rate=0.0, now=when)]


@functools.cache
def _communes_by_province() -> dict[str, tuple[str, ...]]:
    communes: dict[str, list[str]] = {}
    for commune in admin_units.current_communes():
        communes.setdefault(commune.province_code, []).append(commune.code)
    return {province: tuple(codes) for province, codes in communes.items()}


@functools.cache
def _invalid_birth_prefixes() -> tuple[str, ...]:
    valid = {province.code for province in admin_units.legacy_provinces()}
    return tuple(f"{n:03d}" for n in range(100) if f"{n:02d}" not in valid)


@functools.cache
def _legacy_province_codes() -> tuple[str, ...]:
    return tuple(province.code for province in admin_units.legacy_provinces())


def _check(province_code: str, count: int, defect_rate: float, labels: Sequence[str]) -> None:
    if province_code not in _communes_by_province():
        raise ValueError(f"{province_code!r} is not a current province code")
    if count < 0:
        raise ValueError(f"count must be >= 0, not {count}")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError(f"defect_rate must be within [0, 1], not {defect_rate}")
    unknown = sorted(set(labels) - DEFECTS.keys())
    if unknown:
        raise ValueError(f"unknown defect labels: {unknown}; known: {sorted(DEFECTS)}")


class _RowFactory:
    def __init__(
        self, province: str, day: date, rng: random.Random, population: Sequence[Mapping]
    ) -> None:
        if not population:
            raise ValueError("the population to draw applicants from is empty")
        self.province = province
        self.day = day
        self.rng = rng
        self.population = population
        self.known_ids = frozenset(str(person["personal_id"]) for person in population)
        self.communes = _communes_by_province()[province]
        self.other_communes = tuple(
            code
            for other, codes in sorted(_communes_by_province().items())
            if other != province
            for code in codes
        )
        self.export_end = datetime.combine(day, time(23, 0), UTC) - _LOCAL
        self.serial = 0

    def stamp(self, moment: datetime) -> str:
        return moment.strftime(_STAMP)

    def office_time(self, on: date) -> datetime:
        minutes = self.rng.randint(7 * 60 + 30, 17 * 60)
        return datetime.combine(on, time(minutes // 60, minutes % 60), UTC) - _LOCAL

    def clean(self) -> dict[str, str]:
        rng = self.rng
        self.serial += 1
        code, name, days = rng.choice(_PROCEDURES)
        person = rng.choice(self.population)
        age = min(int(rng.expovariate(0.25)), 25)
        received = self.office_time(self.day - timedelta(days=age))
        due = received + timedelta(days=days + 2 * (days // 5))  # working days, weekends
        if age == 0:
            status = rng.choice(("received", "received", "processing"))
        else:
            status = rng.choices(
                ("processing", "completed", "rejected"),
                weights=(35, 60, 5) if age < days else (10, 85, 5),
            )[0]
        completed = ""
        if status in ("completed", "rejected"):
            latest = min(self.export_end, received + timedelta(days=days + 5))
            span = max(int((latest - received).total_seconds()), 60)
            completed = self.stamp(received + timedelta(seconds=rng.randint(60, span)))
        return {
            "dossier_id": f"H{self.province}-{self.day:%y%m%d}-{self.serial:05d}",
            "procedure_code": code,
            "procedure_name": name,
            "applicant_personal_id": str(person["personal_id"]),
            "applicant_name": str(person["full_name"]),
            "commune_code": rng.choice(self.communes),
            "channel": "online" if rng.random() < 0.7 else "offline",
            "received_at": self.stamp(received),
            "due_at": self.stamp(due),
            "completed_at": completed,
            "status": status,
        }

    def unknown_person_id(self) -> str:
        rng = self.rng
        while True:
            born = date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28))
            candidate = compose_personal_id(
                rng.choice(_legacy_province_codes()), rng.choice("MF"), born, rng.randrange(10**6)
            )
            if candidate not in self.known_ids:
                return candidate

    def plant(self, label: str, row: dict[str, str]) -> None:
        rng = self.rng
        pid = row["applicant_personal_id"]
        if label == "D-C1:length":
            row["applicant_personal_id"] = pid[:-1] if rng.random() < 0.5 else pid + "7"
        elif label == "D-C1:letter":
            at = rng.randrange(6, 12)
            row["applicant_personal_id"] = pid[:at] + rng.choice("OIBS") + pid[at + 1 :]
        elif label == "D-C1:province":
            row["applicant_personal_id"] = rng.choice(_invalid_birth_prefixes()) + pid[3:]
        elif label == "D-C2:channel":
            row["channel"] = rng.choice(("web", "Trực tuyến", "ONLINE ", "bưu chính"))
        elif label == "D-C2:status":
            row["status"] = rng.choice(("done", "Đã tiếp nhận", "cancelled", "pending"))
            row["completed_at"] = ""
        elif label == "D-C2:due_before_received":
            received = _moment(row["received_at"])
            row["due_at"] = self.stamp(received - timedelta(days=rng.randint(1, 5)))
        elif label == "D-C2:completed_not_closed":
            received = _moment(row["received_at"])
            row["status"] = rng.choice(("received", "processing"))
            row["completed_at"] = self.stamp(min(received + timedelta(hours=3), self.export_end))
        elif label == "D-C2:closed_without_completed":
            row["status"] = rng.choice(("completed", "rejected"))
            row["completed_at"] = ""
        elif label == "D-C2:completed_before_received":
            received = _moment(row["received_at"])
            row["status"] = "completed"
            row["completed_at"] = self.stamp(received - timedelta(hours=rng.randint(1, 48)))
        elif label == "D-C3":
            row["commune_code"] = rng.choice(self.other_communes)
        elif label == "D-S2":
            missing = rng.choice(("dossier_id", "procedure_code", "received_at", "status"))
            row[missing] = ""
            if missing == "status":
                row["completed_at"] = ""  # an absent status is not "completed" (keeps D-C2 quiet)
            if missing == "received_at":
                pass  # comparisons with an absent received_at pass: only D-S2 fires
        elif label == "D-C4":
            row["applicant_personal_id"] = self.unknown_person_id()
        else:  # pragma: no cover - labels are checked up front
            raise AssertionError(label)


def generate_dossier_delivery(
    province_code: str,
    day: date,
    *,
    count: int = 200,
    seed: int = 6,
    defect_rate: float = 0.05,
    defects: Iterable[str] | None = None,
    population: Sequence[Mapping[str, Any]] | None = None,
    options: DeliveryOptions | None = None,
) -> DossierDelivery:
    """Make the export of ``province_code`` for ``day``, and its labels.

    Args:
        province_code: a current 2-digit province code (its communes are used).
        day: the file's date (``dossiers_<province>_<YYYYMMDD>.csv``).
        count: rows to write (before any truncation).
        seed: the same seed and arguments give the same bytes.
        defect_rate: the chance that a row carries one defect, drawn uniformly from
            ``defects`` (default: every key of ``DEFECTS``).
        population: citizen items (``personal_id``, ``full_name``) the applicants are drawn
            from; default ``demo_population()``.
        options: how the file is written and delivered.
    """
    options = options or DeliveryOptions()
    labels = tuple(DEFECTS) if defects is None else tuple(defects)
    _check(province_code, count, defect_rate, labels)
    rng = random.Random(f"dossiers:{province_code}:{day.isoformat()}:{seed}")
    factory = _RowFactory(province_code, day, rng, population or demo_population(seed=seed))

    rows: list[tuple[dict[str, str], str | None]] = []
    if options.empty != "zero_bytes" and options.empty != "header_only":
        for _ in range(count):
            label = rng.choice(labels) if labels and rng.random() < defect_rate else None
            if label == "D-K2":
                clean_rows = [row for row, planted in rows if planted is None]
                if clean_rows:
                    # The very same row object: written again byte for byte (same note too).
                    rows.append((rng.choice(clean_rows), label))
                    continue
                label = None
            row = factory.clean()
            if label is not None:
                factory.plant(label, row)
            rows.append((row, label))
    notes = {id(row): rng.choice(_NOTES) for row, _ in rows}
    return _deliver(province_code, day, options, rng, rows, notes)


def _deliver(
    province_code: str,
    day: date,
    options: DeliveryOptions,
    rng: random.Random,
    rows: list[tuple[dict[str, str], str | None]],
    notes: dict[int, str],
    layout: Sequence[str] | None = None,
) -> DossierDelivery:
    if layout is not None:
        columns = list(layout)
    else:
        columns = [c for c in DOCUMENTED_COLUMNS if c != options.drop_column]
        if options.shuffle_columns:
            rng.shuffle(columns)
        if options.extra_column:
            columns.insert(rng.randrange(len(columns) + 1), _EXTRA_COLUMN)

    text = io.StringIO()
    writer = csv.writer(text, delimiter=options.delimiter, lineterminator="\r\n")
    writer.writerow(columns)
    for row, _ in rows:
        writer.writerow([notes[id(row)] if c == _EXTRA_COLUMN else row[c] for c in columns])
    data = encodings.encode(text.getvalue(), options.encoding, decompose_all=options.decompose_all)
    if options.empty == "zero_bytes":
        data = b""
    whole = data
    written_rows = len(rows)
    truncated_at: int | None = None
    if options.truncate and rows:
        # Cut the last row just after its first delimiter: the transfer broke off there.
        start = data.rstrip(b"\r\n").rfind(b"\r\n") + 2
        truncated_at = data.index(options.delimiter.encode(), start) + 1
        data = data[:truncated_at]

    labels = _labels(options, columns, rows, notes, truncated=truncated_at is not None)
    batch = _batch_expectations(options, day, written_rows)
    csv_name = dossier_csv_name(province_code, day)
    manifest = _manifest(options, csv_name, whole, written_rows, day)
    return DossierDelivery(
        province_code=province_code,
        day=day,
        arrival=day + timedelta(days=1 + options.arrival_delay_days),
        options=options,
        csv_name=csv_name,
        csv=data,
        manifest_name=dossier_manifest_name(province_code, day),
        manifest=manifest,
        columns=tuple(columns),
        labels=labels,
        batch=batch,
        rows=tuple(row for row, _ in rows),
        planted=tuple(label for _, label in rows),
    )


def _read_back(value: str, options: DeliveryOptions) -> str | None:
    """The value as a correct reader returns it (TCVN3 keeps no toned capitals: the reader
    restores what a word's neighbours show, `lienthong.text.encodings.decode`)."""
    if not value.strip():
        return None
    return encodings.decode(encodings.encode(value, options.encoding), options.encoding)


def _labels(
    options: DeliveryOptions,
    columns: list[str],
    rows: list[tuple[dict[str, str], str | None]],
    notes: dict[int, str],
    *,
    truncated: bool,
) -> tuple[DossierLabel, ...]:
    labels: list[DossierLabel] = []
    for index, (row, defect) in enumerate(rows):
        values = {
            column: _read_back(row[column], options) if column in columns else None
            for column in DOCUMENTED_COLUMNS
        }
        extra = {_EXTRA_COLUMN: _read_back(notes[id(row)], options)} if options.extra_column else {}
        expected = CLEAN if defect is None else DEFECTS[defect]
        if truncated and index == len(rows) - 1:
            # Only the first column survived the cut.
            first = columns[0]
            values = {c: (values[c] if c == first else None) for c in DOCUMENTED_COLUMNS}
            extra = {c: (v if c == first else None) for c, v in extra.items()}
            # Required fields are gone: rule D-S2 (the batch is held by D-S1 anyway).
            defect, expected = "truncated", RowExpectation(_Q, "D-S2", "quarantine")
        labels.append(
            DossierLabel(
                line=index + 2,
                dossier_id=values["dossier_id"],
                values=values,
                extra=extra,
                defect=defect,
                expected=expected,
            )
        )
    return tuple(labels)


def _batch_expectations(
    options: DeliveryOptions, day: date, rows: int
) -> tuple[BatchExpectation, ...]:
    batch: list[BatchExpectation] = []
    if options.empty == "zero_bytes":
        batch.append(
            BatchExpectation("D-S2", "hold", "empty file: no header, every column missing")
        )
    if options.drop_column:
        batch.append(
            BatchExpectation("D-S2", "hold", f"documented column {options.drop_column} missing")
        )
    if options.manifest == "missing":
        batch.append(BatchExpectation("D-S1", "hold", "no manifest"))
    elif options.manifest == "wrong_rows":
        batch.append(BatchExpectation("D-S1", "hold", "manifest row count differs"))
    elif options.manifest == "wrong_sha256":
        batch.append(BatchExpectation("D-S1", "hold", "manifest checksum differs"))
    if options.truncate and rows:
        batch.append(BatchExpectation("D-S1", "hold", "file truncated: checksum and rows differ"))
    if options.arrival_delay_days > 6:
        batch.append(
            BatchExpectation(
                "D-L1",
                "hold",
                f"file dated {day} arrives {options.arrival_delay_days + 1} days later",
            )
        )
    if (
        options.encoding != encodings.UTF8
        or options.delimiter != ","
        or options.shuffle_columns
        or options.manifest == "wrong_encoding"
    ):
        batch.append(
            BatchExpectation(
                "D-K1", "fix", "read right whatever the encoding, delimiter or column order"
            )
        )
    return tuple(batch)


def _manifest(
    options: DeliveryOptions, csv_name: str, data: bytes, rows: int, day: date
) -> bytes | None:
    if options.manifest == "missing":
        return None
    claim = _MANIFEST_CLAIM[options.encoding]
    if options.manifest == "wrong_encoding":
        claim = (
            "windows-1258" if options.encoding in (encodings.UTF8, encodings.UTF8_SIG) else "utf-8"
        )
    sha256 = hashlib.sha256(data).hexdigest()
    if options.manifest == "wrong_sha256":
        sha256 = hashlib.sha256(data + b"\n").hexdigest()
    exported = datetime.combine(day, time(23, 30), UTC) - _LOCAL
    document = {
        "file": csv_name,
        "rows": rows + (3 if options.manifest == "wrong_rows" else 0),
        "sha256": sha256,
        "exported_at": exported.strftime(_STAMP),
        "encoding": claim,
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def same_file_again(delivery: DossierDelivery) -> DossierDelivery:
    """The same file delivered a second time: byte for byte the same; it must load once."""
    return replace(
        delivery,
        batch=(BatchExpectation("D-K2", "skip", "the same file delivered again"),),
    )


def corrected_redelivery(delivery: DossierDelivery, *, seed: int = 1) -> DossierDelivery:
    """The same file name delivered again with corrected content: every defect repaired
    (the rows become clean), and some dossiers moved on (processing → completed). Its rows
    replace those of the delivery it corrects (rule D-K2)."""
    rng = random.Random(f"redelivery:{delivery.csv_name}:{seed}")
    factory_end = datetime.combine(delivery.day, time(23, 0), UTC) - _LOCAL
    rows: list[tuple[dict[str, str], str | None]] = []
    seen: set[str] = set()
    for row, planted in zip(delivery.rows, delivery.planted, strict=True):
        if planted is not None and planted != "D-C4":
            continue  # the defective rows are corrected away at the source
        fixed = dict(row)
        if fixed["dossier_id"] in seen:
            continue
        seen.add(fixed["dossier_id"])
        if fixed["status"] == "processing" and rng.random() < 0.5:
            received = _moment(fixed["received_at"])
            span = max(int((factory_end - received).total_seconds()), 60)
            fixed["status"] = "completed"
            fixed["completed_at"] = (received + timedelta(seconds=rng.randint(60, span))).strftime(
                _STAMP
            )
        rows.append((fixed, planted))
    notes = {id(row): rng.choice(_NOTES) for row, _ in rows}
    options = replace(delivery.options, truncate=False, manifest="ok", empty=None)
    again = _deliver(
        delivery.province_code, delivery.day, options, rng, rows, notes, delivery.columns
    )
    return replace(
        again,
        arrival=delivery.arrival + timedelta(days=1),
        batch=(
            *again.batch,
            BatchExpectation("D-K2", "fix", "corrected file: its rows replace the earlier ones"),
        ),
    )
