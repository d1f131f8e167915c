"""A crawl against a Flickr that answers with poison: every bad item is recorded on itself, none stops it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime

import pytest

from flickrexif.crawl import store as states
from flickrexif.crawl.client import SENT, FlickrApiError, FlickrClient, RetryPolicy
from flickrexif.crawl.crawler import CallCounter, CrawlConfig, Crawler
from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.records import SearchPhoto
from flickrexif.crawl.status import crawl_status
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing import FlickrStandin, generate_photos
from flickrexif.testing.replies import Reply, fail_answer

KEY = FlickrCredentials("test-key", "test-secret")
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)
RANGE = dict(min_taken=datetime(2009, 1, 1), max_taken=datetime(2025, 1, 1))
CLEAN = dict(hidden_exif_rate=0, missing_exif_rate=0, nonpermissive_rate=0, unsafe_rate=0, video_rate=0)


def run_crawl(standin, db, **config):
    calls = CallCounter()
    client = FlickrClient(KEY, api_url=standin.api_url, on_call=calls, retry=FAST_RETRY)
    with CrawlStore(db) as store:
        return Crawler(store, client, CrawlConfig(**{**RANGE, **config}), calls).run()


def rows(db):
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    found = {row["id"]: dict(row) for row in connection.execute("SELECT * FROM photos")}
    connection.close()
    return found


def one_owner_month(n, seed=5):
    """``n`` photos of one owner, all taken in March 2016, one second apart (arrival = date order)."""
    photos = generate_photos(n, seed=seed, owners=1, **CLEAN)
    for i, photo in enumerate(photos):
        photo.date_taken = datetime(2016, 3, 1, 12, 0, i)
    return photos


def set_raw(photo, tag, raw):
    photo.exif_items = [
        {**entry, "raw": {"_content": raw}} if entry["tag"] == tag else entry for entry in photo.exif_items
    ]


# --- getExif ------------------------------------------------------------------------------------


def test_values_that_do_not_parse_are_dropped_and_noted_and_the_crawl_goes_on(tmp_path):
    photos = generate_photos(12, seed=4, owners=3, **CLEAN)
    set_raw(photos[0], "ISO", "9" * 400)  # OverflowError in labels before
    set_raw(photos[1], "FNumber", "9" * 400)  # OverflowError in float() before
    set_raw(photos[2], "Flash", "²")  # ValueError in int() before
    with FlickrStandin(photos) as standin:
        progress = run_crawl(standin, tmp_path / "c.db", max_per_user_month=100)
    stored = rows(tmp_path / "c.db")
    assert progress.kept == len(photos) and {row["status"] for row in stored.values()} == {states.KEPT}
    poisoned = {
        photos[0].id: ("iso", "ISO"),
        photos[1].id: ("f_number", "FNumber"),
        photos[2].id: ("flash_fired", "Flash"),
    }
    for photo_id, (field, tag) in poisoned.items():
        assert json.loads(stored[photo_id]["exif"])[field] is None
        assert stored[photo_id]["error"].startswith(tag)
    assert all(row["error"] is None for photo_id, row in stored.items() if photo_id not in poisoned)


MALFORMED = {
    "no photo": lambda params, answer: {"stat": "ok"},
    "photo a list": lambda params, answer: {"photo": [answer["photo"]], "stat": "ok"},
    "exif not a list": lambda params, answer: {"photo": {**answer["photo"], "exif": {"tag": "Make"}}, "stat": "ok"},
    "exif missing": lambda params, answer: {"photo": {"id": params["photo_id"]}, "stat": "ok"},
    "not an object": lambda params, answer: ["photo"],
    "unparseable number": lambda params, answer: Reply(
        body=b'{"stat":"ok","photo":{"exif":[],"x":' + b"9" * 5000 + b"}}"
    ),
}


@pytest.mark.parametrize("kind", MALFORMED)
def test_a_malformed_getexif_answer_fails_the_photo_keeps_its_slot_and_is_retried(kind, tmp_path):
    photos = one_owner_month(3)
    first = photos[0].id
    edit = MALFORMED[kind]
    with FlickrStandin(photos) as standin:
        standin.tamper("flickr.photos.getExif", lambda p, a: edit(p, a) if p["photo_id"] == first else a)
        run_crawl(standin, tmp_path / "c.db", max_per_user_month=1)
        stored = rows(tmp_path / "c.db")
        assert stored[first]["status"] == states.FAILED and stored[first]["error"]
        assert stored[first]["exif"] is None
        # The slot stays with the failed photo: the others are not promoted in its place.
        assert [stored[p.id]["status"] for p in photos[1:]] == [states.CAPPED, states.CAPPED]

        standin.tamper("flickr.photos.getExif", None)
        run_crawl(standin, tmp_path / "c.db", max_per_user_month=1)
    stored = rows(tmp_path / "c.db")
    assert [stored[p.id]["status"] for p in photos] == [states.KEPT, states.CAPPED, states.CAPPED]


# --- photos.search ------------------------------------------------------------------------------


def test_bad_search_rows_are_left_out_or_filtered_and_counted(tmp_path):
    photos = generate_photos(20, seed=6, owners=4, **CLEAN)
    by_id = {photo.id: photo for photo in photos}
    no_id, no_owner, bad_date, bad_title = (photos[i].id for i in (2, 5, 8, 11))

    def spoil(params, answer):
        for entry in answer["photos"]["photo"]:
            if entry["id"] == no_id:
                del entry["id"]
            elif entry["id"] == no_owner:
                entry["owner"] = 12
            elif entry["id"] == bad_date:
                entry["datetaken"] = 20160301
            elif entry["id"] == bad_title:
                entry.update(title={"_content": "x"}, license="4", o_width="9" * 400)
        answer["photos"]["photo"].append("junk")
        return answer

    with FlickrStandin(photos) as standin:
        standin.tamper("flickr.photos.search", spoil)
        run_crawl(standin, tmp_path / "c.db")
    stored = rows(tmp_path / "c.db")
    assert set(stored) == set(by_id) - {no_id, no_owner}
    assert stored[bad_date]["status"] == states.FILTERED
    assert stored[bad_date]["filter_reason"] == "datetaken 20160301 is not a date"
    assert stored[bad_title]["status"] == states.KEPT and stored[bad_title]["title"] is None
    with CrawlStore(tmp_path / "c.db") as store:
        (window,) = store.windows()
        summary = crawl_status(store)
    assert window.status == "done" and window.skipped == 3 and "no usable id" in window.error
    assert summary["errors"]["search_rows_skipped"] == 3


HOSTILE_PAGES = {
    "photos a list": lambda params, answer: {"photos": [], "stat": "ok"},
    "no photos": lambda params, answer: {"stat": "ok"},
    "total not a number": lambda params, answer: {"photos": {**answer["photos"], "total": "lots"}, "stat": "ok"},
    "total too large": lambda params, answer: {"photos": {**answer["photos"], "total": 10**300}, "stat": "ok"},
    "photo not a list": lambda params, answer: {"photos": {**answer["photos"], "photo": {}}, "stat": "ok"},
    "code 3": lambda params, answer: fail_answer(3, "Parameterless searches have been disabled."),
    "a list": lambda params, answer: [answer],
    "unparseable number": lambda params, answer: Reply(body=b'{"stat":"ok","photos":{"total":' + b"9" * 5000 + b"}}"),
}


@pytest.mark.parametrize("kind", HOSTILE_PAGES)
def test_a_search_page_that_cannot_be_read_fails_its_window_for_the_next_run(kind, tmp_path):
    photos = generate_photos(30, seed=8, owners=5)
    with FlickrStandin(photos) as standin:
        run_crawl(standin, tmp_path / "clean.db")
        standin.tamper("flickr.photos.search", HOSTILE_PAGES[kind])
        run_crawl(standin, tmp_path / "c.db")
        with CrawlStore(tmp_path / "c.db") as store:
            (window,) = store.windows()
            summary = crawl_status(store)
        assert (window.status, window.failures, window.next_page) == ("failed", 1, 1)
        assert window.error.startswith("page 1: ")
        assert summary["errors"]["search_window_failed"] == 1 and summary["photos_seen"] == 0

        standin.tamper("flickr.photos.search", None)
        run_crawl(standin, tmp_path / "c.db")
    clean = {
        k: {c: v for c, v in r.items() if c not in ("updated_at", "url_o", "url_large")}
        for k, r in rows(tmp_path / "clean.db").items()
    }
    again = {
        k: {c: v for c, v in r.items() if c not in ("updated_at", "url_o", "url_large")}
        for k, r in rows(tmp_path / "c.db").items()
    }
    assert again == clean
    with CrawlStore(tmp_path / "c.db") as store:
        assert [(w.status, w.failures) for w in store.windows()] == [("done", 1)]


def test_a_window_that_fails_mid_way_resumes_at_its_failed_page(tmp_path):
    photos = generate_photos(30, seed=9, owners=5)
    spoil = {"on": True}

    def second_page_fails(params, answer):
        return fail_answer(3, "Odd") if spoil["on"] and params["page"] == "2" else answer

    with FlickrStandin(photos) as standin:
        run_crawl(standin, tmp_path / "clean.db", per_page=10)
        standin.tamper("flickr.photos.search", second_page_fails)
        run_crawl(standin, tmp_path / "c.db", per_page=10)
        with CrawlStore(tmp_path / "c.db") as store:
            (window,) = store.windows()
        assert (window.status, window.next_page) == ("failed", 2)
        spoil["on"] = False
        pages_before = standin.calls["flickr.photos.search"]
        run_crawl(standin, tmp_path / "c.db", per_page=10)
        assert standin.calls["flickr.photos.search"] - pages_before == 2  # pages 2 and 3 only
    assert set(rows(tmp_path / "c.db")) == set(rows(tmp_path / "clean.db"))


# --- the client and the call count --------------------------------------------------------------


def test_an_unreadable_answer_is_an_api_error_and_every_attempt_is_reported_sent_first(tmp_path):
    reports = []
    with FlickrStandin(generate_photos(3, seed=1)) as standin:
        standin.tamper("flickr.test.echo", lambda params, answer: Reply(body=b'{"stat":"fail","code":"x"}'))
        client = FlickrClient(KEY, api_url=standin.api_url, on_call=lambda m, o: reports.append(o), retry=FAST_RETRY)
        with pytest.raises(FlickrApiError) as raised:
            client.call("flickr.test.echo")
        standin.set_faults(1.0, ["http503"])
        with pytest.raises(Exception, match="failed 3 times"):
            client.call("flickr.test.echo")
    assert raised.value.code is None and "unreadable answer" in raised.value.message
    assert reports == [SENT, "bad_answer", SENT, "http503", SENT, "http503", SENT, "http503"]


def test_calls_in_flight_count_as_spent(tmp_path):
    """Sent calls are in the store before their answers; status counts those still unanswered."""
    with CrawlStore(tmp_path / "c.db") as store:
        for _ in range(3):
            store.note_call_sent("flickr.photos.getExif")
        store.note_call_sent("flickr.photos.search")
        store.count_calls({("flickr.photos.getExif", "ok"): 1, ("flickr.photos.search", "ok"): 1})
        assert store.api_calls() == {
            "flickr.photos.getExif": {"ok": 1, states.UNRECORDED: 2},
            "flickr.photos.search": {"ok": 1},
        }
        summary = crawl_status(store)
    assert summary["api_calls_total"] == 4 and summary["errors"] == {}


# --- the store ----------------------------------------------------------------------------------


def search_photo(i):
    return SearchPhoto(
        str(1000 + i), "alice", "Alice", None, 4, f"2015-06-01 12:00:0{i}", None, None, "photo", None, 1, 1, None, None
    )


def test_a_failed_photo_holds_its_slot_against_later_pages(tmp_path):
    with CrawlStore(tmp_path / "c.db") as store:
        store.add_window("q", "2015-01-01 00:00:00", "2015-12-31 23:59:59")
        (window,) = store.open_windows("q")
        licenses = frozenset({4})
        assert store.add_search_page(window, 1, 2, 2, [search_photo(1)], cap=1, allowed_licenses=licenses) == ["1001"]
        store.record_exif("1001", states.FAILED, error="malformed getExif answer", max_per_user_month=1)
        (window,) = store.open_windows("q")
        assert store.add_search_page(window, 2, 2, 2, [search_photo(2)], cap=1, allowed_licenses=licenses) == []
        assert {photo.id: photo.status for photo in store.photos()} == {"1001": states.FAILED, "1002": states.CAPPED}
        store.record_exif("1003", states.KEPT, max_per_user_month=1)  # unknown id: nothing happens
        assert store.retry_failed() == 1 and store.pending_ids() == ["1001"]


def test_a_version_1_store_is_migrated_and_keeps_its_counts(tmp_path):
    db = tmp_path / "v1.db"
    connection = sqlite3.connect(db)
    connection.executescript(V1_SCHEMA)
    connection.close()
    with CrawlStore(db) as store:
        assert store.get_meta("schema_version") == str(states.SCHEMA_VERSION)
        (window,) = store.windows()
        assert (window.status, window.error, window.failures, window.skipped) == ("done", None, 0, 0)
        assert store.api_calls() == {"flickr.photos.search": {"ok": 3, "http503": 1}}  # nothing unrecorded
        store.note_call_sent("flickr.photos.search")
        assert store.api_calls()["flickr.photos.search"][states.UNRECORDED] == 1
        store.fail_window(window, "page 2: odd")
    with CrawlStore(db) as again:
        assert again.windows()[0].status == "failed" and again.retry_failed_windows(window.query) == 1


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
CREATE TABLE search_windows (
    query TEXT NOT NULL, min_taken TEXT NOT NULL, max_taken TEXT NOT NULL, total INTEGER,
    next_page INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL, PRIMARY KEY (query, min_taken, max_taken)
);
INSERT INTO search_windows VALUES ('q', '2015-01-01 00:00:00', '2015-12-31 23:59:59', 12, 2, 'done');
CREATE TABLE api_calls (method TEXT NOT NULL, outcome TEXT NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (method, outcome));
INSERT INTO api_calls VALUES ('flickr.photos.search', 'ok', 3), ('flickr.photos.search', 'http503', 1);
"""


# --- a kill mid-call ----------------------------------------------------------------------------


@pytest.mark.slow
def test_calls_in_flight_at_a_sigkill_are_counted_as_spent(tmp_path):
    photos = generate_photos(10, seed=2, owners=2, **CLEAN)
    answer_now = threading.Event()
    db = tmp_path / "c.db"
    args = ["crawl", "--db", str(db), "--min-taken-date", "2009-01-01", "--max-taken-date", "2025-01-01"]
    args += ["--workers", "2", "--rate", "1000000"]
    with FlickrStandin(photos) as standin:
        standin.tamper("flickr.photos.getExif", lambda params, answer: answer_now.wait() and answer)
        env = {**os.environ, "FLICKR_API_KEY": "test-key", "FLICKR_API_SECRET": "s", "FLICKR_API_URL": standin.api_url}
        process = subprocess.Popen(
            [sys.executable, "-m", "flickrexif", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            while process.poll() is None and standin.calls["flickr.photos.getExif"] < 2:
                time.sleep(0.01)  # both workers' calls are held by the stand-in, unanswered
            assert process.poll() is None, process.stderr.read().decode()
            process.send_signal(signal.SIGKILL)
            process.wait()
        finally:
            answer_now.set()
            process.stderr.close()
        received = {method: n for method, n in standin.calls.items() if method.startswith("flickr.")}
    assert received == {"flickr.photos.search": 1, "flickr.photos.getExif": 2}
    with CrawlStore(db) as store:
        summary = crawl_status(store)
        assert store.api_calls()["flickr.photos.getExif"] == {states.UNRECORDED: 2}
    assert summary["api_calls"] == received and summary["api_calls_total"] == 3
