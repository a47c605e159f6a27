"""pytest plugin: the ``local_stack`` session fixture (the whole local AWS stack, started once).

The stack runs on its own port base (``LOCAL_STACK_TEST_PORT_BASE``; by default 4766, or the
next free one of 4866, 4966, ... when another live test session holds it) with a temporary
state dir, so a developer's stack on 4566 is untouched. For the whole session
``os.environ`` holds the stack's environment (endpoints, region, dummy credentials), so tests
use plain ``boto3.client("s3")``. Every process is stopped at the end, also after failures;
a stack left behind by a killed earlier session on the same port base is stopped first.

Usage::

    @pytest.mark.stack
    def test_something(local_stack):
        boto3.client("s3").create_bucket(Bucket="b")
        local_stack.restart()          # state survives
        local_stack.endpoint("kinesis")  # "http://127.0.0.1:4767"
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from local.health import port_free
from local.settings import HOST, SERVICES, StackConfig
from local.stack import Stack
from local.temporary import temporary_stack

ENV_TEST_PORT_BASE = "LOCAL_STACK_TEST_PORT_BASE"
DEFAULT_TEST_PORT_BASE = 4766
PORT_BASE_STEP = 100  # a concurrent session takes the next free base (the tests use base+20..+36)
PORT_BASE_TRIES = 10


class LocalStack:
    """Handle on the running test stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    @property
    def config(self) -> StackConfig:
        return self.stack.config

    @property
    def state_dir(self) -> Path:
        return self.stack.config.state_dir

    @property
    def env(self) -> dict[str, str]:
        return self.stack.env()

    def endpoint(self, service: str) -> str:
        """``http://127.0.0.1:PORT`` of a service (moto, kinesis, sagemaker-runtime, ...)."""
        return self.stack.endpoint(service)

    def start(self) -> None:
        self.stack.start()

    def stop(self) -> None:
        self.stack.stop()

    def restart(self) -> None:
        """Stop every process (state is flushed to disk) and start them again."""
        self.stack.stop()
        self.stack.start()


def _stale_marker(port_base: int) -> Path:
    return Path(tempfile.gettempdir()) / f"taxi-local-stack-test-{port_base}.json"


def _stop_stale(port_base: int) -> bool:
    """Stop a stack left by a dead test session on ``port_base``; False if a live one owns it."""
    marker = _stale_marker(port_base)
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        state_dir, owner = data["state_dir"], int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return True
    if owner != os.getpid() and psutil.pid_exists(owner):
        return False  # another pytest session is using it right now
    if Path(state_dir).is_dir():
        Stack(StackConfig.from_env(port_base, state_dir)).stop()
    marker.unlink(missing_ok=True)
    return True


def _pick_port_base() -> int:
    """LOCAL_STACK_TEST_PORT_BASE if set; else 4766, or 4866, 4966, ... when that one is busy."""
    explicit = os.environ.get(ENV_TEST_PORT_BASE)
    if explicit:
        base = int(explicit)
        _stop_stale(base)
        return base
    for step in range(PORT_BASE_TRIES):
        base = DEFAULT_TEST_PORT_BASE + PORT_BASE_STEP * step
        if _stop_stale(base) and all(
                port_free(HOST, base + spec.offset) for spec in SERVICES):
            return base
    raise RuntimeError(f"no free port base for the test stack; set {ENV_TEST_PORT_BASE}")


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The whole local stack for the test session (own ports, temporary state)."""
    port_base = _pick_port_base()
    state_dir = tmp_path_factory.mktemp("local-stack")
    marker = _stale_marker(port_base)
    marker.write_text(json.dumps({"state_dir": str(state_dir), "pid": os.getpid()}),
                      encoding="utf-8")
    try:
        with temporary_stack(port_base, state_dir) as stack:
            yield LocalStack(stack)
    finally:
        marker.unlink(missing_ok=True)
