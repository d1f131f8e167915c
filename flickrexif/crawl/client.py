"""Flickr API client on ``flickrapi``: pacing, retries with backoff, and an outcome per attempt.

Every HTTP attempt waits for a slot of the shared :class:`RateLimiter` and is reported to
``on_call(method, outcome)`` twice: ``SENT`` just before the request goes out (so a call is
counted as spent even if the process dies before its answer), then ``"ok"`` or an error kind such
as ``"http503"``, ``"code105"``, ``"timeout"``, ``"bad_answer"`` once it is answered, so the crawl
can account for every call it spends.  Transient failures (HTTP 5xx/429, timeouts, connection
resets, truncated JSON, Flickr code 105) are retried by :class:`RetryPolicy` (tenacity: backoff
with full jitter, a server's ``Retry-After`` honoured, and shared by all threads, up to a cap past
which the call fails at once); API errors (``stat: fail``) are raised as :class:`FlickrApiError`
for the caller to interpret (getExif's codes 1 and 2 are outcomes), and so is an answer that cannot
be read at all (code ``None``); an invalid key raises :class:`FatalFlickrError` at once.

Each request has a total deadline (``timeout``), not only one per socket read, so a server that
trickles its answer cannot hold a worker; :meth:`FlickrClient.stop`, or Ctrl-C, ends every call
in flight and every wait within a fraction of a second (:class:`CallStopped`).
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
from collections.abc import Callable
from typing import Any

import flickrapi
import requests
from flickrapi.exceptions import FlickrError

from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.http import DeadlineSession, StopFlag, Stopped
from flickrexif.crawl.ratelimit import RateLimiter
from flickrexif.crawl.retry import GaveUp, Pause, RetryLater, RetryPolicy, retry_after_seconds

__all__ = [
    "DEFAULT_API_URL",
    "SENT",
    "CallStopped",
    "FatalFlickrError",
    "FlickrApiError",
    "FlickrClient",
    "RetryPolicy",
    "TransientFlickrError",
    "classify_failure",
]

DEFAULT_API_URL = flickrapi.FlickrAPI.REST_URL

# Flickr error codes that mean "try again later" and those that no retry can fix.
TRANSIENT_CODES = frozenset({0, 105, 106})
FATAL_CODES = frozenset({95, 96, 97, 98, 99, 100, 116})
SENT = "sent"  # the on_call "outcome" reported before each attempt
STOPPED = "stopped"  # the on_call outcome of a call whose answer was abandoned by a stop (Ctrl-C)

# flickrapi logs every non-200 answer at ERROR level; the crawl records them as data instead.
logging.getLogger("flickrapi").setLevel(logging.CRITICAL)


class FlickrApiError(Exception):
    """Flickr answered ``stat: fail`` with ``code``, or (``code`` None) an answer no parser can read; not retried."""

    def __init__(self, method: str, code: int | None, message: str):
        super().__init__(f"{method}: Flickr error {code}: {message}")
        self.method, self.code, self.message = method, code, message


class FatalFlickrError(FlickrApiError):
    """An error no retry can fix (invalid API key, bad signature): the crawl must stop."""


class TransientFlickrError(Exception):
    """A call still failing transiently after every allowed attempt (or asked to wait longer than allowed)."""


class CallStopped(TransientFlickrError):
    """The client was stopped (Ctrl-C, :meth:`FlickrClient.stop`) before the call had its answer."""


def classify_failure(error: BaseException) -> tuple[str, bool]:
    """An error kind for the call log and whether it is worth retrying."""
    if isinstance(error, FlickrError):
        if error.code is not None:
            return f"code{error.code}", error.code in TRANSIENT_CODES
        match = re.search(r"Status code (\d+)", str(error))
        status = int(match.group(1)) if match else 0
        return f"http{status}", status == 429 or status >= 500 or status == 0
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        return f"http{status}", status == 429 or status >= 500
    if isinstance(error, requests.Timeout):
        return "timeout", True
    if isinstance(error, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return "connection", True
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
        return "bad_json", True
    if isinstance(error, requests.RequestException):
        return "http_error", True
    return "bad_answer", False  # flickrapi could not parse what came back (not an object, no code, ...)


class _FlickrSession(DeadlineSession):
    """flickrapi's HTTP: deadline-bounded, and an HTTP error status raised with its response (and headers)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        if response.status_code >= 400:  # flickrapi would raise a FlickrError without the Retry-After
            raise requests.HTTPError(f"HTTP {response.status_code}", response=response)
        return response


class FlickrClient:
    """Thread-safe: each thread gets its own ``flickrapi.FlickrAPI`` object, all on one session."""

    def __init__(
        self,
        credentials: FlickrCredentials,
        *,
        api_url: str | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 30.0,
        on_call: Callable[[str, str], None] | None = None,
        seed: int | None = None,
        pool_size: int = 16,
    ):
        self.credentials = credentials
        self.api_url = api_url or DEFAULT_API_URL
        self.rate_limiter = rate_limiter
        self.retry = retry
        self.timeout = timeout
        self.on_call = on_call or (lambda method, outcome: None)
        self.stop_flag = StopFlag(on_interrupt=True)
        self._rng = random.Random(seed)
        self._pause = Pause()  # a Retry-After holds every thread's next call
        self._session = _FlickrSession(timeout, stop=self.stop_flag, pool_size=pool_size)
        self._local = threading.local()

    def stop(self) -> None:
        """End every call in flight and every wait at once; later calls raise :class:`CallStopped`."""
        self.stop_flag.set()

    def _api(self) -> flickrapi.FlickrAPI:
        api = getattr(self._local, "api", None)
        if api is None:
            api = flickrapi.FlickrAPI(
                self.credentials.api_key,
                self.credentials.api_secret,
                format="parsed-json",
                store_token=False,
                timeout=self.timeout,
            )
            api.REST_URL = self.api_url
            api.flickr_oauth.session = self._session  # not flickrapi's process-wide session
            self._local.api = api
        return api

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` (e.g. ``"flickr.photos.search"``) and return the parsed answer."""
        arguments = {k: str(v) for k, v in params.items() if v is not None}
        try:
            return self.retry.run(
                lambda: self._attempt(method, arguments), rng=self._rng, stop=self.stop_flag, pause=self._pause
            )
        except GaveUp as gave_up:
            raise TransientFlickrError(f"{method} {gave_up.reason}") from None
        except Stopped:
            raise CallStopped(f"{method}: stopped") from None

    def _attempt(self, method: str, arguments: dict[str, str]) -> dict[str, Any]:
        """One HTTP attempt: transient failures raise :class:`RetryLater`, API errors their own kind."""
        if self.rate_limiter is not None:
            self.rate_limiter.acquire(sleep=self.stop_flag.sleep)
        if self.stop_flag.is_set():
            raise Stopped("stopped before sending")
        self.on_call(method, SENT)
        try:
            answer = self._api().do_flickr_call(method, **arguments)
        except Exception as error:  # noqa: BLE001 - classified below; what no kind fits is an unreadable answer
            if isinstance(error, Stopped) or self.stop_flag.is_set():
                self.on_call(method, STOPPED)
                raise Stopped("stopped while the call was in flight") from None
            kind, transient = classify_failure(error)
            self.on_call(method, kind)
            if not transient and isinstance(error, FlickrError):
                error_type = FatalFlickrError if error.code in FATAL_CODES else FlickrApiError
                raise error_type(method, error.code, str(error).split(": ", 2)[-1]) from None
            if not transient and isinstance(error, requests.HTTPError):
                raise FlickrApiError(method, None, str(error)) from None
            if not transient:
                reason = f"unreadable answer ({type(error).__name__}: {str(error)[:200]})"
                raise FlickrApiError(method, None, reason) from error
            response = getattr(error, "response", None)
            retry_after = response.headers.get("Retry-After") if response is not None else None
            raise RetryLater(kind, retry_after_seconds(retry_after)) from error
        self.on_call(method, "ok")
        return answer
