"""The crawl store: triage at insert, the owner-month cap, slot hand-over, idempotence."""

from __future__ import annotations

import pytest

from flickrexif.crawl import store as states
from flickrexif.crawl.store import CrawlStore, SearchPhoto

PERMISSIVE = frozenset({4, 5, 9})


def photo(i, owner="alice", month="2015-06", license=4, media="photo"):
    return SearchPhoto(
        id=str(1000 + i), owner=owner, owner_name=owner.title(), title=f"photo {i}", license=license,
        date_taken=f"{month}-01 12:00:{i % 60:02d}", date_upload=1_500_000_000 + i, tags="", media=media,
        original_format="jpg", o_width=100, o_height=80, url_o=f"http://x/{i}_o.jpg", url_large=None,
    )


@pytest.fixture
def store(tmp_path):
    with CrawlStore(tmp_path / "crawl.db") as crawl_store:
        crawl_store.add_window("q", "2015-01-01 00:00:00", "2015-12-31 23:59:59")
        yield crawl_store


def add(store, photos, cap=2):
    (window,) = store.open_windows("q") or [None]
    window = window or store.windows("q")[0]
    return store.add_search_page(window, 1, 5, len(photos), photos, cap=cap, allowed_licenses=PERMISSIVE)


def statuses(store):
    return {row["id"]: row["status"] for row in store.photos()}


def test_cheap_filters_and_cap_decide_who_gets_getexif(store):
    ids = add(store, [photo(1), photo(2), photo(3), photo(4, license=2), photo(5, media="video"), photo(6, owner="bob")])
    assert ids == ["1001", "1002", "1006"]  # the third alice photo of June is over the cap of 2
    assert statuses(store) == {
        "1001": states.PENDING, "1002": states.PENDING, "1003": states.CAPPED,
        "1004": states.FILTERED, "1005": states.FILTERED, "1006": states.PENDING,
    }
    assert store.count_by("filter_reason") == {"none": 4, "license 2 is not permitted": 1, "media video is not a photo": 1}


def test_duplicates_are_ignored_and_pages_advance(store):
    add(store, [photo(1), photo(2)])
    assert add(store, [photo(1), photo(2)]) == []
    assert len(list(store.photos())) == 2
    (window,) = store.windows("q")
    assert window.next_page == 2 and window.total == 2


def test_hidden_exif_hands_the_slot_to_the_earliest_capped_photo(store):
    add(store, [photo(1), photo(2), photo(3), photo(4)])
    promoted = store.record_exif("1001", states.EXIF_HIDDEN, error="Permission denied", max_per_user_month=2)
    assert promoted == ["1003"]
    assert store.record_exif("1002", states.KEPT, exif={"make": "Canon"}, max_per_user_month=2) == []
    assert store.record_exif("1003", states.EXIF_MISSING, max_per_user_month=2) == ["1004"]
    assert statuses(store)["1004"] == states.PENDING


def test_kept_photos_use_up_the_month_for_later_pages(store):
    add(store, [photo(1), photo(2)])
    store.record_exif("1001", states.KEPT, max_per_user_month=2)
    store.record_exif("1002", states.KEPT, max_per_user_month=2)
    assert add(store, [photo(7), photo(8, month="2015-07")]) == ["1008"]


def test_recording_twice_is_harmless(store):
    add(store, [photo(1), photo(2), photo(3)])
    assert store.record_exif("1001", states.EXIF_HIDDEN, max_per_user_month=2) == ["1003"]
    assert store.record_exif("1001", states.EXIF_HIDDEN, max_per_user_month=2) == []
    assert store.record_exif("1001", states.KEPT, max_per_user_month=2) == []
    assert statuses(store)["1001"] == states.EXIF_HIDDEN


def test_failed_photos_keep_their_slot_and_are_retried(store):
    add(store, [photo(1), photo(2), photo(3)])
    assert store.record_exif("1001", states.FAILED, error="timeout", max_per_user_month=2) == []
    assert store.retry_failed() == 1
    assert store.pending_ids() == ["1001", "1002"]


def test_api_call_counters_accumulate(store):
    store.count_calls({("flickr.photos.getExif", "ok"): 3, ("flickr.photos.getExif", "http503"): 1})
    store.count_calls({("flickr.photos.getExif", "ok"): 2})
    assert store.api_calls() == {"flickr.photos.getExif": {"http503": 1, "ok": 5}}


def test_a_failed_transaction_leaves_nothing_behind(store):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.db.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
            raise RuntimeError("killed half-way")
    assert store.get_meta("x") is None


def test_reopening_keeps_everything(tmp_path):
    with CrawlStore(tmp_path / "c.db") as first:
        first.add_window("q", "a", "b")
        add(first, [photo(1)])
    with CrawlStore(tmp_path / "c.db") as second:
        assert statuses(second) == {"1001": states.PENDING}


def test_a_newer_schema_is_refused(tmp_path):
    with CrawlStore(tmp_path / "c.db") as first:
        first.set_meta("schema_version", "99")
    with pytest.raises(ValueError, match="schema v99"):
        CrawlStore(tmp_path / "c.db")
