"""A thread-safe pacer that spreads calls evenly at a fixed rate (Flickr: 3,600 calls/hour/key).

Each call reserves the next free time slot; slots are ``1/rate`` apart.  No burst credit is
accumulated while idle, so the rate is never exceeded over any window longer than one slot,
and with enough workers waiting the slots are all used (the crawl's "share of rate used").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        calls_per_hour: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if calls_per_hour <= 0:
            raise ValueError(f"the call rate must be positive, got {calls_per_hour} calls/hour")
        self.interval = 3600.0 / calls_per_hour
        self._clock = clock
        self._sleep = sleep
        self._next_slot = 0.0
        self._lock = threading.Lock()

    @property
    def calls_per_hour(self) -> float:
        return 3600.0 / self.interval

    def acquire(self, sleep: Callable[[float], object] | None = None) -> float:
        """Block until this caller's slot; returns the slot's time on the limiter's clock.

        ``sleep`` waits instead of the limiter's own, e.g. a :meth:`StopFlag.sleep` that returns early
        on Ctrl-C (the caller then checks its flag; the slot is spent).
        """
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        wait = slot - now
        if wait > 0:
            (sleep or self._sleep)(wait)
        return slot
