"""A loopback fault proxy: passes AWS calls through to a real (local) service, failing some.

Point one client at it, for example the scoring Lambda through its own environment
(``AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`` or ``AWS_ENDPOINT_URL_FIREHOSE``, set with
``aws lambda update-function-configuration``; boto3 honours them on AWS too), and choose what
fails. Faults have AWS's real shapes, so the client sees exactly what it would see on AWS:

- a whole call fails (:meth:`FaultProxy.fail`): ``ThrottlingException`` (HTTP 400, "Rate
  exceeded") or ``ServiceUnavailable`` (503) from the SageMaker runtime,
  ``ServiceUnavailableException`` from Firehose; for all calls, or for a repeating pattern of
  them (``3 of every 4``);
- single records of a Firehose ``PutRecordBatch`` fail (:meth:`FaultProxy.reject_records`):
  the other records are passed on and the answer merges both, with ``FailedPutCount`` and a
  per-record ``ErrorCode`` / ``ErrorMessage``, as Firehose answers a partial failure;
- every call is slowed down (:meth:`FaultProxy.slow_down`).

Used by the fault scenarios of the end-to-end tests; by hand, with the demo running (the
function is pointed at the proxy until Ctrl-C, then back at the service)::

    python -m local.faults --service sagemaker-runtime --function "$FUNCTION_NAME" --throttle 3/4
    python -m local.faults --service sagemaker-runtime --function "$FUNCTION_NAME" --unavailable
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
HOP_HEADERS = {"host", "content-length", "connection", "transfer-encoding", "keep-alive"}


@dataclass(frozen=True)
class AwsError:
    """An error answer with AWS's shape (code in the body's ``__type`` and the header)."""

    status: int
    code: str
    message: str


THROTTLING = AwsError(400, "ThrottlingException", "Rate exceeded")
SAGEMAKER_UNAVAILABLE = AwsError(503, "ServiceUnavailable",
                                 "The service is unavailable. Try again later.")
FIREHOSE_UNAVAILABLE = AwsError(500, "ServiceUnavailableException",
                                "The service is unavailable. Back off and retry the operation.")
#: What Firehose puts in ``ErrorCode`` / ``ErrorMessage`` of a record it did not take.
RECORD_UNAVAILABLE = ("ServiceUnavailableException", "Slow down.")


@dataclass
class _CallFault:
    operation: str
    error: AwsError
    failing: int
    period: int
    remaining: int | None
    seen: int = 0


@dataclass
class _RecordFault:
    predicate: Callable[[bytes], bool]
    remaining: int | None  # records still to reject (None: as long as the rule is on)


def operation_of(method: str, path: str, headers: Any) -> str:
    """The AWS operation of a request: ``X-Amz-Target`` (JSON protocols) or the REST path."""
    target = headers.get("X-Amz-Target") or ""
    if target:
        return target.rsplit(".", 1)[-1]
    if method == "POST" and path.startswith("/endpoints/") and path.endswith("/invocations"):
        return "InvokeEndpoint"
    return f"{method} {path.split('?', 1)[0]}"


class FaultProxy:
    """The proxy server; thread-safe rules; ``with FaultProxy(url) as proxy: ...``."""

    def __init__(self, upstream: str, port: int = 0) -> None:
        parsed = urlparse(upstream)
        self.upstream_host = parsed.hostname or HOST
        self.upstream_port = parsed.port or 80
        self._lock = threading.Lock()
        self._call_faults: list[_CallFault] = []
        self._record_faults: list[_RecordFault] = []
        self._delay_s = 0.0
        #: calls seen / failed per operation, and records rejected
        self.calls: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.rejected_records = 0
        self.rejected: list[bytes] = []
        #: records of PutRecordBatch calls that were passed on while a record rule was active
        self.forwarded_records = 0
        handler = type("Handler", (_Handler,), {"proxy": self})
        self.server = ThreadingHTTPServer((HOST, port), handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server.server_address[1]}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- rules -------------------------------------------------------------------------------
    def fail(self, operation: str, error: AwsError, *, failing: int = 1, period: int = 1,
             times: int | None = None) -> None:
        """Fail calls of ``operation`` with ``error``: ``failing`` of every ``period`` calls
        (the first ones of each period), at most ``times`` failures (None: until cleared)."""
        with self._lock:
            self._call_faults.append(_CallFault(operation, error, failing, period, times))

    def reject_records(self, predicate: Callable[[bytes], bool], *,
                       times: int | None = None) -> None:
        """In ``PutRecordBatch``, fail each record whose data matches (at most ``times``)."""
        with self._lock:
            self._record_faults.append(_RecordFault(predicate, times))

    def slow_down(self, seconds: float) -> None:
        """Hold every call this long before passing it on."""
        with self._lock:
            self._delay_s = seconds

    def clear(self) -> None:
        """Remove every rule: from now on the proxy only passes calls through."""
        with self._lock:
            self._call_faults.clear()
            self._record_faults.clear()
            self._delay_s = 0.0

    # --- decisions (called by the handler) ---------------------------------------------------
    def _call_fault(self, operation: str) -> AwsError | None:
        with self._lock:
            self.calls[operation] += 1
            for fault in self._call_faults:
                if fault.operation not in (operation, "*") or fault.remaining == 0:
                    continue
                position = fault.seen % fault.period
                fault.seen += 1
                if position < fault.failing:
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    self.failed[operation] += 1
                    return fault.error
            return None

    def _reject(self, data: bytes) -> bool:
        with self._lock:
            for fault in self._record_faults:
                if fault.remaining != 0 and fault.predicate(data):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    self.rejected_records += 1
                    self.rejected.append(data)
                    return True
            return False

    @property
    def delay_s(self) -> float:
        with self._lock:
            return self._delay_s


class _Handler(BaseHTTPRequestHandler):
    proxy: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fault proxy: " + format, *args)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = operation_of(self.command, self.path, self.headers)
        if self.proxy.delay_s:
            time.sleep(self.proxy.delay_s)
        error = self.proxy._call_fault(operation)
        if error is not None:
            self._answer(error.status, json.dumps({"__type": error.code,
                                                   "message": error.message}).encode(),
                         {"Content-Type": "application/x-amz-json-1.1",
                          "x-amzn-ErrorType": f"{error.code}:"})
            return
        if operation == "PutRecordBatch" and self.proxy._record_faults:
            self._put_record_batch(body)
            return
        self._pass(body)

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(self.proxy.upstream_host,
                                                self.proxy.upstream_port, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            out = {k: v for k, v in response.getheaders() if k.lower() not in HOP_HEADERS}
            return response.status, out, data
        finally:
            connection.close()

    def _pass(self, body: bytes) -> None:
        try:
            status, headers, data = self._forward(body)
        except OSError as exc:  # upstream down: what a client sees from an unreachable service
            log.warning("fault proxy: upstream unreachable: %s", exc)
            self.close_connection = True
            return
        self._answer(status, data, headers)

    def _put_record_batch(self, body: bytes) -> None:
        """Reject the matching records, pass the rest on, answer with both merged."""
        request = json.loads(body)
        records = request["Records"]
        rejected = [self.proxy._reject(base64.b64decode(r["Data"])) for r in records]
        passed = [r for r, bad in zip(records, rejected, strict=True) if not bad]
        with self.proxy._lock:
            self.proxy.forwarded_records += len(passed)
        answers: list[dict[str, Any]] = []
        if passed:
            status, headers, data = self._forward(json.dumps({**request, "Records": passed})
                                                  .encode())
            if status != 200:
                self._answer(status, data, headers)
                return
            answers = json.loads(data)["RequestResponses"]
        merged, upstream = [], iter(answers)
        code, message = RECORD_UNAVAILABLE
        for bad in rejected:
            merged.append({"ErrorCode": code, "ErrorMessage": message} if bad else next(upstream))
        failed = sum(1 for answer in merged if answer.get("ErrorCode"))
        payload = {"FailedPutCount": failed, "Encrypted": False, "RequestResponses": merged}
        self._answer(200, json.dumps(payload).encode(),
                     {"Content-Type": "application/x-amz-json-1.1"})

    def _answer(self, status: int, data: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


SERVICE_ENV = {"sagemaker-runtime": "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME",
               "firehose": "AWS_ENDPOINT_URL_FIREHOSE"}
UNAVAILABLE = {"sagemaker-runtime": SAGEMAKER_UNAVAILABLE, "firehose": FIREHOSE_UNAVAILABLE}


def point_function(function: str, variable: str, url: str | None) -> None:
    """Set (or, with ``url`` None, remove) one endpoint variable of a function's environment."""
    import boto3

    lam = boto3.client("lambda")
    variables = dict((lam.get_function_configuration(FunctionName=function).get("Environment")
                      or {}).get("Variables") or {})
    if url is None:
        variables.pop(variable, None)
    else:
        variables[variable] = url
    lam.update_function_configuration(FunctionName=function,
                                      Environment={"Variables": variables})


def main(argv: list[str] | None = None) -> int:
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", choices=sorted(SERVICE_ENV), default="sagemaker-runtime")
    parser.add_argument("--upstream", help="service URL (default: its AWS_ENDPOINT_URL_* "
                                           "variable, as set by .local-stack/env.sh)")
    parser.add_argument("--function", help="point this Lambda function at the proxy meanwhile")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: any)")
    parser.add_argument("--throttle", metavar="N/M",
                        help="answer ThrottlingException to N of every M calls")
    parser.add_argument("--unavailable", action="store_true",
                        help="answer every call with the service's 'unavailable' error")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to hold each call")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    variable = SERVICE_ENV[args.service]
    upstream = args.upstream or os.environ.get(variable) or os.environ.get("AWS_ENDPOINT_URL")
    if not upstream:
        parser.error(f"set --upstream or {variable} (source .local-stack/env.sh)")
    proxy = FaultProxy(upstream, args.port)
    if args.throttle:
        failing, period = (int(x) for x in args.throttle.split("/"))
        proxy.fail("*", THROTTLING, failing=failing, period=period)
    if args.unavailable:
        proxy.fail("*", UNAVAILABLE[args.service])
    proxy.slow_down(args.delay)
    with proxy:
        if args.function:
            point_function(args.function, variable, proxy.url)
        print(f"fault proxy on {proxy.url} -> {upstream}"
              + (f"; {args.function} calls it ({variable})" if args.function else "")
              + " (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            if args.function:
                point_function(args.function, variable, None)
                print(f"{args.function} calls {args.service} directly again")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
