"""A throw-away local stack whose environment is in ``os.environ`` while it runs.

Used by the test session fixture and the benchmarks, so that a developer's own stack (port
base 4566, ``.local-stack/``) is never touched::

    with temporary_stack(4966) as stack:
        boto3.client("s3").list_buckets()   # talks to stack.endpoint("moto")
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from local.settings import StackConfig
from local.stack import Stack

# A real account's profile or session token must not leak into requests to the local stack.
_MASKED_ENV = ("AWS_PROFILE", "AWS_SESSION_TOKEN")


@contextlib.contextmanager
def temporary_stack(port_base: int, state_dir: str | Path | None = None) -> Iterator[Stack]:
    """Start a stack on ``port_base``; stop it and restore ``os.environ`` on the way out.

    Without ``state_dir`` the state lives in a temporary directory removed afterwards.
    """
    with contextlib.ExitStack() as cleanup:
        if state_dir is None:
            state_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix="local-stack-"))
        stack = Stack(StackConfig.from_env(port_base, state_dir))
        saved = dict(os.environ)
        try:
            stack.start()
            for name in _MASKED_ENV:
                os.environ.pop(name, None)
            os.environ.update(stack.env())
            yield stack
        finally:
            try:
                stack.stop()
            finally:
                os.environ.clear()
                os.environ.update(saved)
