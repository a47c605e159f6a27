"""Lifecycle of the local stack: start (idempotent), stop by PID, status, reset."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from local import node, opensearch_state
from local.envfile import stack_env, write_atomic, write_env_file
from local.health import http_status, port_free
from local.process import PidRecord, exited, signal_term, spawn, wait_or_kill
from local.settings import (
    ENV_PORT_BASE,
    HOST,
    LOCAL_DIR,
    REPO_ROOT,
    SERVICES,
    ServiceSpec,
    StackConfig,
)

log = logging.getLogger(__name__)

MARKER = ".local-stack-state"  # written into every state dir: reset only wipes such dirs
STACK_FILE = "stack.json"
LOCK_FILE = "stack.lock"


OPENSEARCH = "opensearch"  # the service whose data is dumped at stop and reloaded at start
RESTORE_GRACE = 600.0  # seconds a large OpenSearch re-seed may add to the start timeout


class _Restore(threading.Thread):
    """Re-seeds osmem from the dump written at the last stop."""

    def __init__(self, base: str, path: Path) -> None:
        super().__init__(name="opensearch-restore", daemon=True)
        self.base, self.path = base, path
        self.error: str | None = None

    def run(self) -> None:
        try:
            opensearch_state.restore(self.base, self.path)
        except Exception as exc:
            self.error = f"{self.path}: {type(exc).__name__}: {exc}"


class StackError(RuntimeError):
    """The stack could not be started/stopped; the message says what to do."""


@dataclass
class ServiceStatus:
    name: str
    port: int
    pid: int | None
    running: bool
    healthy: bool
    note: str = ""


@dataclass
class StartResult:
    already_running: bool
    started: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def osmem_binary() -> Path:
    """The osmem-server binary shipped inside the ``osmem-server`` wheel."""
    override = os.environ.get("OSMEM_SERVER_BIN")
    if override:
        return Path(override)
    spec = importlib.util.find_spec("osmem_server")
    if spec is None or spec.origin is None:
        raise StackError("osmem-server is not installed: pip install -r local/requirements.txt")
    return Path(spec.origin).parent / "bin" / "osmem-server"


def recorded_port_base(state_dir: Path) -> int | None:
    """The port base the stack in ``state_dir`` was last started with, if any."""
    try:
        return int(json.loads((state_dir / STACK_FILE).read_text(encoding="utf-8"))["port_base"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def module_available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class Stack:
    """The set of processes of one stack (one state dir, one port base)."""

    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig.from_env()

    # ----------------------------------------------------------------------------- queries
    def enabled(self) -> list[ServiceSpec]:
        """Services to run: everything, except stand-in modules not written yet."""
        return [s for s in SERVICES if s.kind != "python" or module_available(s.module or "")]

    def env(self) -> dict[str, str]:
        return stack_env(self.config)

    def endpoint(self, name: str) -> str:
        return self.config.url(name)

    def _record(self, spec: ServiceSpec) -> PidRecord | None:
        return PidRecord.load(self.config.pid_file(spec.name))

    def healthy(self, spec: ServiceSpec) -> bool:
        port = self.config.port(spec.name)
        if spec.kind == "kinesalite":  # answers every request (403 without credentials)
            return http_status(HOST, port, "/") is not None
        return http_status(HOST, port, "/_health") == 200

    def status(self) -> list[ServiceStatus]:
        enabled = {s.name for s in self.enabled()}
        rows = []
        for spec in SERVICES:
            rec = self._record(spec)
            running = rec is not None and rec.alive()
            note = "" if spec.name in enabled else "module not available"
            rows.append(ServiceStatus(
                spec.name, self.config.port(spec.name), rec.pid if running and rec else None,
                running, running and self.healthy(spec), note))
        return rows

    def running(self) -> bool:
        return any(row.running for row in self.status())

    # ----------------------------------------------------------------------------- start
    def start(self) -> StartResult:
        """Start every service not running yet and wait until all are healthy."""
        started_at = time.monotonic()
        cfg = self.config
        with self._locked(create=True):
            self._check_port_base()
            services = self.enabled()
            skipped = [s.name for s in SERVICES if s not in services]
            for name in skipped:
                log.info("service %s skipped: its module is not available yet", name)
            to_start, running = [], []
            for spec in services:
                rec = self._record(spec)
                if rec is not None and rec.alive():
                    running.append(spec)
                else:
                    to_start.append(spec)
            if not to_start:
                self._wait_healthy(services, {}, started_at)
                write_env_file(cfg)
                return StartResult(True, [], skipped, time.monotonic() - started_at)
            for spec in to_start:
                port = cfg.port(spec.name)
                if not port_free(HOST, port):
                    raise StackError(
                        f"port {port} for {spec.name} is in use by another program "
                        f"(another stack? choose another --port-base or stop it)")
            commands = {spec.name: self._command(spec) for spec in to_start}  # may run npm ci
            started_at = time.monotonic()
            spawned: dict[str, PidRecord] = {}
            try:
                for spec in to_start:
                    rec = spawn(commands[spec.name], cfg.log_file(spec.name), self._child_env(),
                                REPO_ROOT, cfg.port(spec.name))
                    rec.save(cfg.pid_file(spec.name))
                    spawned[spec.name] = rec
                restore = self._wait_healthy(services, spawned, started_at)
                if restore is not None:
                    restore.join(max(0.0, started_at + self.config.start_timeout
                                     + RESTORE_GRACE - time.monotonic()))
                    if restore.is_alive() or restore.error:
                        raise StackError(
                            f"could not reload OpenSearch data: {restore.error or 'timeout'}")
            except BaseException:
                self._terminate(list(spawned), dump=False)
                raise
            write_atomic(cfg.state_dir / STACK_FILE,
                         json.dumps({"port_base": cfg.port_base, "started": time.time()}))
            write_env_file(cfg)
            return StartResult(False, list(spawned), skipped, time.monotonic() - started_at)

    def _command(self, spec: ServiceSpec) -> list[str]:
        cfg = self.config
        port = str(cfg.port(spec.name))
        data = cfg.data_dir(spec.name)
        data.mkdir(parents=True, exist_ok=True)
        if spec.kind in ("moto", "python"):
            return [sys.executable, "-m", spec.module or "", "--host", HOST, "--port", port,
                    "--state-dir", str(data)]
        if spec.kind == "kinesalite":
            try:
                node_bin = node.node_binary()
                node.ensure_kinesalite()
            except (node.NodeMissingError, RuntimeError, OSError) as exc:
                raise StackError(str(exc)) from exc
            return [node_bin, str(LOCAL_DIR / "kinesalite.js"), port, str(data)]
        raise StackError(f"unknown service kind {spec.kind}")

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "PYTHONSTARTUP")}
        env.update(self.env())
        env[ENV_PORT_BASE] = str(self.config.port_base)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _wait_healthy(self, services: list[ServiceSpec], spawned: dict[str, PidRecord],
                      started_at: float) -> _Restore | None:
        """Poll until all are healthy; a fresh osmem is re-seeded meanwhile (returned thread)."""
        deadline = started_at + self.config.start_timeout
        pending = list(services)
        restore: _Restore | None = None
        while pending:
            for spec in list(pending):
                rec = spawned.get(spec.name)
                if rec is not None and exited(rec):
                    raise StackError(self._failure(spec, "exited during start-up"))
                if self.healthy(spec):
                    pending.remove(spec)
                    if spec.name == OPENSEARCH and rec is not None:
                        path = self.config.data_dir(spec.name) / opensearch_state.SNAPSHOT_NAME
                        restore = _Restore(self.endpoint(spec.name), path)
                        restore.start()
            if pending and time.monotonic() > deadline:
                raise StackError(self._failure(
                    pending[0], f"not healthy after {self.config.start_timeout:.0f} s"))
            if pending:
                time.sleep(0.05)
        return restore

    def _failure(self, spec: ServiceSpec, what: str) -> str:
        path = self.config.log_file(spec.name)
        try:
            tail = path.read_text(encoding="utf-8", errors="replace").splitlines()[-15:]
        except OSError:
            tail = []
        return (f"service {spec.name} (port {self.config.port(spec.name)}) {what}; "
                f"log: {path}\n" + "\n".join("  | " + line for line in tail))

    def _check_port_base(self) -> None:
        path = self.config.state_dir / STACK_FILE
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))["port_base"]
        except (OSError, ValueError, KeyError):
            return
        if previous != self.config.port_base and any(
                (rec := self._record(s)) is not None and rec.alive() for s in SERVICES):
            raise StackError(
                f"the stack in {self.config.state_dir} runs with port base {previous}; "
                f"stop it first (python -m local stop --port-base {previous})")

    # ----------------------------------------------------------------------------- stop
    def stop(self) -> list[str]:
        """Stop every process this state dir recorded (SIGTERM, SIGKILL after a timeout)."""
        with self._locked():
            names = [s.name for s in SERVICES if self._record(s) is not None]
            return self._terminate(names, dump=True)

    def _terminate(self, names: list[str], dump: bool) -> list[str]:
        stopped = []
        for order in sorted({s.stop_order for s in SERVICES}):
            group = [s for s in SERVICES if s.stop_order == order and s.name in names]
            records = []
            for spec in group:
                rec = self._record(spec)
                if rec is None:
                    continue
                if spec.name == OPENSEARCH and dump and rec.alive():
                    self._dump_opensearch()
                if signal_term(rec):
                    records.append(rec)
                    stopped.append(spec.name)
            if records:
                timeout = max(s.stop_timeout for s in group)
                if wait_or_kill(records, timeout):
                    log.warning("some services had to be killed: state may be incomplete")
            for spec in group:
                self.config.pid_file(spec.name).unlink(missing_ok=True)
        return stopped

    def _dump_opensearch(self) -> None:
        path = self.config.data_dir("opensearch") / opensearch_state.SNAPSHOT_NAME
        try:
            opensearch_state.dump(self.endpoint("opensearch"), path)
        except Exception as exc:
            log.warning("could not save OpenSearch data to %s: %s (kept the previous copy)",
                        path, exc)

    # ----------------------------------------------------------------------------- reset
    def reset(self) -> None:
        """Stop the stack and delete its state (data, logs, env file)."""
        state = self.config.state_dir
        foreign = state.exists() and any(p.name != LOCK_FILE for p in state.iterdir())
        if foreign and not (state / MARKER).exists():
            raise StackError(f"{state} is not a local stack state dir (no {MARKER}): not wiped")
        self.stop()
        with self._locked():
            for child in state.iterdir():
                if child.name in (LOCK_FILE, MARKER):
                    continue
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    # ----------------------------------------------------------------------------- helpers
    @contextlib.contextmanager
    def _locked(self, timeout: float = 120.0, create: bool = False) -> Iterator[None]:
        """Hold the state dir's lock; ``create`` makes it a stack state dir first (start)."""
        cfg = self.config
        cfg.state_dir.mkdir(parents=True, exist_ok=True)
        if create:
            (cfg.state_dir / MARKER).touch()
            for d in (cfg.logs_dir, cfg.pids_dir):
                d.mkdir(parents=True, exist_ok=True)
        with open(cfg.state_dir / LOCK_FILE, "a+") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StackError(
                            f"another start/stop holds {cfg.state_dir / LOCK_FILE}") from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
