"""A demo server for the Ministry population API (SOURCES.md §1), over real HTTP.

`MinistryServer` answers ``GET /v1/citizens`` exactly as the contract says, so
that the demo and the tests exercise the real client over a real socket. It is
a demo server: it holds every citizen in memory, indexed by position in
(updated_at, personal_id) order, overall and per province, so a page or a
``total`` costs a bisect, not a scan.

It can misbehave on purpose, in the ways the contract lists: a queue of
``faults`` (one consumed per request, before normal answers), a wrong
announced ``total`` (``total_offset``, rule P-S2) and a documented field
missing from every item (``drop_field``, rule P-S3).

Cursors are opaque to clients: urlsafe base64 of the position in the filtered
list plus a fingerprint of the filters. Positions, not last keys, because a
source can send two records with the same (updated_at, personal_id) (rule
P-K3) and a key cursor would skip one of them at a page boundary.

Simplification: ``province_code`` matches the code exactly as written in the
item's permanent address; the real service would match the current code of an
address the source stored with pre-2025 or unpadded codes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import hashlib
import hmac
import json
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)

CITIZENS_PATH = "/v1/citizens"
DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_PROVINCE_CODE = re.compile(r"^\d{2}$")
_STATUS_FAULTS = {"500": 500, "502": 502, "503": 503}


class BadRequest(ValueError):
    """A query parameter the contract rejects with 400; the message is the ``error`` text."""


@dataclass(frozen=True)
class ServedRequest:
    """What the server did with one request.

    Attributes:
        fault: the fault consumed by this request ("503", "hang:3", ...), or None.
        status: the status answered; None when the connection was dropped.
        query: the query string as received.
    """

    fault: str | None
    status: int | None
    query: str


@dataclass(frozen=True)
class _Fault:
    """One parsed entry of the fault queue."""

    kind: str  # "429", "500", "502", "503", "truncate", "hang", "drop", "ok"
    seconds: float  # Retry-After for 429, sleep for hang
    text: str  # as given, for the served log


def parse_fault(text: str) -> _Fault:
    """Parse one fault spec: ``429[:seconds]``, ``500``, ``502``, ``503``, ``truncate``,
    ``hang:<seconds>``, ``drop`` or ``ok``."""
    kind, _, arg = text.partition(":")
    if kind == "429":
        return _Fault(kind, float(arg) if arg else 1.0, text)
    if kind == "hang":
        if not arg:
            raise ValueError(f"fault {text!r}: hang needs seconds, e.g. 'hang:3'")
        return _Fault(kind, float(arg), text)
    if kind in _STATUS_FAULTS or kind in {"truncate", "drop", "ok"}:
        if arg:
            raise ValueError(f"fault {text!r} takes no argument")
        return _Fault(kind, 0.0, text)
    raise ValueError(f"unknown fault {text!r}")


def _parse_timestamp(name: str, value: str) -> datetime:
    """An RFC 3339 timestamp with a zone; anything else is a 400."""
    if not _RFC3339.match(value):
        raise BadRequest(f"{name} must be an RFC 3339 timestamp with a zone, got {value!r}")
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name} is not a valid timestamp: {value!r}") from exc


def _sort_key(item: dict) -> tuple[datetime, str]:
    return _parse_timestamp("updated_at", item["updated_at"]), item.get("personal_id") or ""


@dataclass(frozen=True)
class _Slice:
    """Citizens in order plus their updated_at, for bisecting one filtered view."""

    items: list[dict]
    updated_at: list[datetime]


class MinistryServer:
    """The population API on a background thread (in memory; for demos and tests).

    Args:
        citizens: API items; sorted here by (updated_at, personal_id).
        token: the bearer token clients must send.
        host, port: where to listen; port 0 picks a free port (see ``url``).
        faults: fault specs consumed one per request, in order (see `parse_fault`).
        total_offset: added to every announced ``total``.
        drop_field: a field removed from every served item.

    Attributes:
        requests_served: one `ServedRequest` per request, in arrival order.
    """

    def __init__(
        self,
        citizens: Iterable[dict],
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: Iterable[str] = (),
        total_offset: int = 0,
        drop_field: str | None = None,
    ) -> None:
        if not token:
            raise ValueError("token must not be empty")
        keyed = sorted(((_sort_key(item), item) for item in citizens), key=lambda pair: pair[0])
        self._all = _Slice([item for _, item in keyed], [key[0] for key, _ in keyed])
        by_province: dict[str, list[tuple[tuple[datetime, str], dict]]] = {}
        for key, item in keyed:
            address = item.get("permanent_address") or {}
            by_province.setdefault(str(address.get("province_code")), []).append((key, item))
        self._by_province = {
            code: _Slice([item for _, item in pairs], [key[0] for key, _ in pairs])
            for code, pairs in by_province.items()
        }
        self._token = token
        self._host = host
        self._port = port
        self._faults = [parse_fault(text) for text in faults]
        # Public: a test may change it mid-walk to make ``total`` change between pages.
        self.total_offset = total_offset
        self._drop_field = drop_field
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests_served: list[ServedRequest] = []

    # -- lifecycle ---------------------------------------------------------------

    def start(self) -> MinistryServer:
        """Bind and serve on a background thread; returns self."""
        if self._httpd is not None:
            raise RuntimeError("server already started")
        httpd = ThreadingHTTPServer((self._host, self._port), _CitizensHandler)
        # Handler threads may be sleeping in a "hang" fault; they must not hold up stop().
        httpd.daemon_threads = True
        httpd.block_on_close = False
        httpd.ministry = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self._stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            daemon=True,
            name=f"ministry-server-{httpd.server_address[1]}",
        )
        self._thread.start()
        log.info("Ministry demo server listening on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; hanging answers are cut short."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def wait(self) -> None:
        """Block until the server stops (for the CLI; Ctrl-C raises KeyboardInterrupt)."""
        while self._thread is not None and self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> MinistryServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321`` (only once started)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        """The bound port (only once started)."""
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    def status_counts(self) -> Counter[int | None]:
        """How many requests got each status (None: dropped)."""
        with self._lock:
            return Counter(served.status for served in self.requests_served)

    def faults_served(self) -> list[str]:
        """The faults consumed so far, in order."""
        with self._lock:
            return [served.fault for served in self.requests_served if served.fault is not None]

    # -- request handling (called from handler threads) ----------------------------

    def _next_fault(self) -> _Fault | None:
        with self._lock:
            return self._faults.pop(0) if self._faults else None

    def _record(self, fault: _Fault | None, status: int | None, query: str) -> None:
        with self._lock:
            self.requests_served.append(ServedRequest(fault.text if fault else None, status, query))

    def _authorized(self, header: str | None) -> bool:
        expected = f"Bearer {self._token}".encode()
        return header is not None and hmac.compare_digest(header.encode(), expected)

    def _page(self, query: str) -> dict[str, Any]:
        """The 200 body for one query string, or BadRequest."""
        params = {
            name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()
        }
        since = (
            _parse_timestamp("updated_since", params["updated_since"])
            if ("updated_since" in params)
            else None
        )
        before = (
            _parse_timestamp("updated_before", params["updated_before"])
            if ("updated_before" in params)
            else None
        )
        province = params.get("province_code")
        if province is not None and not _PROVINCE_CODE.match(province):
            raise BadRequest(f"province_code must be 2 digits, got {province!r}")
        raw_limit = params.get("limit", str(DEFAULT_LIMIT))
        try:
            limit = int(raw_limit)
        except ValueError:
            raise BadRequest(f"limit must be an integer, got {raw_limit!r}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be 1 to {MAX_LIMIT}, got {limit}")

        view = self._all if province is None else self._by_province.get(province, _Slice([], []))
        low = 0 if since is None else bisect.bisect_left(view.updated_at, since)
        high = len(view.items) if before is None else bisect.bisect_left(view.updated_at, before)
        high = max(low, high)
        fingerprint = hashlib.sha256(
            json.dumps(
                [params.get("updated_since"), params.get("updated_before"), province]
            ).encode()
        ).hexdigest()[:16]

        start = low
        if "cursor" in params:
            start = _decode_cursor(params["cursor"], fingerprint, low, high)
        end = min(start + limit, high)
        items = view.items[start:end]
        if self._drop_field is not None:
            items = [{k: v for k, v in item.items() if k != self._drop_field} for item in items]
        return {
            "items": items,
            "next_cursor": _encode_cursor(end, fingerprint) if end < high else None,
            "total": high - low + self.total_offset,
        }


def _encode_cursor(position: int, fingerprint: str) -> str:
    raw = json.dumps({"p": position, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, fingerprint: str, low: int, high: int) -> int:
    """The position a cursor points at; 400 if it is garbled or from another query."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        position = decoded["p"]
        cursor_fingerprint = decoded["f"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise BadRequest("bad cursor") from None
    if cursor_fingerprint != fingerprint:
        raise BadRequest("bad cursor: it belongs to a query with other filters")
    if type(position) is not int or not low <= position <= high:
        raise BadRequest("bad cursor")
    return position


class _CitizensHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler; the state lives on ``server.ministry``."""

    protocol_version = "HTTP/1.1"
    server_version = "MinistryDemo/1.0"
    # An idle keep-alive connection must not pin a thread forever.
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        ministry: MinistryServer = self.server.ministry  # type: ignore[attr-defined]
        split = urlsplit(self.path)
        if split.path != CITIZENS_PATH:
            self._send_json(404, {"error": f"no such resource {split.path!r}"})
            ministry._record(None, 404, split.query)
            return
        fault = ministry._next_fault()
        if fault is not None and fault.kind == "drop":
            # Close without a byte of answer: the client sees the connection drop.
            ministry._record(fault, None, split.query)
            self.close_connection = True
            return
        if fault is not None and fault.kind in _STATUS_FAULTS:
            status = _STATUS_FAULTS[fault.kind]
            ministry._record(fault, status, split.query)
            self._send_json(status, {"error": HTTPStatus(status).phrase})
            return
        if fault is not None and fault.kind == "429":
            ministry._record(fault, 429, split.query)
            seconds = fault.seconds
            retry_after = str(int(seconds)) if seconds == int(seconds) else str(seconds)
            self._send_json(429, {"error": "rate limited"}, {"Retry-After": retry_after})
            return

        status, body = self._answer(ministry, split.query)
        ministry._record(fault, status, split.query)
        # A hang cut short by stop() answers nothing.
        if fault is not None and fault.kind == "hang" and ministry._stopping.wait(fault.seconds):
            self.close_connection = True
            return
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        if fault is not None and fault.kind == "truncate" and status == 200:
            payload = payload[: len(payload) // 2]
        self._send_bytes(status, payload)

    def _answer(self, ministry: MinistryServer, query: str) -> tuple[int, dict[str, Any]]:
        if not ministry._authorized(self.headers.get("Authorization")):
            return 401, {"error": "missing or wrong bearer token"}
        try:
            return 200, ministry._page(query)
        except BadRequest as exc:
            return 400, {"error": str(exc)}

    def _send_json(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._send_bytes(status, json.dumps(body, ensure_ascii=False).encode("utf-8"), headers)

    def _send_bytes(
        self, status: int, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="population"')
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (e.g. its read timeout fired during a hang): nothing to answer.
            self.close_connection = True


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str,
    count: int = 10_000,
    seed: int = 6,
    defect_rate: float = 0.0,
    now: datetime | None = None,
) -> None:
    """Serve generated citizens until interrupted (``lienthong-demo serve-ministry``).

    Args:
        host, port: where to listen.
        token: the bearer token clients must send.
        count, seed, defect_rate: passed to the population generator.
        now: the generator's "now" (its default when None).
    """
    # Imported here: the generator is only needed when serving, not on import.
    from lienthong_demo.citizens import generate_citizens

    options: dict[str, Any] = {"seed": seed, "defect_rate": defect_rate}
    if now is not None:
        options["now"] = now
    citizens = [generated.item for generated in generate_citizens(count, **options)]
    with MinistryServer(citizens, token=token, host=host, port=port) as server:
        print(f"Ministry population API (demo) at {server.url} with {len(citizens)} citizens")
        with contextlib.suppress(KeyboardInterrupt):
            server.wait()
