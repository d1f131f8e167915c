"""The crawl store: triage at insert, the owner-month cap, slot hand-over, idempotence, typed reads."""

from __future__ import annotations

import json
import re
import sqlite3
from fractions import Fraction
from pathlib import Path

import pytest

from flickrexif.crawl import store as states
from flickrexif.crawl.records import DownloadTarget, MissingStoreError, NotACrawlStoreError, SearchPhoto, StoreError
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.labels import label_record
from flickrexif.exif.record import ExifRecord

PERMISSIVE = frozenset({4, 5, 9})


def photo(i, owner="alice", month="2015-06", license=4, media="photo"):
    return SearchPhoto(
        id=str(1000 + i),
        owner=owner,
        owner_name=owner.title(),
        title=f"photo {i}",
        license=license,
        date_taken=f"{month}-01 12:00:{i % 60:02d}",
        date_upload=1_500_000_000 + i,
        tags="",
        media=media,
        original_format="jpg",
        o_width=100,
        o_height=80,
        url_o=f"http://x/{i}_o.jpg",
        url_large=None,
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
    return {photo.id: photo.status for photo in store.photos()}


def test_cheap_filters_and_cap_decide_who_gets_getexif(store):
    ids = add(
        store, [photo(1), photo(2), photo(3), photo(4, license=2), photo(5, media="video"), photo(6, owner="bob")]
    )
    assert ids == ["1001", "1002", "1006"]  # the third alice photo of June is over the cap of 2
    assert statuses(store) == {
        "1001": states.PENDING,
        "1002": states.PENDING,
        "1003": states.CAPPED,
        "1004": states.FILTERED,
        "1005": states.FILTERED,
        "1006": states.PENDING,
    }
    assert store.count_by("filter_reason") == {
        "none": 4,
        "license 2 is not permitted": 1,
        "media video is not a photo": 1,
    }


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
    assert store.record_exif("1002", states.KEPT, exif=ExifRecord(make="Canon"), max_per_user_month=2) == []
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
    with pytest.raises(StoreError, match="schema v99"):
        CrawlStore(tmp_path / "c.db")


# --- typed reads -------------------------------------------------------------------------------

CANON = ExifRecord(
    make="Canon",
    model="Canon EOS 5D",
    exposure_time=Fraction(1, 125),
    f_number=2.8,
    iso=200,
    focal_length_mm=50.0,
    datetime_original="2015-06-01T12:00:01",
)


def keep(store, photo_id, record=CANON, **download):
    store.record_exif(
        photo_id,
        states.KEPT,
        exif_raw=[{"tag": "Make", "raw": record.make}],
        exif=record,
        labels=label_record(record).values(),
        max_per_user_month=2,
    )
    if download:
        store.record_download(photo_id, "done", size="Original", **download)


def test_photos_are_typed_records_equal_to_what_was_recorded(store):
    add(store, [photo(1), photo(2)])
    keep(store, "1001")
    store.record_exif("1002", states.EXIF_HIDDEN, error="Permission denied", max_per_user_month=2)
    first, second = store.photos()
    assert first.exif == CANON and isinstance(first.exif.exposure_time, Fraction)
    assert first.labels == label_record(CANON).values()
    assert json.loads(first.exif_raw) == [{"raw": "Canon", "tag": "Make"}]
    assert (first.status, first.owner, first.month, first.attempts) == (states.KEPT, "alice", "2015-06", 1)
    assert (second.exif, second.labels, second.error) == (None, None, "Permission denied")
    assert [p.id for p in store.photos(states.KEPT)] == ["1001"]


def test_exif_is_stored_as_the_same_json_bytes_as_before(store):
    add(store, [photo(1)])
    keep(store, "1001")
    stored = store.db.execute("SELECT exif, labels FROM photos WHERE id = '1001'").fetchone()
    assert stored["exif"] == json.dumps(CANON.to_json(), sort_keys=True)
    assert stored["labels"] == json.dumps(label_record(CANON).values(), sort_keys=True)


def test_photos_by_id_keeps_the_asked_order_across_chunks(store):
    add(store, [photo(i, owner=f"o{i}") for i in range(1, 8)])
    wanted = ["1005", "1001", "1007", "1002", "1006"]
    assert [p.id for p in store.photos_by_id(wanted, chunk=2)] == wanted
    with pytest.raises(KeyError):
        list(store.photos_by_id(["1001", "9999"]))


def test_kept_photos_and_downloads_are_typed(store):
    add(store, [photo(1), photo(2), photo(3, owner="bob")])
    keep(store, "1001", path="01/1001.jpg", sha256="ab", nbytes=10)
    keep(store, "1003")
    kept = {p.id: p for p in store.kept_photos()}
    assert set(kept) == {"1001", "1003"}
    assert kept["1001"].exif == CANON and kept["1001"].download_path == "01/1001.jpg"
    assert kept["1003"].download_status is None and kept["1003"].labels["make"] == "Canon"
    assert store.photos_to_download() == [DownloadTarget("1003", "http://x/3_o.jpg", None, "jpg")]


def test_summaries_for_status_and_the_card(store):
    add(store, [photo(1), photo(2), photo(3), photo(4, owner="bob"), photo(5, owner="bob", month="2015-07")])
    for photo_id in ("1001", "1002", "1004"):
        keep(store, photo_id)
    keep(store, "1005", ExifRecord(make="NIKON CORPORATION", model="NIKON D90"))
    assert store.owner_months_at_cap() == 1  # alice's June: 1003 is capped
    assert store.max_kept_per_owner_month() == 2
    distributions = store.label_distributions(["make", "model"], top=1)
    assert distributions == {"make": {"Canon": 3}, "model": {"Canon EOS 5D": 3}}
    assert store.last_update() == max(p.updated_at for p in store.photos())
    query = json.dumps({"text": "sunset", "tags": None}, sort_keys=True)
    store.add_window(query, "2015-01-01 00:00:00", "2015-12-31 23:59:59")
    assert store.search_queries() == [{"text": "q"}, {"tags": None, "text": "sunset"}]  # in key order
    assert store.remaining_estimate() == 0  # no open window has a known total yet
    store.set_meta("per_page", "500")
    (window,) = store.open_windows(query)
    store.add_search_page(window, 1, 5, 1200, [], cap=2, allowed_licenses=PERMISSIVE)
    assert store.remaining_estimate() == 1200 - 500


def test_an_empty_store_summarises_to_nothing(tmp_path):
    with CrawlStore(tmp_path / "c.db") as empty:
        assert (empty.last_update(), empty.max_kept_per_owner_month(), empty.owner_months_at_cap()) == (None, 0, 0)
        assert empty.search_queries() == [] and empty.label_distributions(["make"], 10) == {"make": {}}


# --- read-only open ----------------------------------------------------------------------------


def test_readonly_open_refuses_a_missing_file_and_creates_nothing(tmp_path):
    with pytest.raises(MissingStoreError, match="no crawl database at"):
        CrawlStore.open_readonly(tmp_path / "nested" / "missing.db")
    with pytest.raises(MissingStoreError):
        CrawlStore(tmp_path / "missing.db", readonly=True)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["text", "empty", "other sqlite"])
def test_readonly_open_refuses_what_is_not_a_crawl_database_and_changes_nothing(tmp_path, kind):
    path = tmp_path / "c.db"
    if kind == "text":
        path.write_text("not a database at all, just some words\n" * 10)
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        other = sqlite3.connect(path)
        other.execute("CREATE TABLE things (x)")
        other.commit()
        other.close()
    before = path.read_bytes()
    with pytest.raises(NotACrawlStoreError, match="is not a crawl database") as raised:
        CrawlStore.open_readonly(path)
    assert isinstance(raised.value, StoreError) and isinstance(raised.value, ValueError)
    assert raised.value.cause in str(raised.value) and raised.value.cause
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["c.db"]


def test_readonly_store_reads_but_never_writes(tmp_path):
    path = tmp_path / "c.db"
    with CrawlStore(path) as writer:
        writer.add_window("q", "2015-01-01 00:00:00", "2015-12-31 23:59:59")
        add(writer, [photo(1)])
        keep(writer, "1001")
    before = path.read_bytes()
    with CrawlStore.open_readonly(path) as reader:
        assert [p.exif for p in reader.kept_photos()] == [CANON]
        assert reader.search_queries() == [{"text": "q"}]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.set_meta("x", "y")
    assert path.read_bytes() == before


# --- the store is the only module that speaks SQL ----------------------------------------------

REPO = Path(__file__).resolve().parents[3]
SQL = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE TABLE)\b.*\b(FROM|INTO|SET|WHERE)\b"
    r"|sqlite3\.connect|\.execute(many|script)?\("
)


def test_no_product_module_but_the_store_contains_sql():
    store = REPO / "flickrexif" / "crawl" / "store.py"
    files = sorted(p for package in ("flickrexif", "paircams", "benchmark") for p in (REPO / package).rglob("*.py"))
    assert store in files
    speaking = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in files
        if path != store
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert speaking == [], "SQL outside flickrexif/crawl/store.py:\n" + "\n".join(speaking)
