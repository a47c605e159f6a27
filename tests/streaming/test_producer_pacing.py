"""Pacer: fixed rate and event-time replay schedules."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pacing import Pacer


def test_rate_spaces_events_evenly() -> None:
    now = [100.0]
    pacer = Pacer(rate=10, clock=lambda: now[0])
    delays = [pacer.delay() for _ in range(3)]
    assert delays == pytest.approx([0.0, 0.1, 0.2])


def test_speedup_replays_pickup_gaps_faster() -> None:
    now = [0.0]
    pacer = Pacer(speedup=60, clock=lambda: now[0])
    t0 = datetime(2024, 1, 1, 8, 0)
    assert pacer.delay(t0) == 0.0
    # a trip picked up 2 minutes later goes out 2 s later at 60x
    assert pacer.delay(t0 + timedelta(minutes=2)) == pytest.approx(2.0)
    # events without a time (malformed rows) and late events do not wait
    assert pacer.delay(None) == 0.0
    now[0] = 5.0
    assert pacer.delay(t0 + timedelta(minutes=1)) == 0.0


def test_long_gaps_are_capped() -> None:
    pacer = Pacer(speedup=1, max_wait_s=5, clock=lambda: 0.0)
    t0 = datetime(2024, 1, 1)
    pacer.delay(t0)
    assert pacer.delay(t0 + timedelta(days=2)) == 5.0


def test_unpaced_and_invalid_settings() -> None:
    assert Pacer().delay() == 0.0
    assert Pacer(rate=0).delay() == 0.0
    with pytest.raises(ValueError):
        Pacer(rate=1, speedup=2)
