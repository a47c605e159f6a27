"""HTTP plumbing shared by the AWS JSON 1.1 stand-ins (Firehose, Athena).

Each service keeps its own ``dispatch(target, body) -> (status, payload)`` (operation routing and
error mapping); this module serves it: ``GET /_health``, ``POST /`` with ``X-Amz-Target``,
and AWS-shaped error headers (``local.services.serving`` runs the process).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONTENT_TYPE = "application/x-amz-json-1.1"

Dispatch = Callable[[str, bytes], tuple[int, dict[str, Any]]]


def operation_of(target: str, prefix: str) -> str:
    """``"AmazonAthena.GetQueryExecution"`` -> ``"GetQueryExecution"`` ('' if foreign)."""
    return target[len(prefix) :] if target.startswith(prefix) else ""


def make_handler(service: str, dispatch: Dispatch) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class that serves ``dispatch`` with the AWS JSON 1.1 protocol."""
    log = logging.getLogger(f"local.services.{service}")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"local-{service}"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, payload: dict[str, Any], content_type: str) -> None:
            data = json.dumps(payload, default=str).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            if status >= 400 and "__type" in payload:
                self.send_header("x-amzn-ErrorType", payload["__type"])
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/_health":
                self._send(200, {"status": "ok", "service": service}, "application/json")
            else:
                self._send(404, {"message": "not found"}, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = dispatch(self.headers.get("X-Amz-Target", ""), body)
            self._send(status, payload, CONTENT_TYPE)

    return Handler


def make_server(service: str, host: str, port: int, dispatch: Dispatch) -> ThreadingHTTPServer:
    """A threaded HTTP server answering ``dispatch`` (run by ``serving.serve_until_signal``)."""
    server = ThreadingHTTPServer((host, port), make_handler(service, dispatch))
    server.daemon_threads = True
    return server
