"""The crawler against the loopback Flickr stand-in, through the real flickrapi client."""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from datetime import datetime

import pytest

from flickrexif.crawl import store as states
from flickrexif.crawl.client import FatalFlickrError, FlickrClient, RetryPolicy
from flickrexif.crawl.crawler import CallCounter, CrawlConfig, Crawler
from flickrexif.crawl.credentials import FlickrCredentials
from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.crawl.store import CrawlStore
from flickrexif.testing import FlickrStandin, generate_photos

KEY = FlickrCredentials("test-key", "test-secret-do-not-print")
FAST_RETRY = RetryPolicy(max_attempts=10, base_delay=0.001, max_delay=0.01)
RANGE = dict(min_taken=datetime(2009, 1, 1), max_taken=datetime(2025, 1, 1))


def run_crawl(standin, db, *, credentials=KEY, **config):
    calls = CallCounter()
    client = FlickrClient(credentials, api_url=standin.api_url, on_call=calls, retry=FAST_RETRY)
    with CrawlStore(db) as store:
        progress = Crawler(store, client, CrawlConfig(**{**RANGE, **config}), calls).run()
        return progress, store.api_calls()


def photo_rows(db):
    """The crawl's content, without timestamps and counters that depend on timing."""
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    rows = connection.execute("SELECT * FROM photos ORDER BY id").fetchall()
    connection.close()

    def comparable(key, value):  # the stand-in's port changes between servers
        return re.sub(r"^http://127\.0\.0\.1:\d+", "", value) if key.startswith("url") and value else value

    return {
        row["id"]: {k: comparable(k, row[k]) for k in row.keys() if k not in ("updated_at", "attempts")} for row in rows
    }


def expected_kept_per_owner_month(photos, cap):
    """Order-free oracle: each owner-month keeps min(cap, its photos with usable Exif)."""
    usable = Counter()
    for photo in photos:
        eligible = photo.license in PERMISSIVE_LICENSES and photo.safety_level == 0 and photo.media == "photo"
        if eligible and photo.exif_error is None and photo.exif_items:
            usable[(photo.owner, photo.date_taken.strftime("%Y-%m"))] += 1
    return {key: min(cap, n) for key, n in usable.items()}


def kept_per_owner_month(db):
    counts = Counter()
    for row in photo_rows(db).values():
        if row["status"] == states.KEPT:
            counts[(row["owner"], row["month"])] += 1
    return dict(counts)


@pytest.fixture(scope="module")
def population():
    return generate_photos(600, seed=7, owners=25)


def test_crawl_keeps_capped_share_of_every_owner_month(population, tmp_path):
    with FlickrStandin(population, max_results=120) as standin:
        progress, calls = run_crawl(standin, tmp_path / "c.db", max_per_user_month=3, per_page=50, result_cap=120)
        received = dict(standin.calls)
    assert kept_per_owner_month(tmp_path / "c.db") == expected_kept_per_owner_month(population, 3)
    rows = photo_rows(tmp_path / "c.db")
    # No getExif for a capped or filtered photo: every call has a recorded outcome.
    with_outcome = [r for r in rows.values() if r["status"] not in (states.CAPPED, states.FILTERED, states.PENDING)]
    assert received["flickr.photos.getExif"] == len(with_outcome)
    assert set(standin.exif_requests) == {r["id"] for r in with_outcome}
    assert sum(calls["flickr.photos.getExif"].values()) == received["flickr.photos.getExif"]
    # Windows were split to stay under the 120-result cap, and no eligible photo was missed.
    eligible = {
        p.id for p in population if p.license in PERMISSIVE_LICENSES and p.safety_level == 0 and p.media == "photo"
    }
    assert set(rows) == eligible
    assert progress.kept == sum(expected_kept_per_owner_month(population, 3).values())


def test_kept_rows_carry_parsed_exif_labels_and_raw_items(population, tmp_path):
    with FlickrStandin(population[:150]) as standin:
        run_crawl(standin, tmp_path / "c.db")
    kept = [r for r in photo_rows(tmp_path / "c.db").values() if r["status"] == states.KEPT]
    assert kept
    sample = kept[0]
    exif, labels = json.loads(sample["exif"]), json.loads(sample["labels"])
    assert exif["make"] and labels["make"] and labels["exposure"]
    assert json.loads(sample["exif_raw"])[0]["tag"]
    assert sample["owner_name"] and sample["license"] in PERMISSIVE_LICENSES and sample["date_taken"]
    by_id = {p.id: p for p in population}
    assert all(r["month"] == by_id[r["id"]].date_taken.strftime("%Y-%m") for r in kept)


def test_hidden_exif_frees_the_month_for_the_next_photo(tmp_path):
    photos = generate_photos(
        40,
        seed=3,
        owners=1,
        hidden_exif_rate=0.5,
        missing_exif_rate=0,
        nonpermissive_rate=0,
        unsafe_rate=0,
        video_rate=0,
    )
    with FlickrStandin(photos) as standin:
        run_crawl(standin, tmp_path / "c.db", max_per_user_month=1)
    assert kept_per_owner_month(tmp_path / "c.db") == expected_kept_per_owner_month(photos, 1)
    statuses = Counter(r["status"] for r in photo_rows(tmp_path / "c.db").values())
    assert statuses[states.EXIF_HIDDEN] > 0 and statuses[states.KEPT] > 0


def test_transient_faults_change_nothing_in_the_result(population, tmp_path):
    with FlickrStandin(population[:300]) as clean:
        run_crawl(clean, tmp_path / "clean.db", max_per_user_month=2)
    with FlickrStandin(population[:300], fault_rate=0.25, seed=11) as faulty:
        _, calls = run_crawl(faulty, tmp_path / "faulty.db", max_per_user_month=2)
        injected = sum(faulty.faults.values())
    assert injected > 20
    assert photo_rows(tmp_path / "faulty.db") == photo_rows(tmp_path / "clean.db")
    failures = sum(
        n for outcomes in calls.values() for kind, n in outcomes.items() if kind not in ("ok", "code1", "code2")
    )
    assert failures == injected  # every failed attempt was counted, by kind


def test_max_photos_stops_the_crawl(population, tmp_path):
    with FlickrStandin(population) as standin:
        progress, _ = run_crawl(standin, tmp_path / "c.db", max_photos=50, workers=4)
        exif_calls = standin.calls["flickr.photos.getExif"]
    assert progress.kept == 50
    assert exif_calls < 50 * 1.2  # stops dispatching once enough are kept or in flight


def test_rerunning_a_finished_crawl_spends_no_getexif(population, tmp_path):
    with FlickrStandin(population[:200]) as standin:
        run_crawl(standin, tmp_path / "c.db")
        before = photo_rows(tmp_path / "c.db")
        exif_calls = standin.calls["flickr.photos.getExif"]
        run_crawl(standin, tmp_path / "c.db")
        assert standin.calls["flickr.photos.getExif"] == exif_calls
    assert photo_rows(tmp_path / "c.db") == before


def test_invalid_key_stops_with_a_fatal_error_and_keeps_the_store(population, tmp_path):
    with FlickrStandin(population[:50]) as standin:
        with pytest.raises(FatalFlickrError) as raised:
            run_crawl(standin, tmp_path / "c.db", credentials=FlickrCredentials("wrong-key", "x"))
    assert raised.value.code == 100
    with CrawlStore(tmp_path / "c.db") as store:
        assert store.api_calls() == {"flickr.photos.search": {"code100": 1}}


def test_the_cap_is_per_owner_and_month(tmp_path):
    photos = generate_photos(
        24, seed=5, owners=3, hidden_exif_rate=0, missing_exif_rate=0, nonpermissive_rate=0, unsafe_rate=0, video_rate=0
    )
    owners = sorted({p.owner for p in photos})[:2]
    for i, photo in enumerate(photos):  # two owners, all in March or April 2016
        photo.owner = owners[i % 2]
        photo.date_taken = datetime(2016, 3 + (i % 4 >= 2), 1 + i, 12, 0, 0)
    with FlickrStandin(photos) as standin:
        run_crawl(standin, tmp_path / "c.db", max_per_user_month=2)
    assert kept_per_owner_month(tmp_path / "c.db") == {
        (owners[0], "2016-03"): 2,
        (owners[1], "2016-03"): 2,
        (owners[0], "2016-04"): 2,
        (owners[1], "2016-04"): 2,
    }
