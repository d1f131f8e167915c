"""``flickrexif crawl``: search Flickr, cap per owner-month, fetch Exif, label, store.

Order of work per photo: search page → cheap filters (license, media, already stored,
owner-month cap; all in :mod:`flickrexif.crawl.store`) → ``getExif`` → parse and label → store.
Searches run in the calling thread, one page at a time; ``getExif`` calls run in a pool of
worker threads that only do HTTP and parsing; every database write happens in the calling
thread, so the store needs no locking and each step is one transaction.

Flickr returns at most 4,000 results per query.  The date-taken range is sliced adaptively: a
window whose ``total`` is over the cap is split into enough equal sub-windows to fit, and only
windows under the cap are paged through.  Windows and their next page live in the store, so a
restarted crawl continues where the killed one stopped.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flickrexif.crawl import store as states
from flickrexif.exif.tags import exif_from_flickr, flickr_exif_items
from flickrexif.crawl.client import FlickrApiError, FlickrClient, TransientFlickrError
from flickrexif.exif.labels import label_record
from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.exif.record import ExifRecord
from flickrexif.crawl.store import CrawlStore, SearchPhoto, Window

SEARCH_EXTRAS = "owner_name,license,date_taken,date_upload,o_dims,original_format,url_o,url_l,tags,media"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class CrawlConfig:
    """What to search and how hard to crawl; recorded in the store with the windows."""

    min_taken: datetime
    max_taken: datetime
    text: str | None = None
    tags: str | None = None
    licenses: frozenset[int] = PERMISSIVE_LICENSES
    max_per_user_month: int = 10
    max_photos: int | None = None
    workers: int = 8
    per_page: int = 500
    result_cap: int = 4000

    def __post_init__(self) -> None:
        if self.max_taken <= self.min_taken:
            raise ValueError(f"max taken date {self.max_taken} must be after min taken date {self.min_taken}")
        if self.max_per_user_month < 1:
            raise ValueError("--max-per-user-month must be at least 1")
        if not 1 <= self.per_page <= 500:
            raise ValueError("per_page must be between 1 and 500 (Flickr's maximum)")
        if self.workers < 1:
            raise ValueError("--workers must be at least 1")
        if not self.licenses:
            raise ValueError("at least one license id is needed")

    def query_key(self) -> str:
        """Canonical JSON naming this search, so windows of different searches never mix."""
        return json.dumps(
            {
                "text": self.text, "tags": self.tags, "licenses": sorted(self.licenses),
                "min_taken": self.min_taken.strftime(DATE_FORMAT), "max_taken": self.max_taken.strftime(DATE_FORMAT),
            },
            sort_keys=True,
        )


@dataclass
class CrawlProgress:
    """Counters the crawl updates as it goes (read by progress bars)."""

    search_pages: int = 0
    exif_done: int = 0
    kept: int = 0
    outcomes: Counter = field(default_factory=Counter)


@dataclass(frozen=True)
class ExifOutcome:
    photo_id: str
    status: str
    items: list[dict[str, Any]] | None = None
    record: ExifRecord | None = None
    error: str | None = None


class CallCounter:
    """Thread-safe (method, outcome) counts; the crawl flushes them into the store."""

    def __init__(self) -> None:
        self._counts: Counter = Counter()
        self._lock = threading.Lock()

    def __call__(self, method: str, outcome: str) -> None:
        with self._lock:
            self._counts[(method, outcome)] += 1

    def drain(self) -> dict[tuple[str, str], int]:
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts


def previous_max_taken(store: CrawlStore, config: CrawlConfig) -> datetime | None:
    """The end date of the store's last crawl if it was the same search, for resuming it.

    A crawl whose end defaults to "now" would otherwise be a new search on every run and
    page through every window again.
    """
    last = store.get_meta("last_query")
    if last is None:
        return None
    previous, current = json.loads(last), json.loads(config.query_key())
    if any(previous[key] != current[key] for key in ("text", "tags", "licenses", "min_taken")):
        return None
    return datetime.strptime(previous["max_taken"], DATE_FORMAT)


def fetch_exif(client: FlickrClient, photo_id: str) -> ExifOutcome:
    """One ``getExif`` call, parsed and judged; runs in a worker thread, touches no store."""
    try:
        answer = client.call("flickr.photos.getExif", photo_id=photo_id)
    except FlickrApiError as error:
        status = {1: states.EXIF_MISSING, 2: states.EXIF_HIDDEN}.get(error.code)
        if status is None:
            return ExifOutcome(photo_id, states.FAILED, error=str(error))
        return ExifOutcome(photo_id, status, error=error.message)
    except TransientFlickrError as error:
        return ExifOutcome(photo_id, states.FAILED, error=str(error))
    items = flickr_exif_items(answer)
    record = exif_from_flickr(items)
    camera_fields = (record.make, record.model, record.exposure_time, record.f_number, record.iso, record.focal_length_mm)
    status = states.KEPT if any(value is not None for value in camera_fields) else states.NO_CAMERA_EXIF
    return ExifOutcome(photo_id, status, items=[dict(item) for item in items], record=record)


def parse_search_photo(item: dict[str, Any]) -> SearchPhoto:
    def integer(key: str) -> int | None:
        try:
            return int(item[key])
        except (KeyError, TypeError, ValueError):
            return None

    return SearchPhoto(
        id=str(item["id"]),
        owner=str(item.get("owner", "")),
        owner_name=item.get("ownername"),
        title=item.get("title"),
        license=integer("license"),
        date_taken=item.get("datetaken"),
        date_upload=integer("dateupload"),
        tags=item.get("tags"),
        media=item.get("media"),
        original_format=item.get("originalformat"),
        o_width=integer("o_width"),
        o_height=integer("o_height"),
        url_o=item.get("url_o"),
        url_large=item.get("url_l"),
    )


def split_range(min_taken: str, max_taken: str, parts: int) -> list[tuple[str, str]]:
    """Split an inclusive second-resolution range into up to ``parts`` adjacent inclusive ranges.

    Flickr's taken-date bounds are both inclusive, so sub-ranges end one second before the next
    begins: every second is searched exactly once.
    """
    start = datetime.strptime(min_taken, DATE_FORMAT)
    span = int((datetime.strptime(max_taken, DATE_FORMAT) - start).total_seconds()) + 1
    parts = max(1, min(parts, span))
    edges = [start + timedelta(seconds=span * i // parts) for i in range(parts + 1)]
    return [
        (edges[i].strftime(DATE_FORMAT), (edges[i + 1] - timedelta(seconds=1)).strftime(DATE_FORMAT))
        for i in range(parts)
    ]


class Crawler:
    """One crawl run over a store; :meth:`run` is resumable and stops cleanly on Ctrl-C."""

    def __init__(self, store: CrawlStore, client: FlickrClient, config: CrawlConfig, calls: CallCounter,
                 on_progress: Callable[[CrawlProgress], None] | None = None):
        self.store, self.client, self.config, self.calls = store, client, config, calls
        self.on_progress = on_progress or (lambda progress: None)
        self.progress = CrawlProgress()
        self.query = config.query_key()
        self._in_flight: dict[Future, str] = {}
        self._queue: deque[str] = deque()
        self._clock = time.monotonic()

    # --- search ----------------------------------------------------------------------------

    def _search_params(self, window: Window, page: int) -> dict[str, Any]:
        return {
            "text": self.config.text,
            "tags": self.config.tags,
            "license": ",".join(str(i) for i in sorted(self.config.licenses)),
            "min_taken_date": window.min_taken,
            "max_taken_date": window.max_taken,
            "safe_search": 1,
            "content_types": 0,
            "media": "photos",
            "sort": "date-taken-asc",
            "extras": SEARCH_EXTRAS,
            "per_page": self.config.per_page,
            "page": page,
        }

    def _search_step(self, window: Window) -> None:
        """Fetch one page of an open window: split it if over the cap, else store the page."""
        page = window.next_page
        answer = self.client.call("flickr.photos.search", **self._search_params(window, page))
        photos = answer.get("photos", {})
        total = int(photos.get("total", 0) or 0)
        pages = int(photos.get("pages", 0) or 0)
        self.progress.search_pages += 1
        single_second = window.min_taken == window.max_taken
        if page == 1 and total > self.config.result_cap and not single_second:
            parts = math.ceil(total / (self.config.result_cap * 0.8))
            self.store.split_window(window, total, split_range(window.min_taken, window.max_taken, parts))
            return
        reachable = min(pages, math.ceil(self.config.result_cap / self.config.per_page))
        items = [parse_search_photo(item) for item in photos.get("photo", [])]
        last_page = reachable if items else page
        self._queue.extend(
            self.store.add_search_page(
                window, page, last_page, total, items,
                cap=self.config.max_per_user_month, allowed_licenses=self.config.licenses,
            )
        )

    # --- getExif ---------------------------------------------------------------------------

    def _kept_or_coming(self) -> int:
        return self.progress.kept + len(self._in_flight)

    def _dispatch(self, pool: ThreadPoolExecutor) -> None:
        limit = self.config.workers * 2
        while self._queue and len(self._in_flight) < limit:
            if self.config.max_photos is not None and self._kept_or_coming() >= self.config.max_photos:
                return
            photo_id = self._queue.popleft()
            self._in_flight[pool.submit(fetch_exif, self.client, photo_id)] = photo_id

    def _harvest(self, timeout: float | None) -> None:
        if not self._in_flight:
            return
        done, _ = wait(list(self._in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        for future in done:
            self._in_flight.pop(future)
            outcome = future.result()  # FatalFlickrError propagates and stops the crawl
            self._store_outcome(outcome)
        self._flush_counters()
        self.on_progress(self.progress)

    def _flush_counters(self) -> None:
        """Write call counts and the time spent crawling (for status's throughput and ETA)."""
        now = time.monotonic()
        seconds = float(self.store.get_meta("crawl_seconds") or 0.0) + now - self._clock
        self._clock = now
        self.store.count_calls(self.calls.drain())
        self.store.set_meta("crawl_seconds", f"{seconds:.3f}")

    def _store_outcome(self, outcome: ExifOutcome) -> None:
        record = outcome.record
        promoted = self.store.record_exif(
            outcome.photo_id,
            outcome.status,
            exif_raw=outcome.items,
            exif=None if record is None else record.to_json(),
            labels=None if record is None else label_record(record).values(),
            error=outcome.error,
            max_per_user_month=self.config.max_per_user_month,
        )
        self._queue.extend(promoted)
        self.progress.exif_done += 1
        self.progress.kept += outcome.status == states.KEPT
        self.progress.outcomes[outcome.status] += 1

    # --- the loop --------------------------------------------------------------------------

    def _target_reached(self) -> bool:
        return self.config.max_photos is not None and self.progress.kept >= self.config.max_photos

    def run(self) -> CrawlProgress:
        """Crawl until every window is paged and every pending photo has its Exif outcome."""
        self._clock = time.monotonic()
        self.store.set_meta("last_query", self.query)
        self.store.set_meta("per_page", str(self.config.per_page))
        if not self.store.windows(self.query):
            self.store.add_window(
                self.query, self.config.min_taken.strftime(DATE_FORMAT), self.config.max_taken.strftime(DATE_FORMAT)
            )
        self.store.retry_failed()
        self.progress.kept = self.store.count_by("status").get(states.KEPT, 0)
        self._queue = deque(self.store.pending_ids())
        pool = ThreadPoolExecutor(max_workers=self.config.workers, thread_name_prefix="getexif")
        try:
            while not self._target_reached():
                self._dispatch(pool)
                windows = [] if self._search_paused() else self.store.open_windows(self.query)
                if windows:
                    self._search_step(windows[0])
                    self._harvest(timeout=0)
                elif self._in_flight:
                    self._harvest(timeout=None)
                else:
                    break
                self.on_progress(self.progress)
            while self._in_flight:  # let answers already paid for land in the store
                self._harvest(timeout=None)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            self._flush_counters()
        return self.progress

    def _search_paused(self) -> bool:
        """Search only as far ahead as the workers can follow, and not past ``max_photos``."""
        if self.config.max_photos is not None and self._kept_or_coming() + len(self._queue) >= self.config.max_photos:
            return True
        return len(self._queue) > self.config.per_page * 2
