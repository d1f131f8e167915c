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

Everything Flickr sends is untrusted, and one bad item never stops the crawl: a getExif answer that
cannot be read leaves its photo ``failed`` (kept in its owner-month slot, retried on the next run),
a value that cannot be parsed is dropped with a note in the photo's ``error``, a search row without
a usable id or owner is left out and counted on its window, and a search page that cannot be read
fails its window, which the next run retries.  Only a :class:`FatalFlickrError` (bad key) stops it.
"""

from __future__ import annotations

import json
import logging
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
from flickrexif.crawl.client import SENT, FatalFlickrError, FlickrApiError, FlickrClient, TransientFlickrError
from flickrexif.crawl.records import Window
from flickrexif.crawl.search import (
    DATE_FORMAT,
    BadSearchAnswer,
    CrawlConfig,
    parse_search_answer,
    search_params,
    split_range,
)
from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.labels import label_record
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tags import MalformedExifAnswer, checked_exif_items, read_flickr_exif

LOG = logging.getLogger(__name__)
MAX_SPLIT = 1000  # sub-windows per split at most: a sub-window still over the cap is split again


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
    labels: dict[str, str | None] | None = None
    error: str | None = None


class CallCounter:
    """Thread-safe (method, outcome) counts; the crawl flushes them into the store.

    The client's ``SENT`` reports go to ``on_send`` at once (the crawl points it at
    :meth:`CrawlStore.note_call_sent`, so a call counts as spent before it is sent); without one they
    are ignored.
    """

    def __init__(self) -> None:
        self._counts: Counter = Counter()
        self._lock = threading.Lock()
        self.on_send: Callable[[str], None] | None = None

    def __call__(self, method: str, outcome: str) -> None:
        if outcome == SENT:
            if self.on_send is not None:
                self.on_send(method)
            return
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
    """One ``getExif`` call, parsed, judged and labelled; runs in a worker thread, touches no store.

    Never raises but :class:`FatalFlickrError`: whatever else goes wrong is the photo's outcome.
    """
    try:
        answer = client.call("flickr.photos.getExif", photo_id=photo_id)
        return judge_exif(photo_id, checked_exif_items(answer))
    except FatalFlickrError:
        raise
    except FlickrApiError as error:
        status = {1: states.EXIF_MISSING, 2: states.EXIF_HIDDEN}.get(error.code)
        if status is None:
            return ExifOutcome(photo_id, states.FAILED, error=str(error))
        return ExifOutcome(photo_id, status, error=error.message)
    except TransientFlickrError as error:
        return ExifOutcome(photo_id, states.FAILED, error=str(error))
    except MalformedExifAnswer as error:
        return ExifOutcome(photo_id, states.FAILED, error=f"malformed getExif answer: {error}")
    except Exception as error:  # noqa: BLE001 - a poison pill must not stop the crawl: retried next run
        LOG.debug("getExif answer for photo %s could not be read", photo_id, exc_info=True)
        return ExifOutcome(photo_id, states.FAILED, error=f"getExif answer unreadable: {type(error).__name__}: {error}")


def judge_exif(photo_id: str, items: list[Any]) -> ExifOutcome:
    """The outcome of a well-formed answer: kept if any camera field was read, with its labels."""
    record, notes = read_flickr_exif(items)
    camera_fields = (
        record.make,
        record.model,
        record.exposure_time,
        record.f_number,
        record.iso,
        record.focal_length_mm,
    )
    status = states.KEPT if any(value is not None for value in camera_fields) else states.NO_CAMERA_EXIF
    note = "; ".join(notes)[:2000] or None  # values dropped as unusable: a problem noted, not a failure
    labels = label_record(record).values()
    return ExifOutcome(photo_id, status, [dict(item) for item in items], record, labels, note)


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
        """Fetch one page of an open window: split it if over the cap, else store the page.

        A page that cannot be had or read fails the window (retried on the next run); unusable
        rows are left out with their reasons, counted on the window.
        """
        page = window.next_page
        try:
            answer = self.client.call("flickr.photos.search", **search_params(self.config, window, page))
            result = parse_search_answer(answer)
        except FatalFlickrError:
            raise
        except (FlickrApiError, TransientFlickrError, BadSearchAnswer) as error:
            LOG.debug("search window %s..%s page %d failed: %s", window.min_taken, window.max_taken, page, error)
            self.store.fail_window(window, f"page {page}: {error}"[:2000])
            return
        finally:
            self.progress.search_pages += 1
        single_second = window.min_taken == window.max_taken
        if page == 1 and result.total > self.config.result_cap and not single_second:
            parts = min(MAX_SPLIT, math.ceil(result.total / (self.config.result_cap * 0.8)))
            self.store.split_window(window, result.total, split_range(window.min_taken, window.max_taken, parts))
            return
        reachable = min(result.pages, math.ceil(self.config.result_cap / self.config.per_page))
        last_page = reachable if result.photos or result.skipped else page
        self._queue.extend(
            self.store.add_search_page(
                window,
                page,
                last_page,
                result.total,
                result.photos,
                cap=self.config.max_per_user_month,
                allowed_licenses=self.config.licenses,
                skipped=result.skipped,
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
        cap = self.config.max_per_user_month
        try:
            promoted = self.store.record_exif(
                outcome.photo_id,
                outcome.status,
                exif_raw=outcome.items,
                exif=outcome.record,
                labels=outcome.labels,
                error=outcome.error,
                max_per_user_month=cap,
            )
        except (ValueError, TypeError) as error:  # the answer cannot be stored (JSON): a failure of this photo
            outcome = ExifOutcome(outcome.photo_id, states.FAILED, error=f"getExif answer unstorable: {error}"[:2000])
            promoted = self.store.record_exif(
                outcome.photo_id, outcome.status, error=outcome.error, max_per_user_month=cap
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
        self.calls.on_send = self.store.note_call_sent  # from here on, a call counts as spent once sent
        self.store.set_meta("last_query", self.query)
        self.store.set_meta("per_page", str(self.config.per_page))
        if not self.store.windows(self.query):
            self.store.add_window(
                self.query, self.config.min_taken.strftime(DATE_FORMAT), self.config.max_taken.strftime(DATE_FORMAT)
            )
        self.store.retry_failed()
        self.store.retry_failed_windows(self.query)
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
            self.calls.on_send = None
        return self.progress

    def _search_paused(self) -> bool:
        """Search only as far ahead as the workers can follow, and not past ``max_photos``."""
        if self.config.max_photos is not None and self._kept_or_coming() + len(self._queue) >= self.config.max_photos:
            return True
        return len(self._queue) > self.config.per_page * 2
