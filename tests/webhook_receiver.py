"""A webhook receiver on loopback that keeps what it is sent, for notification tests."""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class WebhookReceiver:
    """Collects the JSON bodies POSTed to it; ``connection`` is its Airflow connection."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        received = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                received.messages.append(json.loads(body))
                received.headers.append(dict(self.headers))
                self.send_response(HTTPStatus.NO_CONTENT)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/lienthong"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def connection(self) -> str:
        """The Airflow connection (JSON, for an ``AIRFLOW_CONN_*`` variable) naming this hook."""
        return json.dumps({"conn_type": "http", "host": self.url})

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
