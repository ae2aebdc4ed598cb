"""Taking files from a landing area, one delivery per batch, exactly once per content; and
moving them on once their batch has an outcome.

A run of a file source takes the next *ready* delivery, oldest first (by the date its name
carries, then by name), or nothing. Before that it accounts for everything else it sees: a
dossier CSV without its manifest *waits* (recorded with the time it was first seen, reported
with how long it has waited), for `WAIT_LIMIT` at most: then it is taken without, and rule
D-S1 holds its batch ("no manifest") for an operator, rather than wait unseen for ever; a file
whose name is not the source's is left where it is and recorded as *ignored*; a delivery whose bytes an earlier delivery of the source
already had (published, held or being read; not rejected) is a *duplicate*: recorded, moved
to the archive, nothing loaded (exactly once per file content). A retried run finds the
delivery its run took (the ledger keys it by the run).

Once the batch is held, published or rejected, ``settle_files`` (the datasets'
``after_outcome``) moves the delivery's files beside the landing folder: ``_held`` (an
operator decides; approving publishes the batch and moves the files to ``_archive``,
rejecting moves them to ``_rejected`` with a ``<file>.reason.txt``), ``_archive`` or
``_rejected``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import psycopg

from lienthong.landing import ledger
from lienthong.landing.area import PLACES, LandingArea, LandingFile
from lienthong.landing.file_names import FileNameError
from lienthong.pipeline.extraction import ExtractRequest

log = logging.getLogger(__name__)

_HASH_BLOCK = 1 << 20

#: How long a delivery waits for what completes it (a dossier CSV for its manifest) before it
#: is taken without: a day, the rhythm of the exports.
WAIT_LIMIT = timedelta(hours=24)


@dataclass(frozen=True)
class Delivery:
    """One delivery as the landing folder shows it.

    Attributes:
        name: the data file's name (for a manifest without its CSV, the CSV it announces).
        period: the date the name carries (day of an export, first day of a report month).
        data: the data file, None when only its manifest is there.
        manifest: the file that completes it (a dossier manifest), if any.
        waiting_for: what it waits for before it may be taken; None when it is ready.
    """

    name: str
    period: date
    data: LandingFile | None
    manifest: LandingFile | None = None
    waiting_for: str | None = None


@dataclass(frozen=True)
class Stray:
    """A file of the landing folder that is not one of the source's deliveries."""

    file: LandingFile
    reason: str


#: Turns the files of a landing folder into deliveries and strays (dataset-specific names).
Grouping = Callable[[str | None, list[LandingFile]], tuple[list[Delivery], list[Stray]]]


def named_files(
    province: str | None, files: list[LandingFile], parse: Callable[[str], Any]
) -> tuple[list[tuple[LandingFile, Any]], list[Stray]]:
    """The files whose name ``parse`` reads as the province's (with what it read), and the
    strays: a name it refuses (``FileNameError``), or another province's file."""
    named: list[tuple[LandingFile, Any]] = []
    strays: list[Stray] = []
    for file in files:
        try:
            name = parse(file.name)
        except FileNameError as error:
            strays.append(Stray(file, str(error)))
            continue
        if province is not None and name.province_code != province:
            strays.append(
                Stray(file, f"a file of province {name.province_code} in the folder of {province}")
            )
            continue
        named.append((file, name))
    return named, strays


@dataclass(frozen=True)
class Taken:
    """The delivery a run took: its ledger row, its files, and its landing area."""

    record: dict[str, Any]
    delivery: Delivery
    area: LandingArea

    @property
    def file_no(self) -> int:
        return self.record["file_no"]


def _hidden(name: str) -> bool:
    # Dot files and Office lock files ("~$name.xlsx") are a writer's own, never deliveries.
    return name.startswith((".", "~$"))


def sha256_of(file: LandingFile) -> str:
    """The SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with file.path.open("rb") as stream:
        while block := stream.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _age(since: datetime, now: datetime) -> str:
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days {hours % 24} h"


def take_next(request: ExtractRequest, dataset: str, grouping: Grouping) -> Taken | None:
    """The delivery this run reads: the one it took before (a retry), else the next ready one;
    None when none is ready. Waiting, stray and duplicate files are recorded on the way.

    Raises:
        FileNotFoundError: the delivery a retried run took is no longer where the ledger says.
    """
    source, conn, now = request.source, request.conn, request.now
    if source.path is None:
        raise ValueError(f"{source.key}: a file source needs a path")
    area = LandingArea(source.path)
    again = ledger.taken_by(conn, request.batch_key)
    if again is not None:
        return _retaken(area, again)

    files = [f for f in area.files() if not _hidden(f.name)]
    deliveries, strays = grouping(source.province, files)
    common = {"source": source.key, "dataset": dataset, "province": source.province}
    with conn.transaction():
        for stray in strays:
            ledger.record_pending(
                conn,
                outcome="ignored",
                **common,
                name=stray.file.name,
                period=None,
                landing=area.url,
                location=stray.file.location,
                size=stray.file.size,
                modified_at=stray.file.modified_at,
                now=now,
                reason=f"{stray.reason}; left where it is",
            )
            log.warning("%s: %s: %s; left where it is", source.key, stray.file.name, stray.reason)
        waiting = [d for d in deliveries if d.waiting_for is not None]
        waited_enough: list[Delivery] = []
        for delivery in waiting:
            assert delivery.data is not None
            row = ledger.record_pending(
                conn,
                outcome="waiting",
                **common,
                name=delivery.name,
                period=delivery.period,
                landing=area.url,
                location=delivery.data.location,
                size=delivery.data.size,
                modified_at=delivery.data.modified_at,
                now=now,
                reason=f"waits for {delivery.waiting_for}",
            )
            if now - row["first_seen"] >= WAIT_LIMIT:
                log.warning(
                    "%s: %s has waited for %s since %s UTC (%s): taken without it, for an "
                    "operator to decide",
                    source.key,
                    delivery.name,
                    delivery.waiting_for,
                    f"{row['first_seen']:%Y-%m-%d %H:%M}",
                    _age(row["first_seen"], now),
                )
                waited_enough.append(replace(delivery, waiting_for=None))
                continue
            log.warning(
                "%s: %s waits for %s since %s UTC (%s); it is not loaded until then (or for "
                "%s, then taken without it)",
                source.key,
                delivery.name,
                delivery.waiting_for,
                f"{row['first_seen']:%Y-%m-%d %H:%M}",
                _age(row["first_seen"], now),
                _age(now - WAIT_LIMIT, now),
            )
        # A waiting file whose manifest came is taken below; one no longer there is gone.
        present = {d.name for d in deliveries if d.data is not None}
        ledger.mark_gone(conn, source.key, present, now)

    ready = sorted(
        [*(d for d in deliveries if d.waiting_for is None), *waited_enough], key=_oldest_first
    )
    for delivery in ready:
        taken = _take_or_skip(request, dataset, area, delivery)
        if taken is not None:
            return taken
    return None


def _oldest_first(delivery: Delivery) -> tuple:
    return (delivery.period, delivery.name)


def _retaken(area: LandingArea, record: dict[str, Any]) -> Taken:
    """The delivery a retried run took, from where the ledger says its files are."""

    def file_at(location: str | None) -> LandingFile | None:
        if location is None:
            return None
        path = area.path_of(location)
        if not path.exists():
            raise FileNotFoundError(
                f"{record['source']}: {path} was taken by {record['batch_key']} and is no "
                "longer there; nothing moves a taken file but its batch's outcome"
            )
        stat = path.stat()
        return LandingFile(path.name, path, int(stat.st_size), record["modified_at"])

    delivery = Delivery(
        name=record["name"],
        period=record["period"],
        data=file_at(record["location"]),
        manifest=file_at(record["manifest_location"]),
    )
    log.info("%s: this run took %s before; reading it again", record["source"], record["name"])
    return Taken(record, delivery, area)


def _take_or_skip(
    request: ExtractRequest, dataset: str, area: LandingArea, delivery: Delivery
) -> Taken | None:
    """Take a ready delivery, or record it as a duplicate (moved to the archive) and go on."""
    source, conn, now = request.source, request.conn, request.now
    sha256 = sha256_of(delivery.data) if delivery.data else None
    waited = ledger.pending(conn, source.key, delivery.name)
    common = {
        "source": source.key,
        "dataset": dataset,
        "province": source.province,
        "name": delivery.name,
        "period": delivery.period,
        "landing": area.url,
        "manifest_name": delivery.manifest.name if delivery.manifest else None,
        "manifest_location": delivery.manifest.location if delivery.manifest else None,
        "modified_at": delivery.data.modified_at if delivery.data else None,
        "now": now,
    }
    file_no = waited["file_no"] if waited else None
    if delivery.data is not None:
        unmoved = ledger.unmoved_duplicate(conn, source.key, delivery.data.location)
        if unmoved is not None:
            # Recorded as a duplicate by a run that stopped before moving it.
            _move(conn, area, unmoved, "duplicate", unmoved["reason"])
            return None
    if sha256 is not None:
        earlier = ledger.same_content(conn, source.key, sha256)
        again = [r for r in earlier if r["outcome"] == "taken" and r["name"] == delivery.name]
        if again:
            # This very delivery, taken by a run that did not finish: take it anew.
            file_no = again[0]["file_no"]
        elif earlier:
            assert delivery.data is not None
            record = ledger.record_duplicate(
                conn,
                **common,
                location=delivery.data.location,
                size=delivery.data.size,
                sha256=sha256,
                duplicate_of=earlier[0],
                waited=waited,
            )
            log.warning("%s: %s is %s", source.key, delivery.name, record["reason"])
            _move(conn, area, record, "duplicate", record["reason"])
            return None
    previous = ledger.earlier_of_name(conn, source.key, delivery.name)
    corrects = None
    if previous is not None and previous["file_no"] != file_no:
        corrects = previous["file_no"]
    record = ledger.take(
        conn,
        file_no=file_no,
        **common,
        location=delivery.data.location if delivery.data else None,
        size=delivery.data.size if delivery.data else None,
        sha256=sha256,
        batch_key=request.batch_key,
        corrects=corrects,
    )
    log.info(
        "%s: taking %s (delivery %s%s)",
        source.key,
        delivery.name,
        record["file_no"],
        f", a redelivery with other content than delivery {corrects}" if corrects else "",
    )
    return Taken(record, delivery, area)


def _move(
    conn: psycopg.Connection,
    area: LandingArea,
    record: dict[str, Any],
    outcome: str,
    reason: str | None,
) -> dict[str, str | None]:
    """Move a delivery's files to where ``outcome`` puts them and record it."""
    place = PLACES[outcome]
    moved: dict[str, str | None] = {}
    for column in ("location", "manifest_location"):
        location = record[column]
        moved[column] = (
            area.move(location, place, record["file_no"]) if location is not None else None
        )
    ledger.settle(
        conn,
        record["file_no"],
        outcome=outcome,
        location=moved["location"],
        manifest_location=moved["manifest_location"],
        reason=reason,
    )
    return moved


def settle_files(conn: psycopg.Connection, batch: dict[str, Any], note: str | None) -> None:
    """Move a batch's delivery to where its outcome puts it (``Dataset.after_outcome`` of the
    file datasets): held → ``_held``, published → ``_archive``, rejected → ``_rejected`` with
    ``<file>.reason.txt`` naming the rules that failed and the operator's reason."""
    record = ledger.of_batch(conn, batch["batch_no"])
    if record is None:
        return
    outcome = batch["status"]
    area = LandingArea(record["landing"])
    if outcome == "held":
        reason = f"batch {batch['batch_no']} on hold:\n{batch['hold_reason']}"
    elif outcome == "published":
        reason = f"published by batch {batch['batch_no']}" + (f"; {note}" if note else "")
    else:
        reason = f"batch {batch['batch_no']} rejected:\n{batch['hold_reason'] or note or ''}"
    moved = _move(conn, area, record, outcome, reason)
    if outcome == "rejected":
        # Beside the data file, or beside the manifest that came without it.
        name = record["name"] if moved["location"] else record["manifest_name"] or record["name"]
        area.write_reason(
            PLACES[outcome], record["file_no"], name, _reason_text(record, batch, note)
        )


def _reason_text(record: dict[str, Any], batch: dict[str, Any], note: str | None) -> str:
    lines = [
        f"{record['name']}: delivery {record['file_no']} of {record['source']}, "
        f"first seen {record['first_seen']:%Y-%m-%d %H:%M} UTC, read into batch "
        f"{batch['batch_no']}, which was rejected.",
        "",
        "Why it was held (the rules that failed, and what they found):",
    ]
    held = (batch["hold_reason"] or "").splitlines()
    lines += [f"  {line}" for line in held if line and not line.startswith("rejected by")]
    decision = note or next((line for line in held if line.startswith("rejected by")), None)
    if decision:
        lines += ["", "Decision:", f"  {decision}"]
    return "\n".join(lines) + "\n"


def describe(taken: Taken) -> str:
    """A delivery, for logs and the batch's record."""
    data = taken.delivery.data
    size = f", {data.size} bytes" if data else ", no data file"
    return f"{taken.area.url}/{taken.delivery.name} (delivery {taken.file_no}{size})"


class TakenFileExtraction:
    """What every file source's extraction shares: one taken delivery read as one batch.

    A dataset's subclass reads the delivery in ``chunks`` and leaves what reading it
    established in ``read_facts``; ``finish`` (called by the staging loop once every chunk is
    staged) binds the ledger entry to the batch with those facts, in the staging transaction,
    so that they are there exactly when the rows are.
    """

    mode = "file"
    announced_total: int | None = None
    window_end: datetime | None = None
    window_closed = False

    def __init__(self, request: ExtractRequest, taken: Taken) -> None:
        self.request = request
        self.taken = taken
        self.read_facts: dict[str, Any] | None = None

    def describe(self) -> str:
        """What is read, for logs."""
        return describe(self.taken)

    def finish(self) -> None:
        """The facts of reading the delivery to its ledger entry, bound to the batch."""
        if self.read_facts is None:
            raise RuntimeError(f"{self.describe()}: finished before its chunks were read")
        ledger.attach_batch(
            self.request.conn, self.taken.file_no, self.request.batch_key, self.read_facts
        )
