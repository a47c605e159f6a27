"""Athena stand-in: AWS JSON 1.1 routing over :mod:`local.athena` (DuckDB over S3 + Glue).

Run: ``python -m local.services.athena --host 127.0.0.1 --port 4571 --state-dir DIR``.
Clients reach it through ``AWS_ENDPOINT_URL_ATHENA``; it reaches S3 and Glue (moto) through
``AWS_ENDPOINT_URL``. ``GET /_health`` answers 200 when ready. On SIGTERM/SIGINT queued and
running queries are cancelled and executions, named queries and work groups are saved under DIR.
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.athena.api import AthenaApi
from local.athena.errors import ApiError, QueryError
from local.athena.executions import Store

log = logging.getLogger("local.services.athena")

TARGET_PREFIX = "AmazonAthena."
CONTENT_TYPE = "application/x-amz-json-1.1"


def dispatch(api: AthenaApi, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Run the operation named by ``X-Amz-Target``; returns (status, JSON body)."""
    operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
    try:
        if not operation:
            raise ApiError(f"Operation {target or '(none)'} is not supported",
                           "UnknownOperationException")
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise ApiError("Request body is not valid JSON", "SerializationException") from exc
        return 200, api.call(operation, request)
    except ApiError as exc:
        return exc.status, {"__type": exc.error_type, "message": exc.message}
    except QueryError as exc:  # e.g. an invalid S3 location in a request
        return 400, {"__type": "InvalidRequestException", "message": exc.reason}
    except Exception as exc:  # a bug: report it the way AWS reports internal errors
        log.exception("internal error in %s", operation)
        return 500, {"__type": "InternalServerException", "message": str(exc)}


def make_handler(api: AthenaApi) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class bound to ``api``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-athena"

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
                self._send(200, {"status": "ok", "service": "athena"}, "application/json")
            else:
                self._send(404, {"message": "not found"}, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = dispatch(api, self.headers.get("X-Amz-Target", ""), body)
            self._send(status, payload, CONTENT_TYPE)

    return Handler


def serve(host: str, port: int, state_dir: Path) -> None:
    """Serve until SIGTERM/SIGINT, then cancel running queries and save the state."""
    state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(str(state_dir))
    server = ThreadingHTTPServer((host, port), make_handler(AthenaApi(store)))
    server.daemon_threads = True

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("athena listening on http://%s:%s (state %s)", host, port, state_dir)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        store.shutdown()
        log.info("athena stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Amazon Athena stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    serve(args.host, args.port, args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
