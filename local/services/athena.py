"""Athena stand-in: AWS JSON 1.1 routing over :mod:`local.athena` (DuckDB over S3 + Glue).

Run: ``python -m local.services.athena --host 127.0.0.1 --port 4571 --state-dir DIR``.
Clients reach it through ``AWS_ENDPOINT_URL_ATHENA``; it reaches S3 and Glue (moto) through
``AWS_ENDPOINT_URL``. ``GET /_health`` answers 200 when ready. On SIGTERM/SIGINT queued and
running queries are cancelled and executions, named queries and work groups are saved under DIR.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from local.athena.api import AthenaApi
from local.athena.errors import ApiError, QueryError
from local.athena.executions import Store
from local.services.aws_json import make_server, operation_of
from local.services.serving import configure_logging, serve_until_signal, service_parser

log = logging.getLogger("local.services.athena")

TARGET_PREFIX = "AmazonAthena."


def dispatch(api: AthenaApi, target: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """Run the operation named by ``X-Amz-Target``; returns (status, JSON body)."""
    operation = operation_of(target, TARGET_PREFIX)
    try:
        if not operation:
            raise ApiError(
                f"Operation {target or '(none)'} is not supported", "UnknownOperationException"
            )
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


def main(argv: list[str] | None = None) -> int:
    args = service_parser("Local Amazon Athena stand-in").parse_args(argv)
    configure_logging(args.log_level)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    store = Store(str(args.state_dir))
    api = AthenaApi(store)
    server = make_server("athena", args.host, args.port,
                         lambda target, body: dispatch(api, target, body))
    log.info("athena listening on http://%s:%s", args.host, args.port)
    serve_until_signal("athena", server, on_stop=store.shutdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
