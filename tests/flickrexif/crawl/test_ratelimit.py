"""The call pacer: evenly spaced slots, no burst credit, safe across threads."""

from __future__ import annotations

import threading

import pytest

from flickrexif.crawl.ratelimit import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.lock = threading.Lock()

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        with self.lock:
            self.now += seconds


def test_slots_are_one_interval_apart():
    clock = FakeClock()
    limiter = RateLimiter(3600, clock=clock, sleep=clock.sleep)  # one call per second
    slots = [limiter.acquire() for _ in range(5)]
    assert slots == [100.0, 101.0, 102.0, 103.0, 104.0]
    assert clock.now == pytest.approx(104.0)  # each caller slept until its slot


def test_idle_time_earns_no_burst():
    clock = FakeClock()
    limiter = RateLimiter(7200, clock=clock, sleep=clock.sleep)  # 0.5 s apart
    limiter.acquire()
    clock.now += 60  # idle for a minute
    assert limiter.acquire() == 160.0  # at once, but only one call
    assert limiter.acquire() == pytest.approx(160.5)


def test_threads_get_distinct_slots():
    limiter = RateLimiter(3600 * 1000)  # 1 ms apart, real clock
    slots = []
    lock = threading.Lock()

    def worker():
        for _ in range(20):
            slot = limiter.acquire()
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    slots.sort()
    assert len(slots) == 80
    assert all(b - a >= limiter.interval * 0.999 for a, b in zip(slots, slots[1:]))


def test_rate_must_be_positive():
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter(0)
