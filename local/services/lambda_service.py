"""Local AWS Lambda: the REST-JSON control plane, Invoke, and Kinesis event source mappings.

Run: ``python -m local.services.lambda_service --host 127.0.0.1 --port N --state-dir DIR``
(``GET /_health`` answers 200 when ready; SIGTERM stops pollers with their checkpoints saved).
Status of the mappings (iterator age per shard):
``python -m local.services.lambda_service status [--endpoint URL]``.

Routing only; the logic is in :mod:`local.lambda_`. Private endpoints: ``GET /_health``,
``GET /_status``, ``PUT /_settings`` (tunables, for tests), ``GET /_code/<fn>/<sha>.zip``
(the deployed zip, the ``Code.Location`` of GetFunction).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.lambda_ import settings
from local.lambda_.backend import LambdaBackend
from local.lambda_.errors import LambdaApiError
from local.services.serving import configure_logging, serve_until_signal, service_parser

log = logging.getLogger("local.services.lambda_service")

F = "/2015-03-31/functions"
E = "/2015-03-31/event-source-mappings"
URLS = Map([
    Rule("/_health", endpoint="health", methods=["GET"]),
    Rule("/_status", endpoint="status", methods=["GET"]),
    Rule("/_settings", endpoint="settings", methods=["GET", "PUT"]),
    Rule("/_code/<fn>/<digest>.zip", endpoint="code_zip", methods=["GET"]),
    Rule(F, endpoint="functions", methods=["GET", "POST"], strict_slashes=False),
    Rule(f"{F}/<name>", endpoint="function", methods=["GET", "DELETE"]),
    Rule(f"{F}/<name>/configuration", endpoint="configuration", methods=["GET", "PUT"]),
    Rule(f"{F}/<name>/code", endpoint="code", methods=["PUT"]),
    Rule(f"{F}/<name>/invocations", endpoint="invoke", methods=["POST"]),
    Rule(E, endpoint="mappings", methods=["GET", "POST"], strict_slashes=False),
    Rule(f"{E}/<uuid>", endpoint="mapping", methods=["GET", "PUT", "DELETE"]),
    Rule("/2017-03-31/tags/<path:arn>", endpoint="tags", methods=["GET"]),
    Rule("/2019-09-30/functions/<name>/concurrency", endpoint="concurrency", methods=["GET"]),
], merge_slashes=False)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json")


def _error(exc: LambdaApiError) -> Response:
    return _json(exc.body(), exc.status, {"x-amzn-ErrorType": exc.code})


class LambdaApp:
    """WSGI app: maps HTTP requests to :class:`LambdaBackend` calls."""

    def __init__(self, backend: LambdaBackend) -> None:
        self.backend = backend

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = URLS.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except LambdaApiError as exc:
            response = _error(exc)
        except NotFound:
            response = _json({"__type": "UnknownOperationException",
                              "message": f"not implemented by the local Lambda stand-in: "
                                         f"{request.method} {request.path}"}, 404,
                             {"x-amzn-ErrorType": "UnknownOperationException"})
        except HTTPException as exc:
            response = _json({"__type": "InvalidRequestException", "message": str(exc)},
                             exc.code or 400)
        except Exception as exc:
            log.exception("internal error on %s %s", request.method, request.path)
            response = _json({"__type": "ServiceException", "message": str(exc)}, 500,
                             {"x-amzn-ErrorType": "ServiceException"})
        return response(environ, start_response)

    @staticmethod
    def _body(request: Request) -> dict[str, Any]:
        raw = request.get_data()
        if not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise LambdaApiError(f"Invalid JSON body: {exc}") from exc
        return body if isinstance(body, dict) else {}

    @staticmethod
    def _max_items(request: Request) -> int | None:
        raw = request.args.get("MaxItems")
        return int(raw) if raw and raw.isdigit() else None

    # private endpoints
    def on_health(self, request: Request) -> Response:
        return _json({"status": "ok"})

    def on_status(self, request: Request) -> Response:
        return _json(self.backend.status())

    def on_settings(self, request: Request) -> Response:
        if request.method == "PUT":
            try:
                settings.update(self._body(request))
            except (KeyError, ValueError) as exc:
                return _json({"__type": "InvalidParameterValueException",
                              "message": f"bad setting {exc}"}, 400)
        return _json(settings.current().__dict__)

    def on_code_zip(self, request: Request, fn: str, digest: str) -> Response:
        path = self.backend.code_zip(fn, digest)
        return Response(path.read_bytes(), content_type="application/zip")

    # functions
    def on_functions(self, request: Request) -> Response:
        if request.method == "POST":
            return _json(self.backend.create_function(self._body(request)), 201)
        return _json(self.backend.list_functions(request.args.get("Marker"),
                                                 self._max_items(request)))

    def on_function(self, request: Request, name: str) -> Response:
        self._no_qualifier(request)
        if request.method == "DELETE":
            self.backend.delete_function(name)
            return Response(status=204)
        return _json(self.backend.get_function(name))

    def on_configuration(self, request: Request, name: str) -> Response:
        if request.method == "PUT":
            return _json(self.backend.update_function_configuration(name, self._body(request)))
        self._no_qualifier(request)
        return _json(self.backend.get_function_configuration(name))

    def on_code(self, request: Request, name: str) -> Response:
        return _json(self.backend.update_function_code(name, self._body(request)))

    def on_invoke(self, request: Request, name: str) -> Response:
        self._no_qualifier(request)
        status, result, tail = self.backend.invoke(
            name, request.get_data(),
            request.headers.get("X-Amz-Invocation-Type", "RequestResponse"),
            request.headers.get("X-Amz-Log-Type") == "Tail")
        headers = {"X-Amz-Executed-Version": "$LATEST"}
        if result is None:
            return Response(status=status, headers=headers)
        if result.function_error:
            headers["X-Amz-Function-Error"] = result.function_error
        if tail is not None:
            headers["X-Amz-Log-Result"] = tail
        headers["x-amzn-RequestId"] = result.request_id
        return Response(result.payload, status=status, headers=headers,
                        content_type="application/json")

    @staticmethod
    def _no_qualifier(request: Request) -> None:
        qualifier = request.args.get("Qualifier")
        if qualifier not in (None, "", "$LATEST"):
            from local.lambda_.errors import ResourceNotFoundError
            raise ResourceNotFoundError(f"Function not found (qualifier {qualifier}): only "
                                        "$LATEST exists locally")

    def on_tags(self, request: Request, arn: str) -> Response:
        return _json({"Tags": {}})

    def on_concurrency(self, request: Request, name: str) -> Response:
        self.backend.get_function_configuration(name)
        return _json({})

    # event source mappings
    def on_mappings(self, request: Request) -> Response:
        if request.method == "POST":
            return _json(self.backend.create_event_source_mapping(self._body(request)), 202)
        return _json(self.backend.list_event_source_mappings(
            request.args.get("EventSourceArn"), request.args.get("FunctionName"),
            request.args.get("Marker"), self._max_items(request)))

    def on_mapping(self, request: Request, uuid: str) -> Response:
        if request.method == "GET":
            return _json(self.backend.get_event_source_mapping(uuid))
        if request.method == "PUT":
            return _json(self.backend.update_event_source_mapping(uuid, self._body(request)),
                         202)
        return _json(self.backend.delete_event_source_mapping(uuid), 202)


def logs_dir_for(state_dir: Path) -> Path:
    """Function logs: ``$LOCAL_STACK_STATE_DIR/logs/lambda`` (else ``<state-dir>/logs``)."""
    root = os.environ.get("LOCAL_STACK_STATE_DIR")
    return Path(root) / "logs" / "lambda" if root else state_dir / "logs"


def serve(host: str, port: int, state_dir: Path, logs_dir: Path | None = None) -> int:
    state_dir.mkdir(parents=True, exist_ok=True)
    logs = logs_dir or logs_dir_for(state_dir)
    logs.mkdir(parents=True, exist_ok=True)
    backend = LambdaBackend(state_dir, logs, base_url=f"http://{host}:{port}")
    server = make_server(host, port, LambdaApp(backend), threaded=True)
    backend.start()
    log.info("lambda stand-in on http://%s:%s (state %s, function logs %s)", host, port,
             state_dir, logs)
    serve_until_signal("lambda", server, on_stop=backend.shutdown)
    return 0


def print_status(endpoint: str) -> int:
    """Print mappings, their state and the iterator age per shard."""
    try:
        with urllib.request.urlopen(endpoint.rstrip("/") + "/_status", timeout=5) as resp:
            status = json.load(resp)
    except (urllib.error.URLError, OSError) as exc:
        print(f"lambda stand-in not reachable at {endpoint}: {exc}")
        return 1
    print(f"functions: {', '.join(status['functions']) or '-'}")
    print(f"function logs: {status['logs_dir']}")
    for m in status["mappings"]:
        print(f"mapping {m['uuid']} {m['state']}: {m['stream']} -> {m['function']}"
              f"  iterator age {m.get('iterator_age_ms')} ms")
        for sid, s in m["shards"].items():
            print(f"  {sid}: iterator age {s['iterator_age_ms']} ms, behind latest "
                  f"{s['millis_behind_latest']} ms, read {s['records_read']}, done "
                  f"{s['records_done']}, skipped {s['records_skipped']}, invocations "
                  f"{s['invocations']}, errors {s['errors']}, checkpoint {s['checkpoint']}"
                  f"{' (closed, finished)' if s['finished'] else ''}: {s['last_result']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:
        parser = argparse.ArgumentParser(prog="lambda_service status")
        parser.add_argument("--endpoint", default=os.environ.get("AWS_ENDPOINT_URL_LAMBDA",
                                                                 "http://127.0.0.1:4569"))
        return print_status(parser.parse_args(argv[1:]).endpoint)
    parser = service_parser(__doc__.splitlines()[0])
    parser.add_argument("--logs-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    return serve(args.host, args.port, args.state_dir, args.logs_dir)


if __name__ == "__main__":
    sys.exit(main())
