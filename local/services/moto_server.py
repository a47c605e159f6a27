"""moto server with the project's extensions and on-disk persistence.

``python -m local.services.moto_server --host 127.0.0.1 --port N --state-dir DIR``

Start: install ``local.moto_ext`` modules, restore ``DIR/moto.pickle`` if present, serve.
While serving: after a write request, snapshot at most every ``--snapshot-interval`` s.
SIGTERM/SIGINT: stop accepting requests, wait for those in flight, snapshot, exit 0.
``GET /_health`` answers 200 once the server is ready.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from local.services.serving import configure_logging, service_parser

SNAPSHOT_NAME = "moto.pickle"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

log = logging.getLogger("local.moto_server")


class RequestGate:
    """Requests share the gate; a snapshot takes it exclusively (no half-applied writes)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._exclusive = False
        self.dirty = False

    def enter(self) -> None:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._active += 1

    def leave(self, wrote: bool) -> None:
        with self._cond:
            self._active -= 1
            self.dirty = self.dirty or wrote
            self._cond.notify_all()

    def exclusive(self, timeout: float = 30.0) -> bool:
        """Block new requests and wait for the running ones (bounded)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._exclusive = True
            while self._active:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def release(self) -> None:
        with self._cond:
            self._exclusive = False
            self._cond.notify_all()


class GatedApp:
    """WSGI middleware: ``/_health`` + the request gate around moto's dispatcher."""

    def __init__(self, app: Callable[..., Iterable[bytes]], gate: RequestGate) -> None:
        self.app = app
        self.gate = gate

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == "/_health" and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok", "service": "moto"}']
        # lets a long-polling describe call (SageMaker waiters) step out of the gate while it waits
        environ["local.request_gate"] = self.gate
        self.gate.enter()
        wrote = environ.get("REQUEST_METHOD", "GET") not in READ_METHODS
        try:
            return list(self.app(environ, start_response))
        finally:
            self.gate.leave(wrote)


class Snapshotter:
    """Writes the moto snapshot: periodically when dirty, and once at shutdown."""

    def __init__(self, path: Path, gate: RequestGate, modules: list[Any], interval: float):
        self.path = path
        self.gate = gate
        self.modules = modules
        self.interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def snapshot(self) -> None:
        from local import moto_snapshot
        from local.moto_ext import call_hook

        with self._lock:
            if not self.gate.exclusive():
                log.warning("requests still running after 30 s: snapshot skipped")
                self.gate.release()
                return
            try:
                self.gate.dirty = False
                call_hook(self.modules, "before_snapshot")
                moto_snapshot.save(self.path)
            except Exception:
                log.exception("moto snapshot failed")
                self.gate.dirty = True
            finally:
                self.gate.release()

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.gate.dirty:
                self.snapshot()

    def stop(self) -> None:
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    parser = service_parser(__doc__.splitlines()[0])
    parser.add_argument("--snapshot-interval", type=float,
                        default=float(os.environ.get("LOCAL_STACK_SNAPSHOT_INTERVAL", "5")),
                        help="seconds between snapshots after writes (0 = only at shutdown)")
    args = parser.parse_args(argv)
    configure_logging(args.log_level)

    started = time.monotonic()
    # AWS managed policies exist in every account (the course template attaches
    # AWSLambdaKinesisExecutionRole, AmazonSageMakerFullAccess, ...): load moto's copy of them.
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from local import moto_snapshot
    from local.moto_ext import call_hook, install_all

    modules = install_all()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    snapshot_path = args.state_dir / SNAPSHOT_NAME
    if moto_snapshot.load(snapshot_path):
        call_hook(modules, "after_restore")

    gate = RequestGate()
    app = GatedApp(DomainDispatcherApplication(create_backend_app), gate)
    server = make_server(args.host, args.port, app, threaded=True)
    server.daemon_threads = True
    snapshotter = Snapshotter(snapshot_path, gate, modules, args.snapshot_interval)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    serve = threading.Thread(target=server.serve_forever, args=(0.1,), name="serve",
                             daemon=True)
    serve.start()
    if args.snapshot_interval > 0:
        threading.Thread(target=snapshotter.run, name="snapshot", daemon=True).start()
    log.info("moto listening on %s:%d (ready in %.2f s)", args.host, args.port,
             time.monotonic() - started)

    while not stop.wait(0.1):
        pass
    log.info("stopping: finishing requests, writing snapshot")
    snapshotter.stop()
    server.shutdown()
    snapshotter.snapshot()
    server.server_close()
    log.info("moto stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
