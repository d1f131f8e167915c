"""Flickr API client on ``flickrapi``: pacing, retries with backoff, and an outcome per attempt.

Every HTTP attempt waits for a slot of the shared :class:`RateLimiter` and is reported to
``on_call(method, outcome)`` twice: ``SENT`` just before the request goes out (so a call is
counted as spent even if the process dies before its answer), then ``"ok"`` or an error kind such
as ``"http503"``, ``"code105"``, ``"timeout"``, ``"bad_answer"`` once it is answered, so the crawl
can account for every call it spends.  Transient failures (HTTP 5xx/429, timeouts, connection
resets, truncated JSON, Flickr code 105) are retried with exponential backoff and full jitter; API
errors (``stat: fail``) are raised as :class:`FlickrApiError` for the caller to interpret
(getExif's codes 1 and 2 are outcomes), and so is an answer that cannot be read at all (code
``None``); an invalid key raises :class:`FatalFlickrError` at once.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import flickrapi
import requests
from flickrapi.auth import OAuthFlickrInterface
from flickrapi.exceptions import FlickrError

from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.ratelimit import RateLimiter

DEFAULT_API_URL = flickrapi.FlickrAPI.REST_URL

# Flickr error codes that mean "try again later" and those that no retry can fix.
TRANSIENT_CODES = frozenset({0, 105, 106})
FATAL_CODES = frozenset({95, 96, 97, 98, 99, 100, 116})
SENT = "sent"  # the on_call "outcome" reported before each attempt

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
    """A call still failing transiently after every allowed attempt."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff: uniform in [0, min(max, base·2^(attempt-1))]."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def classify_failure(error: BaseException) -> tuple[str, bool]:
    """An error kind for the call log and whether it is worth retrying."""
    if isinstance(error, FlickrError):
        if error.code is not None:
            return f"code{error.code}", error.code in TRANSIENT_CODES
        match = re.search(r"Status code (\d+)", str(error))
        status = int(match.group(1)) if match else 0
        return f"http{status}", status == 429 or status >= 500 or status == 0
    if isinstance(error, requests.Timeout):
        return "timeout", True
    if isinstance(error, (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)):
        return "connection", True
    if isinstance(error, (json.JSONDecodeError, UnicodeDecodeError)):
        return "bad_json", True
    if isinstance(error, requests.RequestException):
        return "http_error", True
    return "bad_answer", False  # flickrapi could not parse what came back (not an object, no code, ...)


class FlickrClient:
    """Thread-safe: each thread gets its own ``flickrapi.FlickrAPI`` object."""

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
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._local = threading.local()
        # flickrapi shares one requests.Session (pool of 10) between all its clients; size its
        # pool for our worker threads so connections are reused, not dropped and reopened.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=pool_size)
        for prefix in ("http://", "https://"):
            OAuthFlickrInterface.session.mount(prefix, adapter)

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
            self._local.api = api
        return api

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Call ``method`` (e.g. ``"flickr.photos.search"``) and return the parsed answer."""
        last_kind = ""
        for attempt in range(1, self.retry.max_attempts + 1):
            if self.rate_limiter is not None:
                self.rate_limiter.acquire()
            self.on_call(method, SENT)
            try:
                answer = self._api().do_flickr_call(method, **{k: str(v) for k, v in params.items() if v is not None})
            except Exception as error:  # noqa: BLE001 - classified below; what no kind fits is an unreadable answer
                kind, transient = classify_failure(error)
                self.on_call(method, kind)
                if not transient and isinstance(error, FlickrError):
                    error_type = FatalFlickrError if error.code in FATAL_CODES else FlickrApiError
                    raise error_type(method, error.code, str(error).split(": ", 2)[-1]) from None
                if not transient:
                    reason = f"unreadable answer ({type(error).__name__}: {str(error)[:200]})"
                    raise FlickrApiError(method, None, reason) from error
                last_kind = kind
                if attempt < self.retry.max_attempts:
                    with self._rng_lock:
                        delay = self.retry.delay(attempt, self._rng)
                    time.sleep(delay)
                continue
            self.on_call(method, "ok")
            return answer
        raise TransientFlickrError(f"{method} failed {self.retry.max_attempts} times (last: {last_kind})")
