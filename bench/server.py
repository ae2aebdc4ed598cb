"""The population API for the benchmark: pre-encoded items served from another process.

The demo server (`lienthong_demo.ministry_server.MinistryServer`) encodes every page with
``json.dumps`` from the items it holds as dicts: about 24k items/s on this kind of machine,
slower than the sync it would feed, and a million items as dicts take gigabytes. This server
answers the same contract (SOURCES.md §1: ``updated_since``, ``updated_before``,
``province_code``, ``limit``, opaque ``cursor``, ``total``, bearer token, a ``Date`` header)
from the items' JSON lines as written to the benchmark's items file: a page is the page's lines
joined with commas, so serving costs a slice and a join, not an encoding.

It runs in its own process (`ServerProcess`), so that neither its memory nor its CPU time
counts as the measured sync's. It has none of the demo server's fault injection: the benchmark
measures the happy path.

Run by hand: ``python -m bench.server ITEMS.jsonl [CHANGES.jsonl]`` (token in
``BENCH_API_TOKEN``); it prints ``listening <port> <items>`` and serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import hashlib
import hmac
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

CITIZENS_PATH = "/v1/citizens"
MAX_LIMIT = 5000
TOKEN_ENV = "BENCH_API_TOKEN"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class BadRequest(ValueError):
    """A query the contract answers with 400."""


def _micros(text: str) -> int:
    """An RFC 3339 timestamp as integer microseconds since the epoch (exact, unlike floats)."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass
class _View:
    """Items of one filter (all, or one province) in API order, with their stamps."""

    lines: list[bytes]
    stamps: list[int]


class PreEncodedCitizens:
    """Items as JSON lines, in API order (``updated_at``, ``personal_id``), ready to page.

    Args:
        files: JSON-lines files of items; a later file's item replaces every earlier item with
            the same ``personal_id`` (how the benchmark changes records for an incremental sync).
    """

    def __init__(self, files: list[Path]) -> None:
        # personal_id -> its versions: (stamp, personal_id, province, line, arrival)
        versions: dict[str, list[tuple[int, str, str, bytes, int]]] = {}
        arrival = 0
        for number, file in enumerate(files):
            seen_here: set[str] = set()
            for line in _lines(file):
                item = json.loads(line)
                try:
                    stamp = _micros(item["updated_at"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise ValueError(f"{file}: an item without a usable updated_at: {exc}") from exc
                personal_id = str(item.get("personal_id"))
                address = item.get("permanent_address")
                province = str(address.get("province_code")) if isinstance(address, dict) else ""
                if number > 0 and personal_id not in seen_here:
                    versions.pop(personal_id, None)  # replaced by this file's version(s)
                seen_here.add(personal_id)
                row = (stamp, personal_id, province, line, arrival)
                versions.setdefault(personal_id, []).append(row)
                arrival += 1
        rows = sorted(
            (row for rows in versions.values() for row in rows), key=lambda r: (r[0], r[1], r[4])
        )
        self.everything = _View([row[3] for row in rows], [row[0] for row in rows])
        self.by_province: dict[str, _View] = {}
        for stamp, _, province, line, _ in rows:
            view = self.by_province.setdefault(province, _View([], []))
            view.lines.append(line)
            view.stamps.append(stamp)

    def __len__(self) -> int:
        return len(self.everything.lines)

    def page(self, query: str) -> bytes:
        """The 200 body for one query string; raises `BadRequest`."""
        params = {name: values[-1] for name, values in parse_qs(query).items()}
        try:
            since = _micros(params["updated_since"]) if "updated_since" in params else None
            before = _micros(params["updated_before"]) if "updated_before" in params else None
            limit = int(params.get("limit", "1000"))
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit must be 1 to {MAX_LIMIT}, got {limit}")
        province = params.get("province_code")
        view = self.everything if province is None else self.by_province.get(province)
        view = view or _View([], [])
        low = 0 if since is None else bisect.bisect_left(view.stamps, since)
        high = len(view.lines) if before is None else bisect.bisect_left(view.stamps, before)
        high = max(low, high)
        fingerprint = hashlib.sha256(
            json.dumps(
                [params.get("updated_since"), params.get("updated_before"), province]
            ).encode()
        ).hexdigest()[:16]
        start = _position(params["cursor"], fingerprint, low, high) if "cursor" in params else low
        end = min(start + limit, high)
        cursor = b"null" if end >= high else b'"' + _cursor(end, fingerprint).encode() + b'"'
        return b"".join(
            (
                b'{"items": [',
                b", ".join(view.lines[start:end]),
                b'], "next_cursor": ',
                cursor,
                b', "total": ',
                str(high - low).encode(),
                b"}",
            )
        )


def _lines(file: Path) -> Iterator[bytes]:
    with file.open("rb") as stream:
        for line in stream:
            line = line.rstrip(b"\r\n")
            if line:
                yield line


def _cursor(position: int, fingerprint: str) -> str:
    return base64.urlsafe_b64encode(f"{position}:{fingerprint}".encode()).decode().rstrip("=")


def _position(cursor: str, fingerprint: str, low: int, high: int) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        position, _, cursor_fingerprint = text.partition(":")
        value = int(position)
    except ValueError:
        raise BadRequest("bad cursor") from None
    if cursor_fingerprint != fingerprint or not low <= value <= high:
        raise BadRequest("bad cursor")
    return value


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LienthongBench/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        split = urlsplit(self.path)
        citizens: PreEncodedCitizens = self.server.citizens  # type: ignore[attr-defined]
        expected = f"Bearer {self.server.token}".encode()  # type: ignore[attr-defined]
        header = self.headers.get("Authorization", "").encode()
        if split.path != CITIZENS_PATH:
            self._send(404, b'{"error": "no such resource"}')
        elif not hmac.compare_digest(header, expected):
            self._send(401, b'{"error": "missing or wrong bearer token"}')
        else:
            try:
                self._send(200, citizens.page(split.query))
            except BadRequest as exc:
                self._send(400, json.dumps({"error": str(exc)}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def serve(files: list[Path], token: str, port: int = 0) -> None:
    """Load the items, print ``listening <port> <items>`` and serve until killed."""
    citizens = PreEncodedCitizens(files)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    httpd.daemon_threads = True
    httpd.citizens = citizens  # type: ignore[attr-defined]
    httpd.token = token  # type: ignore[attr-defined]
    print(f"listening {httpd.server_address[1]} {len(citizens)}", flush=True)
    httpd.serve_forever()


class ServerProcess:
    """`serve` in a child process, for a ``with`` block; ``port`` and ``items`` once started.

    Args:
        files: JSON-lines files of items (see `PreEncodedCitizens`).
        token: the bearer token the server expects.
    """

    def __init__(self, files: list[Path], token: str) -> None:
        self.files = files
        self.token = token
        self.port = 0
        self.items = 0
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> ServerProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.server", *map(str, self.files)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, TOKEN_ENV: self.token},
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().split()
        if len(line) != 3 or line[0] != "listening":
            self._process.kill()
            self._process.wait()
            raise RuntimeError(f"the bench API server did not start (it said {line!r})")
        self.port, self.items = int(line[1]), int(line[2])
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
            self._process = None

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    def airflow_connection(self) -> str:
        """The server as an Airflow HTTP connection in JSON (for an ``AIRFLOW_CONN_`` var)."""
        return json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": self.port,
                "schema": "http",
                "password": self.token,
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    serve(args.files, os.environ.get(TOKEN_ENV, "bench"), args.port)


if __name__ == "__main__":
    main()
