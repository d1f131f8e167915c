"""HTTP requests with a total deadline and a stop flag: no trickling server and no Ctrl-C waits on a read.

``requests``' timeouts bound each socket read, so a server that sends a byte every few seconds
holds a request for ever.  A request made inside :func:`deadline`, on a session that mounts
:class:`DeadlineAdapter` (every :class:`DeadlineSession` does), is watched by one watchdog thread:
when its total time runs out, or its :class:`StopFlag` is set, the watchdog shuts its socket down,
the blocked read returns at once and the request raises :class:`DeadlineExceeded` (a
``requests.Timeout``) or :class:`Stopped`.  The TLS handshake is the one step bounded only by the
connect timeout (the socket is not the connection's until it is done).

A :class:`StopFlag` made with ``on_interrupt=True`` is also set by Ctrl-C (SIGINT) in this process,
so worker threads blocked on the network, or waiting to retry, end within a fraction of a second
and a thread pool's shutdown does not wait for them.  The SIGINT handler only counts the signal
(no lock is taken in a signal handler) and then raises ``KeyboardInterrupt`` as Python's own does.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.poolmanager import pool_classes_by_scheme as _DEFAULT_POOLS

POLL_S = 0.1  # how often waits and the watchdog look at stop flags


class DeadlineExceeded(requests.Timeout):
    """The request was not answered in full within its total deadline."""


class Stopped(Exception):
    """A stop was asked for (Ctrl-C, or :meth:`StopFlag.set`) while the request or a wait went on."""


# --- stop flags and Ctrl-C ----------------------------------------------------------------------

_interrupts = 0  # SIGINTs received since the hook was installed; written only by the handler


def _on_interrupt(signum: int, frame: Any) -> None:
    global _interrupts
    _interrupts += 1
    signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt, as without the hook


def _install_interrupt_hook() -> None:
    """Count SIGINTs, once per process, where Python's own handler is in place (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_interrupt)


class StopFlag:
    """Tells requests and waits to stop; set by :meth:`set` or (``on_interrupt``) by a Ctrl-C from now on."""

    def __init__(self, *, on_interrupt: bool = False) -> None:
        self._event = threading.Event()
        self._interrupts_seen = _interrupts if on_interrupt else None
        if on_interrupt:
            _install_interrupt_hook()

    def set(self) -> None:
        self._event.set()

    def is_set(self) -> bool:
        seen = self._interrupts_seen
        return self._event.is_set() or (seen is not None and _interrupts > seen)

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the flag is set meanwhile; returns whether it is set."""
        end = time.monotonic() + max(0.0, seconds)
        while not self.is_set():
            left = end - time.monotonic()
            if left <= 0:
                return False
            self._event.wait(min(left, POLL_S))
        return True


# --- the watchdog -------------------------------------------------------------------------------


class _Guard:
    """One request's deadline and stop flag, and the connections it has used so far."""

    def __init__(self, seconds: float, stop: StopFlag | None) -> None:
        self.deadline = time.monotonic() + seconds
        self.stop = stop
        self.connections: list[HTTPConnection] = []
        self.fired: str | None = None  # "deadline" or "stop" once the watchdog has cut the request


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:  # the plain socket's shutdown (an SSLSocket's own would drop its SSL object under a reader)
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        except OSError:
            pass


class _Watchdog:
    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._guards: set[_Guard] = set()
        self._thread: threading.Thread | None = None

    def add(self, guard: _Guard) -> None:
        with self._wake:
            self._guards.add(guard)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()

    def remove(self, guard: _Guard) -> None:
        with self._wake:
            self._guards.discard(guard)

    def attach(self, guard: _Guard, connection: HTTPConnection) -> None:
        with self._wake:
            if guard.fired:
                _shut(connection)
            else:
                guard.connections.append(connection)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for guard in list(self._guards):
                    stopped = guard.stop is not None and guard.stop.is_set()
                    if stopped or now >= guard.deadline:
                        guard.fired = "stop" if stopped else "deadline"
                        self._guards.discard(guard)
                        for connection in guard.connections:
                            _shut(connection)
                next_deadline = min((guard.deadline for guard in self._guards), default=None)
                self._wake.wait(None if next_deadline is None else min(POLL_S, max(0.0, next_deadline - now)))


_WATCHDOG = _Watchdog()
_local = threading.local()


@contextmanager
def deadline(seconds: float, stop: StopFlag | None = None) -> Iterator[None]:
    """Requests made in this block (by this thread, on :class:`DeadlineAdapter` sessions) end by ``seconds``.

    Reading a streamed body belongs inside the block.  Whatever the cut request raises, or a body
    that ends early because of the cut, comes out as :class:`DeadlineExceeded` or :class:`Stopped`.
    Blocks nest: an inner one has no effect.
    """
    if getattr(_local, "guard", None) is not None:
        yield
        return
    guard = _Guard(seconds, stop)
    _local.guard = guard
    _WATCHDOG.add(guard)
    try:
        yield
    except Exception as error:
        if guard.fired:
            raise _cut(guard, seconds) from error
        raise
    finally:
        _local.guard = None
        _WATCHDOG.remove(guard)
    if guard.fired:
        raise _cut(guard, seconds)


def _cut(guard: _Guard, seconds: float) -> Exception:
    if guard.fired == "stop":
        return Stopped("stopped while the request was in flight")
    return DeadlineExceeded(f"no complete answer within {seconds:g} s")


def _watch(connection: HTTPConnection) -> None:
    guard = getattr(_local, "guard", None)
    if guard is not None:
        _WATCHDOG.attach(guard, connection)


class _Watched:
    """A urllib3 connection that puts itself under the current request's guard."""

    def connect(self) -> None:
        _watch(self)  # type: ignore[arg-type]
        super().connect()  # type: ignore[misc]

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)  # type: ignore[arg-type]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _HTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineAdapter(requests.adapters.HTTPAdapter):
    """An ``HTTPAdapter`` whose connections :func:`deadline` can cut (direct and HTTP-proxied ones)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> urllib3.PoolManager:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if manager.pool_classes_by_scheme == _DEFAULT_POOLS:  # not SOCKS, which has its own pools
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class DeadlineSession(requests.Session):
    """A session whose every request ends within ``total_s`` or when ``stop`` is set.

    A non-streamed request is cut whole; a streamed one only until its headers are in: read its
    body inside :func:`deadline` to bound that too.
    """

    def __init__(self, total_s: float, *, stop: StopFlag | None = None, pool_size: int = 10) -> None:
        super().__init__()
        self.total_s, self.stop = total_s, stop
        adapter = DeadlineAdapter(pool_connections=4, pool_maxsize=pool_size)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with deadline(self.total_s, self.stop):
            return super().send(request, **kwargs)
