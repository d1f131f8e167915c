"""``flickrexif crawl``: search Flickr, cap per owner-month, fetch Exif, label, store.

Order of work per photo: search page → cheap filters (license, media, already stored,
owner-month cap; all in :mod:`flickrexif.crawl.store`) → ``getExif`` → parse and label → store.
Searches run in the calling thread, one page at a time; ``getExif`` calls run in a pool of
worker threads that only do HTTP and parsing; every database write happens in the calling
thread, so the store needs no locking and each step is one transaction.

Flickr returns at most 4,000 results per query.  The date-taken range is sliced adaptively: a
window whose ``total`` is over the cap is split into enough equal sub-windows to fit, and only
windows under the cap are paged through.  Windows and their next page live in the store, so a
restarted crawl continues where the killed one stopped.  What is searched, and the pure functions
that ask and split, are in :mod:`flickrexif.crawl.search`.
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
from datetime import datetime
from typing import Any

from flickrexif.crawl import store as states
from flickrexif.crawl.client import FlickrApiError, FlickrClient, TransientFlickrError
from flickrexif.crawl.records import Window
from flickrexif.crawl.search import DATE_FORMAT, CrawlConfig, parse_search_photo, search_params, split_range
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.labels import label_record
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tags import exif_from_flickr, flickr_exif_items


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
    camera_fields = (
        record.make,
        record.model,
        record.exposure_time,
        record.f_number,
        record.iso,
        record.focal_length_mm,
    )
    status = states.KEPT if any(value is not None for value in camera_fields) else states.NO_CAMERA_EXIF
    return ExifOutcome(photo_id, status, items=[dict(item) for item in items], record=record)


class Crawler:
    """One crawl run over a store; :meth:`run` is resumable and stops cleanly on Ctrl-C."""

    def __init__(
        self,
        store: CrawlStore,
        client: FlickrClient,
        config: CrawlConfig,
        calls: CallCounter,
        on_progress: Callable[[CrawlProgress], None] | None = None,
    ):
        self.store, self.client, self.config, self.calls = store, client, config, calls
        self.on_progress = on_progress or (lambda progress: None)
        self.progress = CrawlProgress()
        self.query = config.query_key()
        self._in_flight: dict[Future, str] = {}
        self._queue: deque[str] = deque()
        self._clock = time.monotonic()

    # --- search ----------------------------------------------------------------------------

    def _search_step(self, window: Window) -> None:
        """Fetch one page of an open window: split it if over the cap, else store the page."""
        page = window.next_page
        answer = self.client.call("flickr.photos.search", **search_params(self.config, window, page))
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
                window,
                page,
                last_page,
                total,
                items,
                cap=self.config.max_per_user_month,
                allowed_licenses=self.config.licenses,
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
            exif=record,
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
