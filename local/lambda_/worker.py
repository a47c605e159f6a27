"""Execution environment of one function: runs in its own process, standard library only.

Started by :mod:`.runner` as ``python -S -c BOOT worker.py CONFIG_JSON REQ_FD RESP_FD SITE...``
with the unpacked zip as working directory and first entry of ``sys.path`` (the project's own
packages are not importable unless the zip bundles them, as on AWS). It imports the handler once
(init), then serves invocations framed as one JSON header line plus a raw payload::

    request : {"id": request_id, "len": n, "deadline_ms": epoch_ms}\\n + n bytes (event JSON)
    response: {"ok": bool, "len": n, "duration_ms": x, "max_memory_mb": m, ...}\\n + n bytes

stdout/stderr are the function's log file: START / END / REPORT lines like CloudWatch Logs.
"""

from __future__ import annotations

import decimal
import importlib
import json
import logging
import math
import os
import resource
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The context object of the Python runtime (the attributes handlers use)."""

    def __init__(self, config: dict[str, Any], request_id: str, deadline_ms: int) -> None:
        self.function_name = config["function_name"]
        self.function_version = config.get("version", "$LATEST")
        self.invoked_function_arn = config["arn"]
        self.memory_limit_in_mb = int(config["memory"])
        self.aws_request_id = request_id
        self.log_group_name = config["log_group"]
        self.log_stream_name = config["log_stream"]
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))

    def __repr__(self) -> str:
        return (f"LambdaContext([aws_request_id={self.aws_request_id},function_name="
                f"{self.function_name},memory_limit_in_mb={self.memory_limit_in_mb}])")


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _RequestIdFilter.request_id
        return True


def _setup_logging() -> None:
    """Root logger like the AWS Python runtime: level WARNING unless AWS_LAMBDA_LOG_LEVEL."""
    handler = logging.StreamHandler(sys.stdout)
    fmt = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S")
    fmt.converter = time.gmtime
    handler.setFormatter(fmt)
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL")
    if level:
        root.setLevel(level.upper())


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__,
            "requestId": _RequestIdFilter.request_id,
            "stackTrace": traceback.format_list(frames)}


def _log_error(err: dict[str, Any]) -> None:
    trace = "".join(err.get("stackTrace") or [])
    sys.stdout.write(f"[ERROR] {err['errorType']}: {err['errorMessage']}\n"
                     f"Traceback (most recent call last):\n{trace}")
    sys.stdout.flush()


def _load_handler(handler: str) -> Any:
    """Import ``module.function`` like the runtime; errors get the runtime's error types."""
    module_name, _, func_name = handler.rpartition(".")
    if not module_name or not func_name:
        raise _InitError("Runtime.MalformedHandlerName",
                         f"Bad handler '{handler}': not enough values to unpack")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise _InitError("Runtime.ImportModuleError",
                         f"Unable to import module '{module_name}': {exc}") from exc
    except SyntaxError as exc:
        raise _InitError("Runtime.UserCodeSyntaxError",
                         f"Syntax error in module '{module_name}': {exc}") from exc
    func = getattr(module, func_name, None)
    if func is None:
        raise _InitError("Runtime.HandlerNotFound",
                         f"Handler '{func_name}' missing on module '{module_name}'")
    return func


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _json_default(obj: Any) -> Any:
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _max_memory_mb() -> int:
    return max(1, math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    req = os.fdopen(int(argv[1]), "rb")
    resp = os.fdopen(int(argv[2]), "wb")
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)
    _setup_logging()
    t0 = time.perf_counter()
    handler = init_error = None
    try:
        handler = _load_handler(config["handler"])
    except _InitError as exc:
        init_error = {"errorMessage": str(exc), "errorType": exc.error_type,
                      "requestId": "", "stackTrace": []}
    except Exception as exc:  # an exception while running the module's top-level code
        init_error = _error(exc)
    init_ms: float | None = (time.perf_counter() - t0) * 1000
    memory = int(config["memory"])
    resp.write(b'{"ready": true}\n')
    resp.flush()
    while True:
        line = req.readline()
        if not line:
            return 0
        head = json.loads(line)
        payload = req.read(head["len"]) if head["len"] else b""
        request_id = head["id"]
        _RequestIdFilter.request_id = request_id
        sys.stdout.write(f"START RequestId: {request_id} Version: $LATEST\n")
        start = time.perf_counter()
        error = None
        body = b""
        if init_error is not None:
            error = dict(init_error, requestId=request_id)
            _log_error(error)
        else:
            try:
                event = json.loads(payload) if payload else {}
                context = LambdaContext(config, request_id, head["deadline_ms"])
                result = handler(event, context)
                try:
                    body = json.dumps(result, default=_json_default).encode()
                except (TypeError, ValueError) as exc:
                    error = {"errorMessage": f"Unable to marshal response: {exc}",
                             "errorType": "Runtime.MarshalError", "requestId": request_id,
                             "stackTrace": []}
                    _log_error(error)
            except Exception as exc:
                error = _error(exc)
                _log_error(error)
        duration = (time.perf_counter() - start) * 1000
        sys.stdout.flush()
        sys.stderr.flush()
        max_mem = _max_memory_mb()
        report = (f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {memory} MB\t"
                  f"Max Memory Used: {max_mem} MB")
        if init_ms is not None:
            report += f"\tInit Duration: {init_ms:.2f} ms"
        if init_error is not None:
            report += f"\tStatus: error\tError Type: {error['errorType']}"
        if error is not None:
            body = json.dumps(error).encode()
        sys.stdout.write(f"END RequestId: {request_id}\n{report}\n")
        sys.stdout.flush()
        out = {"ok": error is None, "len": len(body), "duration_ms": round(duration, 3),
               "max_memory_mb": max_mem, "init_ms": init_ms,
               "error_type": None if error is None else error["errorType"]}
        init_ms = None
        resp.write(json.dumps(out).encode() + b"\n" + body)
        resp.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
