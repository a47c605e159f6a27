"""Fixtures of the streaming unit tests (factories live in streaming_factories.py)."""

from __future__ import annotations

import pytest

from streaming_factories import FakeFirehose, FakeSageMakerRuntime


@pytest.fixture
def fake_runtime() -> FakeSageMakerRuntime:
    return FakeSageMakerRuntime()


@pytest.fixture
def fake_firehose() -> FakeFirehose:
    return FakeFirehose()
