"""Firehose stand-in: AWS JSON 1.1 routing over :class:`local.firehose.FirehoseEngine`.

Run: ``python -m local.services.firehose --host 127.0.0.1 --port 4570 --state-dir DIR``.
Clients reach it through ``AWS_ENDPOINT_URL_FIREHOSE``; it reaches S3 through
``AWS_ENDPOINT_URL`` and OpenSearch through ``OPENSEARCH_ENDPOINT``. ``GET /_health`` answers
200 when ready. SIGTERM/SIGINT flush every buffer to its destination before exiting.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

from local.firehose import FirehoseEngine, FirehoseError
from local.firehose.errors import UnknownOperationError
from local.services.aws_json import make_server, operation_of
from local.services.serving import configure_logging, serve_until_signal, service_parser

log = logging.getLogger("local.services.firehose")

TARGET_PREFIX = "Firehose_20150804."
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
    operation = operation_of(target, TARGET_PREFIX)
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


def main(argv: list[str] | None = None) -> int:
    args = service_parser("Local Amazon Data Firehose stand-in").parse_args(argv)
    configure_logging(args.log_level)
    logging.getLogger("opensearch").setLevel(logging.WARNING)  # one line per _bulk otherwise
    engine = FirehoseEngine(
        args.state_dir, region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    )
    server = make_server("firehose", args.host, args.port,
                         lambda target, body: dispatch(engine, target, body))
    log.info("firehose listening on http://%s:%s", args.host, args.port)
    serve_until_signal("firehose", server, on_stop=lambda: engine.close(flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
