"""Firehose stand-in: AWS JSON 1.1 routing over :class:`local.firehose.FirehoseEngine`.

Run: ``python -m local.services.firehose --host 127.0.0.1 --port 4570 --state-dir DIR``.
Clients reach it through ``AWS_ENDPOINT_URL_FIREHOSE``; it reaches S3 through
``AWS_ENDPOINT_URL`` and OpenSearch through ``OPENSEARCH_ENDPOINT``. ``GET /_health`` answers
200 when ready. SIGTERM/SIGINT flush every buffer to its destination before exiting.
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

from local.firehose import FirehoseEngine, FirehoseError
from local.firehose.errors import UnknownOperationError

log = logging.getLogger("local.services.firehose")

TARGET_PREFIX = "Firehose_20150804."
CONTENT_TYPE = "application/x-amz-json-1.1"
OPERATIONS = {
    "CreateDeliveryStream": "create_delivery_stream",
    "DescribeDeliveryStream": "describe_delivery_stream",
    "ListDeliveryStreams": "list_delivery_streams",
    "DeleteDeliveryStream": "delete_delivery_stream",
    "PutRecord": "put_record",
    "PutRecordBatch": "put_record_batch",
    "ListTagsForDeliveryStream": "list_tags_for_delivery_stream",
}


def dispatch(engine: FirehoseEngine, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Run the operation named by ``X-Amz-Target``; returns (status, JSON body)."""
    operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
    method = OPERATIONS.get(operation)
    try:
        if method is None:
            raise UnknownOperationError(f"Operation {target or '(none)'} is not supported")
        try:
            request = json.loads(body or b"{}")
        except ValueError as exc:
            raise UnknownOperationError("Request body is not valid JSON") from exc
        return 200, getattr(engine, method)(request)
    except FirehoseError as exc:
        return exc.status, {"__type": exc.code, "message": exc.message}
    except Exception as exc:  # a bug: report it the way AWS reports internal errors
        log.exception("internal error in %s", operation)
        return 500, {"__type": "ServiceUnavailableException", "message": str(exc)}


def make_handler(engine: FirehoseEngine) -> type[BaseHTTPRequestHandler]:
    """An HTTP handler class bound to ``engine``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "local-firehose"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, payload: dict[str, Any], content_type: str) -> None:
            data = json.dumps(payload).encode()
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
                self._send(200, {"status": "ok", "service": "firehose"}, "application/json")
            else:
                self._send(404, {"message": "not found"}, "application/json")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, payload = dispatch(engine, self.headers.get("X-Amz-Target", ""), body)
            self._send(status, payload, CONTENT_TYPE)

    return Handler


def serve(host: str, port: int, state_dir: Path) -> None:
    """Serve until SIGTERM/SIGINT, then flush buffers and persist."""
    engine = FirehoseEngine(state_dir, region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    server = ThreadingHTTPServer((host, port), make_handler(engine))
    server.daemon_threads = True

    def stop(signum: int, _frame: Any) -> None:
        log.info("signal %s: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("firehose listening on http://%s:%s (state %s)", host, port, state_dir)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        engine.close(flush=True)
        log.info("firehose stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local Amazon Data Firehose stand-in")
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
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per _bulk otherwise
    serve(args.host, args.port, args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
