"""HTTP plumbing shared by the AWS JSON 1.1 stand-ins (Firehose, Athena).

Each service keeps its own ``dispatch(target, body) -> (status, payload)`` (operation routing and
error mapping); this module serves it: ``GET /_health``, ``POST /`` with ``X-Amz-Target``,
AWS-shaped error headers, and a clean stop on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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


def serve_until_signal(
    service: str, host: str, port: int, dispatch: Dispatch, on_stop: Callable[[], None]
) -> None:
    """Serve until SIGTERM/SIGINT, then call ``on_stop`` (flush, persist) before returning."""
    log = logging.getLogger(f"local.services.{service}")
    server = ThreadingHTTPServer((host, port), make_handler(service, dispatch))
    server.daemon_threads = True

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("%s listening on http://%s:%s", service, host, port)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        on_stop()
        log.info("%s stopped", service)


def parse_service_args(description: str, argv: list[str] | None) -> argparse.Namespace:
    """The stand-ins' common CLI (``--host --port --state-dir --log-level``) + logging set-up."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return args
