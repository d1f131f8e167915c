"""A server that trickles its answer holds no request past its total deadline, and Ctrl-C stops crawl and download.

Per-read timeouts never fire on a server that sends a byte every fraction of a second; each request
now has a total deadline.  The Ctrl-C tests run the real commands in a subprocess, send SIGINT and
check that it exits (with a generous guard, never a tight time) and leaves its store consistent.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from hang_guard import HANG_S, finishes

from flickrexif.crawl import store as states
from flickrexif.crawl.client import FlickrClient, RetryPolicy, TransientFlickrError
from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.download import DownloadConfig, download_photos
from flickrexif.crawl.status import crawl_status
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing.flickr_server import WireReply
from flickrexif.testing.replies import Reply, json_reply, plain_reply

KEY = FlickrCredentials("test-key", "test-secret")
ONE_TRY = RetryPolicy(max_attempts=1)


def trickled(params, answer):
    """The same answer, one byte every 50 ms: minutes for a photo, yet never a second without a byte."""
    reply = answer if isinstance(answer, Reply) else json_reply(answer, params)
    return WireReply(reply.status, reply.body, reply.content_type, reply.headers, trickle_s=0.05)


def test_a_trickled_api_answer_is_cut_at_the_total_deadline(served):
    reports = []
    served.standin.tamper("flickr.test.echo", lambda params, answer: trickled(params, {**answer, "pad": "x" * 400}))
    client = FlickrClient(KEY, api_url=served.standin.api_url, timeout=1.0, retry=RetryPolicy(2, 0.001, 0.001))
    client.on_call = lambda method, outcome: reports.append(outcome)
    with pytest.raises(TransientFlickrError, match="failed 2 times"):
        finishes(lambda: client.call("flickr.test.echo"))
    assert reports == ["sent", "timeout", "sent", "timeout"]
    served.standin.tamper("flickr.test.echo", None)
    assert client.call("flickr.test.echo")["stat"] == "ok"  # the client is fine afterwards


def test_a_trickled_photo_file_fails_at_the_deadline_and_downloads_on_the_next_run(served, tmp_path):
    served.standin.tamper("download", trickled)
    config = DownloadConfig(out_dir=tmp_path / "out", workers=3, timeout=1.0, deadline=1.0, retry=ONE_TRY)

    def download():
        with CrawlStore(served.db) as store:
            return download_photos(store, config)

    assert finishes(download) == {"failed": len(served.photos)}
    with CrawlStore(served.db) as store:
        assert {photo.download_error for photo in store.photos()} == {"DeadlineExceeded (after 1 attempts)"}
    assert not list((tmp_path / "out").rglob("*.part"))
    served.standin.tamper("download", None)
    with CrawlStore(served.db) as store:
        assert download_photos(store, config) == {"done": len(served.photos)}


# --- Ctrl-C -------------------------------------------------------------------------------------


def interrupt(args, served, *, when):
    """Run ``flickrexif ARGS``; once ``when()`` holds, send SIGINT; its exit code and what it printed."""
    env = {**os.environ, **served.env()}
    process = subprocess.Popen(
        [sys.executable, "-m", "flickrexif", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        give_up = time.monotonic() + 60
        while process.poll() is None and not when() and time.monotonic() < give_up:
            time.sleep(0.02)
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.3)  # the requests are well under way
        process.send_signal(signal.SIGINT)
        try:
            code = process.wait(timeout=HANG_S)  # a guard only: it exits in about a second
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail("still running 60 s after Ctrl-C")
        return code, process.stderr.read().decode()
    finally:
        process.stderr.close()


@pytest.mark.slow
def test_ctrl_c_stops_a_download_stuck_on_trickling_files(served, tmp_path):
    out = tmp_path / "out"
    assert served.standin.calls["download"] == 0
    served.standin.tamper("download", trickled)
    code, printed = interrupt(
        ["download", "--db", str(served.db), "--out", str(out), "--workers", "3"],
        served,
        when=lambda: served.standin.calls["download"] >= 3,
    )
    assert code == 130, printed  # "Interrupted. Finished files are recorded; run again to resume."
    assert not list(out.rglob("*.part"))
    with CrawlStore(served.db) as store:
        assert {photo.download_status for photo in store.photos()} == {None}
    served.standin.tamper("download", None)
    with CrawlStore(served.db) as store:
        assert download_photos(store, DownloadConfig(out_dir=out)) == {"done": len(served.photos)}


def crawl_args(db):
    return ["crawl", "--db", str(db), "--min-taken-date", "2009-01-01", "--max-taken-date", "2025-01-01"] + [
        "--workers", "3", "--rate", "1000000", "--max-per-user-month", "100",
    ]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("hang", ["trickle", "outage"])
def test_ctrl_c_stops_a_crawl_whose_getexif_calls_hang_or_fail(hang, served, tmp_path):
    db = tmp_path / "fresh.db"
    outage = lambda params, answer: plain_reply(503, "Service Unavailable")  # noqa: E731
    served.standin.tamper("flickr.photos.getExif", trickled if hang == "trickle" else outage)
    before = served.standin.calls["flickr.photos.getExif"]  # the fixture's crawl
    code, printed = interrupt(
        crawl_args(db), served, when=lambda: served.standin.calls["flickr.photos.getExif"] >= before + 3
    )
    assert code == 130, printed
    received = served.standin.calls["flickr.photos.getExif"] - before
    with CrawlStore(db) as store:
        statuses = {photo.status for photo in store.photos()}
        calls = store.api_calls()["flickr.photos.getExif"]
        summary = crawl_status(store)
    assert statuses == {states.PENDING}  # nothing judged on an abandoned answer: all retried on resume
    assert sum(calls.values()) == received  # every call sent is counted, stopped ones too
    assert summary["photos_seen"] == len(served.photos)

    served.standin.tamper("flickr.photos.getExif", None)
    served.crawl(db)
    connection = sqlite3.connect(db)
    assert {row[0] for row in connection.execute("SELECT status FROM photos")} == {states.KEPT}
    connection.close()
