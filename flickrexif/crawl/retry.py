"""Retries on tenacity: full-jitter exponential backoff, ``Retry-After`` honoured, waits a stop cuts short.

An attempt that fails transiently raises :class:`RetryLater` with a kind for the log and, when the
server said so, the seconds it asked us to wait (``Retry-After``, in seconds or as an HTTP date).
That wait replaces the backoff and, through a shared :class:`Pause`, holds every other caller of the
same client too.  A wait longer than ``max_retry_after`` is not slept through: the call gives up at
once (:class:`GaveUp`), and calls that come while the pause lasts give up without being sent.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import tenacity

from flickrexif.crawl.http import StopFlag, Stopped

T = TypeVar("T")
MAX_RETRY_AFTER_S = 10**9  # longer asks are clamped (still far over any cap), so sums stay floats
_RNG_LOCK = threading.Lock()  # a random.Random may be shared by threads: one draw at a time


class RetryLater(Exception):
    """A transient failure: ``kind`` names it for the log; ``retry_after`` is the server's asked wait."""

    def __init__(self, kind: str, retry_after: float | None = None) -> None:
        super().__init__(kind)
        self.kind, self.retry_after = kind, retry_after


class GaveUp(Exception):
    """No further attempt: all ``attempts`` were spent (``exhausted``), or the server asks for too long a wait."""

    def __init__(self, attempts: int, last: str, reason: str, *, exhausted: bool = False) -> None:
        super().__init__(reason)
        self.attempts, self.last, self.reason, self.exhausted = attempts, last, reason, exhausted


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now (``"120"`` or an HTTP date); ``None`` if absent or unreadable."""
    text = (value or "").strip()
    if text.isascii() and text.isdigit():
        return float(min(int(text), MAX_RETRY_AFTER_S))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), float(MAX_RETRY_AFTER_S))


class Pause:
    """A time before which no attempt goes out, shared by one client's threads (a server's Retry-After)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self._lock = threading.Lock()

    def extend(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, self._clock() + seconds)

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self._until - self._clock())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 60.0
    max_retry_after: float = 120.0  # a server asking for a longer wait makes the call fail (transient) at once

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base·2^(attempt-1))]."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))

    def run(
        self, attempt: Callable[[], T], *, rng: random.Random, stop: StopFlag | None = None, pause: Pause | None = None
    ) -> T:
        """``attempt()`` until it returns, raises something else than :class:`RetryLater`, or no retry is left.

        Raises :class:`GaveUp` when the retries end, :class:`Stopped` when ``stop`` is set while waiting.
        """
        stop = stop or StopFlag()
        pause = pause or Pause()

        def sleep(seconds: float) -> None:
            if stop.sleep(seconds):
                raise Stopped("stopped while waiting to retry")

        def paused_attempt() -> T:
            waiting = pause.remaining()
            if waiting > self.max_retry_after:
                raise GaveUp(0, "paused", f"not sent: the server asked to wait {waiting:.0f} s more (Retry-After)")
            if waiting > 0:
                sleep(waiting)
            return attempt()

        def wait(state: tenacity.RetryCallState) -> float:
            asked = _failure(state).retry_after
            if asked is not None:
                pause.extend(asked)
                return asked
            with _RNG_LOCK:
                return self.delay(state.attempt_number, rng)

        def asked_too_long(state: tenacity.RetryCallState) -> bool:
            asked = _failure(state).retry_after
            if asked is not None and asked > self.max_retry_after:
                pause.extend(asked)
                return True
            return False

        retrying = tenacity.Retrying(
            sleep=sleep,
            stop=tenacity.stop_any(tenacity.stop_after_attempt(self.max_attempts), asked_too_long),
            wait=wait,
            retry=tenacity.retry_if_exception_type(RetryLater),
        )
        try:
            return retrying(paused_attempt)
        except tenacity.RetryError as error:
            last = _failure(error.last_attempt)
            attempts = error.last_attempt.attempt_number
            if last.retry_after is not None and last.retry_after > self.max_retry_after:
                reason = f"{last.kind}: the server asks to retry after {last.retry_after:.0f} s (Retry-After)"
                raise GaveUp(attempts, last.kind, f"{reason}, over the {self.max_retry_after:g} s allowed") from None
            raise GaveUp(attempts, last.kind, f"failed {attempts} times (last: {last.kind})", exhausted=True) from None


def _failure(state: tenacity.RetryCallState | tenacity.Future) -> RetryLater:
    outcome = state.outcome if isinstance(state, tenacity.RetryCallState) else state
    error = outcome.exception() if outcome is not None else None
    return error if isinstance(error, RetryLater) else RetryLater("unknown")
