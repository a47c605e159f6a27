"""Runs functions in worker subprocesses: a pool of execution environments per function.

Each worker (:mod:`.worker`) imports the handler once and serves invocations one at a time, like
an AWS execution environment. A new code or configuration gives the function a new generation:
idle workers of the old one are stopped and the next invocation starts a fresh process (fresh
import). A timed-out invocation kills its worker ("Task timed out after X seconds").
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import signal
import site
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import settings

log = logging.getLogger(__name__)

WORKER_PATH = Path(__file__).with_name("worker.py")
INIT_ALLOWANCE_S = 10.0  # AWS gives the init phase its own 10 s
ACQUIRE_TIMEOUT_S = 120.0
# The host's module search path must not leak into the function: only the zip is importable.
HOST_ONLY_ENV = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE"}
BOOT = (
    "import os, runpy, sys\n"
    "sites = sys.argv[5:]\n"
    "sys.argv = sys.argv[1:5]\n"
    "sys.path[0] = os.getcwd()\n"
    "sys.path.extend(sites)\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run one version of a function."""

    name: str
    arn: str
    handler: str
    code_dir: Path
    memory_mb: int
    timeout_s: int
    env: dict[str, str]
    generation: str
    log_path: Path
    runtime: str = "python3.11"


@dataclass
class InvokeResult:
    """Outcome of one invocation; ``payload`` is the result JSON or the error JSON."""

    request_id: str
    ok: bool
    payload: bytes
    error_type: str | None = None
    duration_ms: float = 0.0
    init_ms: float | None = None
    max_memory_mb: int = 0
    timed_out: bool = False

    @property
    def function_error(self) -> str | None:
        """Value of the ``X-Amz-Function-Error`` header (None when the call succeeded)."""
        return None if self.ok else "Unhandled"


class WorkerGone(Exception):
    """When the worker process ended during an invocation."""


class TooManyRequests(Exception):
    """When every execution environment of the function stayed busy too long."""


def _utc_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Worker:
    """One execution environment (a subprocess) of a function generation."""

    def __init__(self, spec: FunctionSpec, extra_env: dict[str, str]) -> None:
        self.spec = spec
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        stream = datetime.now(UTC).strftime("%Y/%m/%d") + "/[$LATEST]" + uuid.uuid4().hex
        config = {"handler": spec.handler, "function_name": spec.name, "arn": spec.arn,
                  "memory": spec.memory_mb, "timeout": spec.timeout_s, "version": "$LATEST",
                  "log_group": f"/aws/lambda/{spec.name}", "log_stream": stream}
        env = {k: v for k, v in extra_env.items() if k not in HOST_ONLY_ENV}
        env.update(spec.env)
        env.update({
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": config["log_group"],
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(WORKER_PATH.parent),
            "_HANDLER": spec.handler,
        })
        env.setdefault("AWS_REGION", env.get("AWS_DEFAULT_REGION", "us-east-1"))
        env.setdefault("AWS_DEFAULT_REGION", env["AWS_REGION"])
        sites = [p for p in site.getsitepackages() if os.path.isdir(p)]
        argv = [sys.executable, "-S", "-c", BOOT, str(WORKER_PATH), json.dumps(config),
                str(req_r), str(resp_w), *sites]
        with open(spec.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                argv, cwd=spec.code_dir, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, pass_fds=(req_r, resp_w), start_new_session=True)
        os.close(req_r)
        os.close(resp_w)
        self._resp = os.fdopen(self._resp_r, "rb")
        self._req = os.fdopen(self._req_w, "wb")
        self.invocations = 0

    def _wait_readable(self, seconds: float) -> bool:
        with selectors.DefaultSelector() as sel:
            sel.register(self._resp, selectors.EVENT_READ)
            return bool(sel.select(max(0.0, seconds)))

    def _read_line(self) -> bytes:
        """The worker's next response line; WorkerGone (worker killed) at end of stream."""
        line = self._resp.readline()
        if not line:
            self.kill()
            raise WorkerGone(f"exit status {self.proc.poll()}")
        return line

    def _wait_ready(self) -> None:
        """Cold start: the init phase has its own allowance, then the function timeout runs."""
        if not self._wait_readable(INIT_ALLOWANCE_S):
            self.kill()
            raise TimeoutError
        self._read_line()

    def invoke(self, request_id: str, payload: bytes, timeout_s: float) -> InvokeResult:
        """Run one invocation; raises TimeoutError (worker killed) or WorkerGone."""
        if self.invocations == 0:
            self._wait_ready()
        self.invocations += 1
        deadline = time.time() + timeout_s
        head = {"id": request_id, "len": len(payload), "deadline_ms": int(deadline * 1000)}
        try:
            self._req.write(json.dumps(head).encode() + b"\n" + payload)
            self._req.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerGone(str(exc)) from exc
        if not self._wait_readable(deadline + 0.05 - time.time()):
            self.kill()
            raise TimeoutError
        out = json.loads(self._read_line())
        body = self._resp.read(out["len"]) if out["len"] else b""
        return InvokeResult(request_id, out["ok"], body, out.get("error_type"),
                            out.get("duration_ms", 0.0), out.get("init_ms"),
                            out.get("max_memory_mb", 0))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self, grace_s: float = 2.0) -> None:
        """Ask the worker to exit (EOF on its request pipe), then kill it after ``grace_s``."""
        with contextlib.suppress(OSError):
            self._req.close()
        try:
            self.proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self._resp.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log.warning("worker %s did not die", self.proc.pid)


@dataclass
class _Pool:
    spec: FunctionSpec
    idle: list[Worker] = field(default_factory=list)
    busy: int = 0


class Runner:
    """Execution environments of every function; ``invoke`` is safe from many threads."""

    def __init__(self, extra_env: dict[str, str] | None = None) -> None:
        self.extra_env = dict(os.environ if extra_env is None else extra_env)
        self._pools: dict[str, _Pool] = {}
        self._cond = threading.Condition()
        self._log_locks: dict[str, threading.Lock] = {}
        self._closed = False

    def configure(self, spec: FunctionSpec) -> None:
        """Install a function generation; idle workers of an older one are stopped."""
        stale: list[Worker] = []
        with self._cond:
            pool = self._pools.get(spec.name)
            if pool is None:
                self._pools[spec.name] = _Pool(spec)
            elif pool.spec != spec:
                stale, pool.idle = pool.idle, []
                pool.spec = spec
            self._cond.notify_all()
        for worker in stale:
            worker.close()

    def remove(self, name: str) -> None:
        with self._cond:
            pool = self._pools.pop(name, None)
            self._cond.notify_all()
        for worker in pool.idle if pool else []:
            worker.close()

    def _acquire(self, name: str) -> tuple[Worker | None, FunctionSpec]:
        deadline = time.monotonic() + ACQUIRE_TIMEOUT_S
        with self._cond:
            while True:
                pool = self._pools.get(name)
                if pool is None or self._closed:
                    raise KeyError(name)
                while pool.idle:
                    worker = pool.idle.pop()
                    if worker.alive():
                        pool.busy += 1
                        return worker, pool.spec
                if pool.busy < settings.current().max_workers:
                    pool.busy += 1
                    return None, pool.spec
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TooManyRequests(f"Rate Exceeded. ({name} concurrency)")
                self._cond.wait(min(left, 1.0))

    def _release(self, name: str, worker: Worker | None) -> None:
        stale = None
        with self._cond:
            pool = self._pools.get(name)
            if pool is not None:
                pool.busy -= 1
            if worker is not None and worker.alive():
                if pool is not None and pool.spec == worker.spec and not self._closed:
                    pool.idle.append(worker)
                else:
                    stale = worker
            self._cond.notify_all()
        if stale is not None:
            stale.close()

    def invoke(self, name: str, payload: bytes, request_id: str | None = None) -> InvokeResult:
        """Invoke ``name`` with a JSON ``payload``; function errors come back in the result.

        Raises KeyError when the function is unknown and TooManyRequests when it stays busy.
        """
        request_id = request_id or str(uuid.uuid4())
        worker, spec = self._acquire(name)
        try:
            if worker is None:
                worker = Worker(spec, self.extra_env)
            try:
                return worker.invoke(request_id, payload, float(spec.timeout_s))
            except TimeoutError:
                return self._timed_out(spec, request_id)
            except WorkerGone as exc:
                return self._exited(spec, request_id, str(exc))
        finally:
            self._release(name, worker)

    def _write_log(self, spec: FunctionSpec, text: str) -> None:
        lock = self._log_locks.setdefault(spec.name, threading.Lock())
        with lock, open(spec.log_path, "a", encoding="utf-8") as fh:
            fh.write(text)

    def _timed_out(self, spec: FunctionSpec, request_id: str) -> InvokeResult:
        message = f"Task timed out after {spec.timeout_s:.2f} seconds"
        duration = spec.timeout_s * 1000.0
        self._write_log(spec, (
            f"{_utc_stamp()} {request_id} {message}\n\nEND RequestId: {request_id}\n"
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {int(duration)} ms\tMemory Size: {spec.memory_mb} MB\t"
            f"Max Memory Used: {spec.memory_mb} MB\tStatus: timeout\n"))
        body = {"errorMessage": f"{_utc_stamp()} {request_id} {message}",
                "errorType": "Sandbox.Timedout"}
        return InvokeResult(request_id, False, json.dumps(body).encode(), "Sandbox.Timedout",
                            duration, timed_out=True)

    def _exited(self, spec: FunctionSpec, request_id: str, detail: str) -> InvokeResult:
        message = f"RequestId: {request_id} Error: Runtime exited with error: {detail}"
        self._write_log(spec, f"{message}\nRuntime.ExitError\n")
        body = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return InvokeResult(request_id, False, json.dumps(body).encode(), "Runtime.ExitError")

    def shutdown(self) -> None:
        """Stop every idle worker; busy ones are stopped when released."""
        with self._cond:
            self._closed = True
            workers = [w for pool in self._pools.values() for w in pool.idle]
            for pool in self._pools.values():
                pool.idle = []
            self._cond.notify_all()
        for worker in workers:
            worker.close(grace_s=1.0)
