"""What every stand-in process shares: its CLI, its log format, and a clean stop on a signal.

``python -m local`` starts each service as ``--host H --port P --state-dir D`` and stops it with
SIGTERM; whatever the service buffers (Firehose records, Lambda checkpoints, Athena state) is
flushed by its ``on_stop`` before the process exits.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

QUIET_LIBRARIES = ("werkzeug", "botocore", "boto3", "urllib3")


class Server(Protocol):
    """The part of ``http.server.HTTPServer`` (and werkzeug's servers) used here."""

    def serve_forever(self, poll_interval: float = ...) -> None: ...
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...


def service_parser(description: str) -> argparse.ArgumentParser:
    """``--host --port --state-dir --log-level``; a service may add its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    return parser


def configure_logging(level: str) -> None:
    """Timestamped lines on stderr (the stack appends them to ``logs/<service>.log``)."""
    logging.basicConfig(level=level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)


def serve_until_signal(name: str, server: Server,
                       on_stop: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM/SIGINT, then close the server and call ``on_stop`` (flush, persist)."""
    log = logging.getLogger(f"local.services.{name}")
    stopping = threading.Event()

    def stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            log.info("signal %s: stopping", signum)
            threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        if on_stop is not None:
            on_stop()
        log.info("%s stopped", name)
