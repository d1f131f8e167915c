"""``Retry-After`` is honoured (seconds or an HTTP date), shared by a client's threads, and never slept through for hours."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, formatdate

import pytest
from hang_guard import finishes

from flickrexif.crawl.client import CallStopped, FlickrClient, TransientFlickrError
from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.download import DownloadConfig, download_photos
from flickrexif.crawl.retry import RetryPolicy, retry_after_seconds
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing.replies import plain_reply

KEY = FlickrCredentials("test-key", "test-secret")
FAST = RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01)  # backoff alone would not wait


def too_many(retry_after, times=None):
    """A tamper: HTTP 429 with ``Retry-After`` for the first ``times`` requests (all if None)."""
    seen = {"n": 0}
    lock = threading.Lock()

    def edit(params, answer):
        with lock:
            seen["n"] += 1
            refuse = times is None or seen["n"] <= times
        return plain_reply(429, "Too Many Requests", (("Retry-After", retry_after),)) if refuse else answer

    return edit


def test_retry_after_is_read_in_seconds_and_as_an_http_date():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0 and retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after_seconds(format_datetime(now - timedelta(days=1), usegmt=True), now) == 0.0  # already past
    assert retry_after_seconds("9" * 400) == 1e9  # clamped, still over every cap
    for unreadable in (None, "", "soon", "-5", "1.5", "²", "Mon, 99 Foo 2026 99:99:99 GMT"):
        assert retry_after_seconds(unreadable) is None


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_429_waits_as_long_as_retry_after_asks(form, served):
    value = "2" if form == "seconds" else formatdate(time.time() + 2.5, usegmt=True)
    served.standin.tamper("flickr.test.echo", too_many(value, times=1))
    client = FlickrClient(KEY, api_url=served.standin.api_url, retry=FAST)
    started = time.monotonic()
    assert client.call("flickr.test.echo")["stat"] == "ok"
    assert time.monotonic() - started >= 1.4  # the backoff alone retries after at most 10 ms
    assert served.standin.calls["flickr.test.echo"] == 2


def test_a_retry_after_of_an_hour_fails_the_call_at_once_and_holds_the_next_calls(served):
    reports, exif_before = [], served.standin.calls["flickr.photos.getExif"]  # the fixture's crawl
    served.standin.tamper("flickr.test.echo", too_many("3600"))
    client = FlickrClient(KEY, api_url=served.standin.api_url, retry=FAST, on_call=lambda m, o: reports.append(o))
    with pytest.raises(TransientFlickrError, match=r"retry after 3600 s \(Retry-After\)"):
        finishes(lambda: client.call("flickr.test.echo"))
    with pytest.raises(TransientFlickrError, match="not sent"):  # the pause holds every thread's calls
        finishes(lambda: client.call("flickr.photos.getExif", photo_id="1"))
    assert (
        served.standin.calls["flickr.test.echo"] == 1 and served.standin.calls["flickr.photos.getExif"] == exif_before
    )
    assert reports == ["sent", "http429"]


def test_a_stop_ends_a_retry_after_wait(served):
    served.standin.tamper("flickr.test.echo", too_many("100"))  # under the cap: it would be waited for
    client = FlickrClient(KEY, api_url=served.standin.api_url, retry=FAST)
    threading.Timer(0.5, client.stop).start()
    with pytest.raises(CallStopped):
        finishes(lambda: client.call("flickr.test.echo"))
    assert served.standin.calls["flickr.test.echo"] == 1


def download(served, tmp_path, **config):
    def run():
        with CrawlStore(served.db) as store:
            counts = download_photos(store, DownloadConfig(out_dir=tmp_path / "out", workers=2, **config))
            return counts, {photo.id: photo.download_error for photo in store.photos()}

    return finishes(run)


def test_downloads_honour_retry_after(served, tmp_path):
    served.standin.tamper("download", too_many("1", times=1))
    started = time.monotonic()
    counts, _ = download(served, tmp_path, retry=FAST)
    assert counts == {"done": len(served.photos)} and time.monotonic() - started >= 0.9


def test_downloads_asked_to_wait_an_hour_fail_without_hammering_the_server(served, tmp_path):
    served.standin.tamper("download", too_many("3600"))
    counts, errors = download(served, tmp_path, retry=FAST)
    assert counts == {"failed": len(served.photos)}
    assert served.standin.calls["download"] <= 2  # one per worker at most, then the pause holds the rest
    assert all("Retry-After" in error for error in errors.values())
    served.standin.tamper("download", None)
    assert download(served, tmp_path)[0] == {"done": len(served.photos)}  # the next run gets them
