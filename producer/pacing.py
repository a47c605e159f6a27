"""When to send each event: a fixed rate, event-time replay, or as fast as possible."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime


class Pacer:
    """Schedules events either at ``rate`` events/s or replayed in event time at ``speedup``.

    ``delay(event_time)`` returns how long to wait before sending the next event (0 when late).
    With ``speedup`` X, a trip picked up N seconds after the first one is sent N/X seconds after
    the start; events without a time (malformed rows) go out immediately. Neither set: no wait.
    """

    def __init__(
        self,
        rate: float | None = None,
        speedup: float | None = None,
        *,
        max_wait_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and speedup is not None:
            raise ValueError("choose --rate or --speedup, not both")
        if (rate is not None and rate < 0) or (speedup is not None and speedup <= 0):
            raise ValueError("rate must be >= 0 and speedup > 0")
        self.rate = rate or None
        self.speedup = speedup
        self.max_wait_s = max_wait_s
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        """Start a new timeline (e.g. at each pass of ``--loop``)."""
        self._start: float | None = None
        self._first_event: datetime | None = None
        self._count = 0

    def delay(self, event_time: datetime | None = None) -> float:
        """Seconds to wait before sending the next event."""
        now = self._clock()
        if self._start is None:
            self._start = now
        if self.rate:
            target = self._start + self._count / self.rate
            self._count += 1
        elif self.speedup:
            if event_time is None:
                return 0.0
            if self._first_event is None:
                self._first_event = event_time
            offset = (event_time - self._first_event).total_seconds() / self.speedup
            target = self._start + offset
        else:
            return 0.0
        wait = target - now
        if wait > self.max_wait_s:  # a gap in the data: do not stall, shift the timeline
            self._start -= wait - self.max_wait_s
            wait = self.max_wait_s
        return max(0.0, wait)
