"""Bounded polling for tests that wait on asynchronous services (pollers, buffers, indexing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.1) -> T:
    """Poll ``check`` until it returns something truthy and return it; AssertionError after
    ``timeout`` seconds, naming ``what`` was awaited and the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what} "
                                 f"(last value {value!r:.200})")
        time.sleep(interval)
