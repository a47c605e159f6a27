"""Infrastructure tests: the step scripts and infra tools importable by name; in-process moto."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
for extra in (REPO / "infra", REPO / "infra" / "streaming", REPO / "infra" / "cicd",
              REPO / "tests" / "e2e", REPO / "tests" / "streaming", REPO / "viz"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))


@pytest.fixture
def moto_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process moto: no endpoint of a local stack, dummy credentials, no project prefix."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("PROJECT_PREFIX", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with mock_aws():
        yield
