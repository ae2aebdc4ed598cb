"""An HTTP server on loopback that answers from a script: for contract breaks no well-behaved
demo server would commit (cursor cycles, endless walks, pages of the wrong shape)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

#: (query parameters) → (status, content type, body)
Answer = Callable[[dict[str, str]], tuple[int, str, bytes]]


def json_page(items: list, next_cursor, total) -> tuple[int, str, bytes]:
    """A page of the contract's shape (whatever its values)."""
    body = json.dumps({"items": items, "next_cursor": next_cursor, "total": total})
    return 200, "application/json", body.encode()


def raw(body: str | bytes, status: int = 200, content_type: str = "application/json"):
    """An answer with this exact body."""
    return status, content_type, body.encode() if isinstance(body, str) else body


class ScriptedServer:
    """Serve ``answer`` on 127.0.0.1 in a thread; ``queries`` records what was asked."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.queries: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                server.queries.append(query)
                status, content_type, body = server.answer(query)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def connection_json(self, token: str) -> str:
        """The Airflow connection (JSON form) of this server as the Ministry API."""
        return json.dumps(
            {
                "conn_type": "http",
                "host": "127.0.0.1",
                "port": self.port,
                "schema": "http",
                "password": token,
            }
        )
