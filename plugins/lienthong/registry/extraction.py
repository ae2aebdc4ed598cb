"""Windowed, exactly-once extraction of a registry's ``civil_events`` table (rule E-L1).

The window
----------
Each extraction reads the half-open window ``window_start <= updated_at < window_end``, in one
consistent snapshot, and the next extraction starts where this one ended (``since`` = the
previous ``window_end``, kept by the caller as the watermark; None on the first run reads from
the beginning). ``window_end`` is the registry server's own clock minus ``commit_lag``, floored
to the second, and the clock is read no later than the snapshot is taken.

Why no row version is missed or read twice
------------------------------------------
1. *Twice*: windows are disjoint half-open intervals of ``updated_at``, and one snapshot holds
   at most one version of a row, so a version ``(event_id, updated_at)`` lies in exactly one
   window and is read at most once. (Two versions of one row stamped in the same second, as
   a MySQL ``TIMESTAMP`` holds whole seconds, share one key; the window's snapshot holds the
   later one, by the argument below.)
2. *Missed*: the contract says a writer commits at most 60 s after it set ``updated_at`` and
   that the registry's clocks agree within seconds; ``commit_lag`` (default 120 s) covers both.
   A version with ``updated_at < window_end = clock - commit_lag`` therefore committed before
   ``clock``, hence before the snapshot: the window is complete, and no later commit can add
   a version to it (it is *settled*). Every version that is still a row's current version
   when its window is read is read; a version replaced before then is not needed, because
   its replacement carries a newer ``updated_at`` and so lies in the same or a later window.
   The final version of every row lies in some window and is current in every later
   snapshot, so it is read, once. Corrections and soft deletes are new versions like any
   other; hard deletes are outside the contract and invisible to any ``updated_at`` read.
3. The announced total is ``COUNT(*)`` of the window in the same snapshot, so ``received ==
   announced`` holds unless rows were lost between the server and the caller.

What breaks it, and what is done about it: a commit later than ``commit_lag`` after its
``updated_at`` (outside the contract) is missed; raise ``commit_lag`` for such a registry. A row
with a NULL ``updated_at`` (only possible in a looser schema than the contract's) lies in no
window: it is counted (``null_updated_at``) so the caller can hold the batch rather than lose it
silently. So is a row stamped after the source's own clock (``future_updated_at``, beyond
the clock skew rule P-L2 allows: a mistyped year, PostgreSQL's ``infinity``), which no window
reaches until that moment, if ever. If the clock minus the lag is not after ``since`` (clock
set back, lag raised), the window is empty and nothing is read backwards.

Checking it at run time: the argument rests on the contract's 60 s. To *see* a registry break
it, pass ``recheck_from`` (e.g. the start of the previous window, or a day back): the keys of
every row now in ``[recheck_from, since)`` are listed from the same snapshot. Rows never enter
a past window under the contract (a new version carries a newer ``updated_at``), so each key
there must be one the caller already received; a key it never received is a version that
committed later than ``commit_lag`` after its ``updated_at`` and was missed by its window: the
caller holds the batch (rule E-L1) and re-reads from ``recheck_from`` with a longer lag.

A retried task must read the same window: pass the batch's recorded ``window_end`` as
``until``; it is refused if it is not settled yet (later than the clock minus the lag).

Snapshot and clock, per engine
------------------------------
- PostgreSQL: ``REPEATABLE READ READ ONLY`` transaction; its first statement reads ``now()``
  (the transaction's start, which precedes the snapshot the statement takes).
- MySQL/MariaDB (InnoDB): ``UTC_TIMESTAMP(6)`` is read, then ``START TRANSACTION WITH
  CONSISTENT SNAPSHOT, READ ONLY`` takes the snapshot at once, in the session's REPEATABLE
  READ level. Reading the clock inside the transaction would put it after the snapshot (by
  milliseconds, which the lag's margin absorbs); reading it just before keeps the argument
  exact.

Rows stream through a server-side cursor (psycopg named cursor, PyMySQL ``SSCursor``) in
chunks of ``chunk_size``, ordered by (``updated_at``, ``event_id``): memory stays flat whatever
the table's size.

Items
-----
One dict per row: contract column → value as the driver returned it, except that naive
datetimes (UTC by contract) become aware UTC, a contract boolean column's ``0``/``1`` (MySQL's
BOOLEAN is TINYINT(1)) becomes ``False``/``True``, and binary values (a BLOB or BIT column where
the contract has text) become text, decoded as UTF-8 with invalid bytes kept as lone surrogates.
Anything else unexpected is kept as it came (``2`` in ``is_deleted``, ``'0000-00-00'`` or
``'2024-02-30'`` as a string for a MariaDB zero or invalid date, a 300-character name, a NUL
character) so that the caller's contract check can quarantine it (rule E-K3). Columns the
table has beyond the contract are reported (``extra_columns``) and carried in every item.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from lienthong.pipeline.publish import CLOCK_SKEW
from lienthong.registry.hook import RegistryError, RegistryHook, server_clock_sql

log = logging.getLogger(__name__)

TABLE = "civil_events"

#: The contract's columns (SOURCES.md §2), in its order.
DOCUMENTED_COLUMNS = (
    "event_id",
    "event_type",
    "personal_id",
    "full_name",
    "event_date",
    "commune_code",
    "registered_at",
    "updated_at",
    "is_deleted",
)

#: Without these there is no incremental read at all.
REQUIRED_COLUMNS = ("event_id", "updated_at")

#: Columns the contract types BOOLEAN.
BOOLEAN_COLUMNS = frozenset({"is_deleted"})

#: 60 s of commit delay (the contract's maximum) plus clock skew, with room to spare.
DEFAULT_COMMIT_LAG = timedelta(seconds=120)

DEFAULT_CHUNK_SIZE = 5000


class RegistrySchemaError(RegistryError):
    """The registry's table is missing, or lacks a column without which it cannot be read."""


class RegistryWindowError(RegistryError):
    """The window asked for is not settled yet (rows up to its end may still commit)."""


@dataclass(frozen=True)
class RegistryWindow:
    """What one extraction read, for the caller to record with its batch.

    Attributes:
        conn_id: the Airflow connection id.
        table: the table read (``schema.table`` when a schema was given).
        engine_name: ``postgresql``, ``mariadb`` or ``mysql``, as the server reports itself.
        window_start: inclusive lower bound on ``updated_at`` (None: from the beginning).
        window_end: exclusive upper bound; the next extraction's ``since``.
        source_clock: the registry server's clock (UTC) when the snapshot was taken.
        commit_lag: how far behind the clock the window ends.
        announced_total: rows of the window in the snapshot (what must be received).
        missing_columns: documented columns the table lacks (the caller holds the batch).
        extra_columns: columns beyond the contract, carried in every item.
        null_updated_at: rows with no ``updated_at`` (a looser schema), which no window holds.
        future_updated_at: rows stamped after the source clock by more than the skew rule
            P-L2 allows (`lienthong.pipeline.publish.CLOCK_SKEW`), which no window holds until
            then.
        empty_reason: why nothing was read without looking, or None.
        recheck_from: start of the re-checked past, when one was asked for.
        recheck_keys: ``(event_id, updated_at)`` of every row now in ``[recheck_from,
            window_start)``, in the same snapshot: each must have been read by an earlier
            window; one that was not committed later than the commit lag allows (E-L1).
    """

    conn_id: str
    table: str
    engine_name: str
    window_start: datetime | None
    window_end: datetime
    source_clock: datetime
    commit_lag: timedelta
    announced_total: int
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    null_updated_at: int = 0
    future_updated_at: int = 0
    empty_reason: str | None = None
    recheck_from: datetime | None = None
    recheck_keys: tuple[tuple[str, datetime], ...] = ()


@dataclass
class _Columns:
    """The table's columns matched to the contract's."""

    selected: list[tuple[str, str]] = field(default_factory=list)  # (item key, table column)
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    updated_at_nullable: bool = False


def _naive_utc(moment: datetime | None, name: str) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC).replace(tzinfo=None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def normalise_value(column: str, value: Any) -> Any:
    """A driver value as an item holds it (see the module docstring, Items)."""
    if isinstance(value, datetime):
        return _aware(value)
    if column in BOOLEAN_COLUMNS:
        if type(value) is int and value in (0, 1):
            return bool(value)
        if isinstance(value, bytes | bytearray) and bytes(value) in (b"\x00", b"\x01"):
            return bytes(value) == b"\x01"  # BIT(1)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "surrogateescape")
    return value


class RegistryExtraction:
    """Read one settled window of a registry's ``civil_events``, in chunks, in one snapshot.

    Use as a context manager (or call ``close``)::

        with RegistryExtraction("registry_01", since=watermark) as extraction:
            window = extraction.open()          # optional: chunks() opens when needed
            for chunk in extraction.chunks():   # lists of dicts, at most chunk_size each
                ...
        extraction.window.window_end            # the next run's since

    Args:
        conn_id: the registry's Airflow connection id.
        since: inclusive lower bound on ``updated_at`` (timezone-aware), the previous window's
            end; None reads from the beginning.
        until: the window's end, to re-read a window already recorded (a retried task);
            default: the source clock minus ``commit_lag``.
        commit_lag: how far behind the source clock the window ends: at least the longest
            commit delay plus clock skew (the contract: 60 s plus a few seconds).
        chunk_size: rows per chunk.
        table: the table name.
        schema: the table's schema (PostgreSQL) or database (MySQL), when not the default.
        recheck_from: also list the keys of the rows now in ``[recheck_from, since)``, the
            recent past earlier windows read (``RegistryWindow.recheck_keys``), so the caller
            can prove nothing arrived there after it was read.
        hook: a ready `RegistryHook` (tests, demo); default: one for ``conn_id``.
    """

    def __init__(
        self,
        conn_id: str,
        *,
        since: datetime | None,
        until: datetime | None = None,
        commit_lag: timedelta = DEFAULT_COMMIT_LAG,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        table: str = TABLE,
        schema: str | None = None,
        recheck_from: datetime | None = None,
        hook: RegistryHook | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if commit_lag < timedelta(0):
            raise ValueError(f"commit_lag must not be negative, got {commit_lag}")
        self.conn_id = conn_id
        self.since = _naive_utc(since, "since")
        self.until = _naive_utc(until, "until")
        self.recheck_from = _naive_utc(recheck_from, "recheck_from")
        if self.recheck_from is not None and (self.since is None or self.recheck_from > self.since):
            raise ValueError("recheck_from needs a since, and must not be after it")
        self.commit_lag = commit_lag
        self.chunk_size = chunk_size
        self.table = table
        self.schema = schema
        self.hook = hook or RegistryHook(conn_id)
        self.received = 0
        self._window: RegistryWindow | None = None
        self._stack: ExitStack | None = None
        self._conn: sa.Connection | None = None
        self._columns: _Columns | None = None
        self._table: Any = None
        self._order: tuple[Any, ...] = ()
        self._where: Any = None
        self._exhausted = False

    # -- facts about the read ----------------------------------------------------------------

    @property
    def window(self) -> RegistryWindow:
        """The window's facts; available once ``open`` has run (``chunks`` runs it)."""
        if self._window is None:
            raise RuntimeError("the extraction is not open yet: call open() or chunks() first")
        return self._window

    @property
    def window_start(self) -> datetime | None:
        return self.window.window_start

    @property
    def window_end(self) -> datetime:
        return self.window.window_end

    @property
    def announced_total(self) -> int:
        return self.window.announced_total

    @property
    def missing_columns(self) -> tuple[str, ...]:
        return self.window.missing_columns

    @property
    def extra_columns(self) -> tuple[str, ...]:
        return self.window.extra_columns

    @property
    def engine_name(self) -> str:
        return self.window.engine_name

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> RegistryExtraction:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> RegistryWindow:
        """Connect, check the table, take the snapshot, fix the window and count it.

        Raises:
            RegistrySchemaError: the table is missing, or lacks ``event_id`` or ``updated_at``.
            RegistryWindowError: ``until`` is later than the source clock minus the lag.
            RegistryConnectionError: the server cannot be reached or refused the account.
            RegistryError: the server failed a query (its message quoted, password masked).
        """
        if self._window is not None:
            return self._window
        stack = ExitStack()
        try:
            conn = stack.enter_context(self.hook.connect())
            self._stack, self._conn = stack, conn
            with self._driver_errors():
                self._window = self._open(conn)
        except BaseException:
            self._conn = None
            self._stack = None
            stack.close()
            raise
        return self._window

    def chunks(self) -> Iterator[list[dict[str, Any]]]:
        """Yield the window's rows as lists of item dicts, ordered by (updated_at, event_id).

        The connection is closed when the rows are exhausted or the iteration stops.
        """
        return self._chunks(packed=False)

    def _chunks(self, *, packed: bool) -> Iterator[list[Any]]:
        window = self.open()
        if self._exhausted:
            raise RuntimeError("the extraction's rows were already read")
        self._exhausted = True
        completed = False
        try:
            if window.empty_reason is None and window.announced_total:
                with self._driver_errors():
                    yield from self._stream(packed=packed)
            completed = True
        finally:
            self.close(abandoned=not completed)
        if self.received != window.announced_total:
            log.error(
                "registry %r: received %d rows but the snapshot counted %d in [%s, %s)",
                self.conn_id,
                self.received,
                window.announced_total,
                window.window_start,
                window.window_end,
            )

    def close(self, *, abandoned: bool = False) -> None:
        """End the snapshot and close the connection (idempotent).

        Args:
            abandoned: the stream stopped early (the caller broke off, or an error): the
                connection is dropped rather than reused. PyMySQL cannot stop an unbuffered
                result, so on MySQL the rows still in flight are read and discarded first
                (network time, no memory); on PostgreSQL the named cursor dies with the session.
        """
        conn, stack = self._conn, self._stack
        self._conn, self._stack = None, None
        if conn is None or stack is None:
            return
        try:
            if abandoned:
                conn.invalidate()
            else:
                conn.rollback()
        except sa.exc.DBAPIError as exc:
            log.warning(
                "registry %r: closing the snapshot failed: %s",
                self.conn_id,
                self.hook.describe_error(exc),
            )
        finally:
            stack.close()

    # -- the read ----------------------------------------------------------------------------

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """A driver error becomes a RegistryError naming the connection, password masked."""
        try:
            yield
        except sa.exc.DBAPIError as exc:
            raise RegistryError(
                f"registry {self.conn_id!r}, table {self._qualified_table()}: "
                f"{self.hook.describe_error(exc)}"
            ) from None

    def _qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def _open(self, conn: sa.Connection) -> RegistryWindow:
        engine_name = self.hook.server_name(conn)
        self._columns = columns = self._match_columns(conn, engine_name)
        # The inspection ran in a transaction of its own; the snapshot starts afresh.
        conn.rollback()
        clock = self._begin_snapshot(conn)
        settled_end = (clock - self.commit_lag).replace(microsecond=0)
        if self.until is not None:
            if self.until > settled_end:
                raise RegistryWindowError(
                    f"registry {self.conn_id!r}: window end {self.until:%Y-%m-%d %H:%M:%S} UTC "
                    f"is not settled yet (source clock {clock:%Y-%m-%d %H:%M:%S} UTC minus "
                    f"commit lag {self.commit_lag}); rows up to it may still commit"
                )
            window_end = self.until
        else:
            window_end = settled_end

        table = sa.table(
            self.table,
            *(sa.column(name) for _, name in columns.selected),
            schema=self.schema,
        )
        names = dict(columns.selected)
        updated_at, event_id = table.c[names["updated_at"]], table.c[names["event_id"]]
        self._table, self._order = table, (updated_at, event_id)

        empty_reason = None
        announced = 0
        if self.since is not None and window_end <= self.since:
            empty_reason = (
                f"window end {window_end:%Y-%m-%d %H:%M:%S} is not after since "
                f"{self.since:%Y-%m-%d %H:%M:%S}: the source clock minus the commit lag has "
                "not passed the previous window; nothing to read"
            )
            log.warning("registry %r: %s", self.conn_id, empty_reason)
        else:
            where = updated_at < window_end
            if self.since is not None:
                where = sa.and_(updated_at >= self.since, where)
            self._where = where
            announced = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(where)
            ).scalar_one()
        null_updated_at = 0
        if columns.updated_at_nullable:
            null_updated_at = conn.execute(
                sa.select(sa.func.count()).select_from(table).where(updated_at.is_(None))
            ).scalar_one()
            if null_updated_at:
                log.error(
                    "registry %r: %d rows of %s have no updated_at and lie in no window",
                    self.conn_id,
                    null_updated_at,
                    self._qualified_table(),
                )
        future_updated_at = conn.execute(
            sa.select(sa.func.count()).select_from(table).where(updated_at > clock + CLOCK_SKEW)
        ).scalar_one()
        if future_updated_at:
            log.error(
                "registry %r: %d rows of %s are stamped after the source clock %s (and its %s "
                "of skew): no window reads them until then",
                self.conn_id,
                future_updated_at,
                self._qualified_table(),
                clock,
                CLOCK_SKEW,
            )
        recheck_keys: tuple[tuple[str, datetime], ...] = ()
        if self.recheck_from is not None:
            past = sa.and_(updated_at >= self.recheck_from, updated_at < self.since)
            recheck_keys = tuple(
                (key, _aware(stamp))
                for key, stamp in conn.execute(
                    sa.select(event_id, updated_at).where(past).order_by(updated_at, event_id)
                )
            )
        window = RegistryWindow(
            conn_id=self.conn_id,
            table=self._qualified_table(),
            engine_name=engine_name,
            window_start=None if self.since is None else _aware(self.since),
            window_end=_aware(window_end),
            source_clock=_aware(clock),
            commit_lag=self.commit_lag,
            announced_total=announced,
            missing_columns=columns.missing,
            extra_columns=columns.extra,
            null_updated_at=null_updated_at,
            future_updated_at=future_updated_at,
            empty_reason=empty_reason,
            recheck_from=None if self.recheck_from is None else _aware(self.recheck_from),
            recheck_keys=recheck_keys,
        )
        log.info(
            "registry %r (%s): window [%s, %s) of %s, %d rows announced; source clock %s, "
            "commit lag %s",
            self.conn_id,
            engine_name,
            window.window_start,
            window.window_end,
            window.table,
            announced,
            window.source_clock,
            self.commit_lag,
        )
        return window

    def _match_columns(self, conn: sa.Connection, engine_name: str) -> _Columns:
        inspector = sa.inspect(conn)
        try:
            exists = inspector.has_table(self.table, schema=self.schema)
            if not exists:
                reflected = []
            elif conn.dialect.name == "postgresql":
                reflected = inspector.get_columns(self.table, schema=self.schema)
            else:
                reflected = self._mysql_columns(conn)
        except sa.exc.DBAPIError as exc:
            # MySQL answers "command denied" rather than admit a table the account cannot read.
            raise RegistrySchemaError(
                f"registry {self.conn_id!r}: table {self._qualified_table()} cannot be "
                f"inspected: {self.hook.describe_error(exc)}"
            ) from None
        if not exists:
            raise RegistrySchemaError(
                f"registry {self.conn_id!r}: table {self._qualified_table()} does not exist "
                "or the account cannot see it"
            )
        # MySQL column names are case-insensitive; PostgreSQL's are exact once created.
        fold = (lambda name: name.lower()) if engine_name != "postgresql" else (lambda name: name)
        by_name = {fold(column["name"]): column for column in reflected}
        missing = tuple(name for name in DOCUMENTED_COLUMNS if name not in by_name)
        for name in REQUIRED_COLUMNS:
            if name in missing:
                raise RegistrySchemaError(
                    f"registry {self.conn_id!r}: table {self._qualified_table()} has no column "
                    f"{name!r}; an incremental read needs both event_id and updated_at"
                )
        documented = set(DOCUMENTED_COLUMNS)
        extra = tuple(c["name"] for c in reflected if fold(c["name"]) not in documented)
        selected = [(name, by_name[name]["name"]) for name in DOCUMENTED_COLUMNS if name in by_name]
        selected += [(name, name) for name in extra]
        if missing:
            log.warning(
                "registry %r: table %s lacks documented columns %s",
                self.conn_id,
                self._qualified_table(),
                list(missing),
            )
        if extra:
            log.info(
                "registry %r: table %s has columns beyond the contract %s",
                self.conn_id,
                self._qualified_table(),
                list(extra),
            )
        return _Columns(
            selected=selected,
            missing=missing,
            extra=extra,
            updated_at_nullable=bool(by_name["updated_at"].get("nullable", True)),
        )

    def _mysql_columns(self, conn: sa.Connection) -> list[dict[str, Any]]:
        """The table's columns (name, nullable) from ``information_schema``, in their order.

        SQLAlchemy's MySQL reflection reads ``SHOW CREATE TABLE``, which for a view needs the
        SHOW VIEW privilege: a province that gives lienthong's account SELECT on a view named
        ``civil_events`` (and nothing else, as the contract says) could not be read at all.
        ``information_schema`` lists the columns of whatever the account may select from."""
        rows = conn.execute(
            sa.text(
                "SELECT column_name, is_nullable FROM information_schema.columns"
                " WHERE table_schema = COALESCE(:schema, DATABASE()) AND table_name = :table"
                " ORDER BY ordinal_position"
            ),
            {"schema": self.schema, "table": self.table},
        )
        return [{"name": name, "nullable": nullable == "YES"} for name, nullable in rows]

    def _begin_snapshot(self, conn: sa.Connection) -> datetime:
        """Start the read-only snapshot transaction; return the server clock (naive UTC),
        read no later than the snapshot was taken."""
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            # The first statement takes the snapshot; now() is the transaction's start.
            return conn.execute(sa.text(server_clock_sql(conn))).scalar_one()
        conn.execution_options(isolation_level="REPEATABLE READ")
        clock = conn.execute(sa.text(server_clock_sql(conn))).scalar_one()
        # Implicitly ends the transaction the clock query opened, then snapshots at once.
        conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        return clock

    @property
    def item_keys(self) -> tuple[str, ...]:
        """The keys of an item, in the order of a packed row's values (`packed_chunks`);
        known once ``open`` has run."""
        if self._columns is None:
            raise RuntimeError("the extraction is not open yet: call open() first")
        return tuple(key for key, _ in self._columns.selected)

    def packed_chunks(self) -> Iterator[list[tuple[Any, ...]]]:
        """The window's rows as the driver returned them, values in `item_keys` order, in lists
        of at most ``chunk_size``: what `chunks` yields before its items are built (by
        `registry_items`, where they are prepared). The same rules as `chunks`: read once, the
        connection closed when they are exhausted or the iteration stops."""
        return self._chunks(packed=True)

    def _stream(self, *, packed: bool) -> Iterator[list[Any]]:
        conn, columns = self._conn, self._columns
        assert conn is not None and columns is not None
        keys = self.item_keys
        statement = (
            sa.select(*(self._table.c[name] for _, name in columns.selected))
            .where(self._where)
            .order_by(*self._order)
        )
        result = conn.execution_options(stream_results=True, yield_per=self.chunk_size).execute(
            statement
        )
        for rows in result.partitions():
            chunk = [tuple(row) for row in rows] if packed else registry_items(keys, rows)
            self.received += len(chunk)
            yield chunk


def registry_items(keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """Items from driver rows whose values come in the order of ``keys`` (see the module
    docstring, Items)."""
    return [
        {key: normalise_value(key, value) for key, value in zip(keys, row, strict=True)}
        for row in rows
    ]
