"""An independent server of the population API contract (SOURCES.md §1), written from the
contract alone, not from lienthong's demo server: it does what the contract allows and the demo
server does not (keyset cursors on (``updated_at``, ``personal_id``) that carry the walk's
``total``, a page size capped below ``limit``, records changing while a walk runs, timestamps
written as the sender likes within RFC 3339, faults served on demand).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: str) -> datetime:
    """An RFC 3339 timestamp (any fraction, Z or an offset) as an aware datetime."""
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f"not RFC 3339: {text!r}")
    day, clock, fraction, zone = match.groups()
    micro = (fraction or ".0")[1:7].ljust(6, "0")
    zone = "+00:00" if zone in "Zz" else zone
    return datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")


_EARLIEST = datetime(1, 1, 1, tzinfo=UTC)


def _key(item) -> tuple[datetime, str]:
    """An item's place in the order; a malformed item (served to test bad input) goes first."""
    try:
        return parse_rfc3339(item["updated_at"]), str(item["personal_id"])
    except (TypeError, KeyError, ValueError):
        return _EARLIEST, json.dumps(item, sort_keys=True)


class ContractServer:
    """Serve ``records`` as ``GET /v1/citizens`` on 127.0.0.1, in a thread.

    Attributes:
        records: the database; a test may change it while a walk runs (``on_page``).
        max_page: the server's own cap on a page, whatever ``limit`` asks.
        faults: answers served before the next real one: ``(status, headers, body)`` or
            the string ``"drop"`` (the connection is closed without an answer).
        on_page: called with the page number (1-based) after each page is computed.
        queries: the query parameters of every request, in order.
        headers: the request headers of every request, in order.
    """

    def __init__(self, records: list[dict], *, token: str, max_page: int = 5000) -> None:
        self.records = list(records)
        self.token = token
        self.max_page = max_page
        self.faults: list = []
        self.on_page: Callable[[int], None] | None = None
        self.queries: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.pages = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(split.query).items()}
                with server._lock:
                    server.queries.append(query)
                    server.headers.append(dict(self.headers))
                    if server.faults:
                        fault = server.faults.pop(0)
                        if fault == "drop":
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        status, headers, body = fault
                    elif split.path != "/v1/citizens":
                        status, headers, body = 404, {}, {"error": "not found"}
                    else:
                        status, headers, body = server._answer(query, self.headers)
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ContractServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def connection_uri(self) -> str:
        """The Airflow connection in URI form (``AIRFLOW_CONN_...``), token URL-encoded."""
        from urllib.parse import quote

        return f"http://:{quote(self.token, safe='')}@127.0.0.1:{self.port}"

    def _answer(self, query: dict[str, str], headers) -> tuple[int, dict, object]:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {}, {"error": "missing or wrong token"}
        try:
            limit = int(query.get("limit", "1000"))
            if not 1 <= limit <= 5000:
                raise ValueError
        except ValueError:
            return 400, {}, {"error": f"bad limit {query.get('limit')!r}"}
        bounds = {}
        for name in ("updated_since", "updated_before"):
            if name in query:
                try:
                    bounds[name] = parse_rfc3339(query[name])
                except ValueError:
                    return 400, {}, {"error": f"bad {name} {query[name]!r}"}
        province = query.get("province_code")
        if province is not None and not re.fullmatch(r"\d{2}", province):
            return 400, {}, {"error": f"bad province_code {province!r}"}
        filters = [query.get("updated_since"), query.get("updated_before"), province]

        def matches(item: dict) -> bool:
            stamp = _key(item)[0]
            if "updated_since" in bounds and stamp < bounds["updated_since"]:
                return False
            if "updated_before" in bounds and stamp >= bounds["updated_before"]:
                return False
            address = (item.get("permanent_address") if isinstance(item, dict) else None) or {}
            return province is None or address.get("province_code") == province

        matching = sorted((item for item in self.records if matches(item)), key=_key)
        after = None
        if "cursor" in query:
            try:
                state = json.loads(base64.b64decode(query["cursor"], validate=True))
                if state["f"] != filters:
                    raise ValueError
                total = state["t"]
                after = (parse_rfc3339(state["k"][0]), state["k"][1])
            except (ValueError, KeyError, TypeError):
                return 400, {}, {"error": "bad cursor"}
        else:
            total = len(matching)
        if after is not None:
            matching = [item for item in matching if _key(item) > after]
        page = matching[: min(limit, self.max_page)]
        more = len(matching) > len(page)
        next_cursor = None
        if more and page:
            last = page[-1]
            stamp, key = _key(last)
            state = {"k": [stamp.isoformat(), key], "t": total, "f": filters}
            # Base64 with '+', '/' and '=' as they come: the cursor is opaque.
            next_cursor = base64.b64encode(json.dumps(state).encode()).decode()
        self.pages += 1
        if self.on_page is not None:
            self.on_page(self.pages)
        return 200, {}, {"items": page, "next_cursor": next_cursor, "total": total}
