"""The crawl store: one SQLite database (WAL) that is the crawl's state and source of truth.

Every step of the crawl is one short transaction here, and every write is idempotent, so a crawl
killed at any moment resumes from the database with nothing lost and nothing duplicated:

- search pages: the photos of a page and the window's next page number commit together;
- photos arrive ``pending`` (they will get a ``getExif`` call) or ``capped`` (their owner's month
  is full) — the per-owner-per-month cap is decided here, before any ``getExif`` is spent;
- a ``getExif`` outcome commits with its consequences: a photo with hidden or missing Exif frees
  its owner-month slot, and the earliest ``capped`` photo of that month becomes ``pending`` (a
  ``failed`` photo keeps its slot: it is retried on the next run, as is a window whose page failed);
- every API call is counted before it is sent (:meth:`CrawlStore.note_call_sent`): a kill loses none;
- downloads record sha256, size and path once the file is safely renamed into place.

It is the only module that speaks SQL: everyone else (status, export, download, the dataset
builder) asks it questions and gets typed records back (:class:`StoredPhoto` with an
:class:`~flickrexif.exif.record.ExifRecord`, never a JSON string), so the schema can change here alone.

Only the calling thread touches a :class:`CrawlStore`; crawler worker threads do HTTP only, and
write nothing but :meth:`CrawlStore.note_call_sent`, which has its own connection and lock.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

from flickrexif.crawl.records import (
    DownloadTarget,
    KeptPhoto,
    MissingStoreError,
    NotACrawlStoreError,
    SearchPhoto,
    StoredPhoto,
    StoreError,
    Window,
)
from flickrexif.exif.record import ExifRecord

SCHEMA_VERSION = 2

# Photo states.  ``kept`` = stored with usable Exif; the other outcomes are data, not errors.
PENDING = "pending"  # waiting for its getExif call
CAPPED = "capped"  # owner-month full; promoted to pending if a slot frees
KEPT = "kept"
NO_CAMERA_EXIF = "no_camera_exif"  # getExif answered, but without any camera field
EXIF_HIDDEN = "exif_hidden"  # getExif code 2: the owner hides Exif
EXIF_MISSING = "exif_missing"  # getExif code 1: photo not found
FAILED = "failed"  # getExif kept failing, or its answer was malformed; retried on the next run
FILTERED = "filtered"  # dropped by a cheap filter (license, media); never costs a getExif

SLOT_HOLDERS = (PENDING, KEPT, FAILED)  # the states that use up an owner-month slot
UNRECORDED = "unrecorded"  # api_calls() outcome: sent, no outcome recorded (in flight, or lost to a kill)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS photos (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,               -- arrival order: decides who gets a freed month slot
    owner TEXT NOT NULL,
    owner_name TEXT,
    title TEXT,
    license INTEGER,
    date_taken TEXT,                    -- as Flickr gives it, "YYYY-MM-DD HH:MM:SS"
    month TEXT,                         -- YYYY-MM of date_taken: the cap's unit with owner
    date_upload INTEGER,
    tags TEXT,
    media TEXT,
    original_format TEXT,
    o_width INTEGER,
    o_height INTEGER,
    url_o TEXT,
    url_large TEXT,
    status TEXT NOT NULL,
    filter_reason TEXT,
    exif_raw TEXT,                      -- getExif items as JSON, kept for re-labelling
    exif TEXT,                          -- ExifRecord.to_json() as JSON
    labels TEXT,                        -- Labels.values() as JSON
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    download_status TEXT,               -- NULL (not tried), done, failed, unavailable
    download_size TEXT,                 -- "Original" or the fallback size label
    download_path TEXT,
    download_sha256 TEXT,
    download_bytes INTEGER,
    download_error TEXT,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS photos_owner_month ON photos (owner, month, status);
CREATE INDEX IF NOT EXISTS photos_status ON photos (status, seq);
CREATE UNIQUE INDEX IF NOT EXISTS photos_seq ON photos (seq);
CREATE TABLE IF NOT EXISTS search_windows (
    query TEXT NOT NULL,                -- canonical JSON of the search parameters
    min_taken TEXT NOT NULL,
    max_taken TEXT NOT NULL,
    total INTEGER,                      -- Flickr's total for the window, once known
    next_page INTEGER NOT NULL DEFAULT 1,
    status TEXT NOT NULL,               -- open, split, done, failed (retried on the next run)
    error TEXT,                         -- the last problem: why a page failed, or rows left out
    failures INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0, -- search rows left out (no usable id or owner)
    PRIMARY KEY (query, min_taken, max_taken)
);
CREATE TABLE IF NOT EXISTS api_calls (
    method TEXT NOT NULL,
    outcome TEXT NOT NULL,              -- ok, or the error kind (http503, code105, timeout, ...)
    count INTEGER NOT NULL,
    PRIMARY KEY (method, outcome)
);
CREATE TABLE IF NOT EXISTS api_sends (
    method TEXT PRIMARY KEY,
    count INTEGER NOT NULL              -- attempts sent, counted before each goes out
);
"""
# Schema version → the statements that bring a store of that version to the next one.
_MIGRATIONS = {
    1: (
        "ALTER TABLE search_windows ADD COLUMN error TEXT",
        "ALTER TABLE search_windows ADD COLUMN failures INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE search_windows ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0",
        "INSERT OR REPLACE INTO api_sends (method, count) SELECT method, SUM(count) FROM api_calls GROUP BY method",
    ),
}


def _window_key(window: Window) -> tuple[str, str, str]:
    return window.query, window.min_taken, window.max_taken


def _exif(text: str | None) -> ExifRecord | None:
    return ExifRecord.from_json(json.loads(text)) if text else None


def _labels(text: str | None) -> dict[str, str | None] | None:
    return json.loads(text) if text else None


def _stored_photo(row: sqlite3.Row) -> StoredPhoto:
    return StoredPhoto(**{**dict(row), "exif": _exif(row["exif"]), "labels": _labels(row["labels"])})


class CrawlStore:
    """Typed, transactional access to the crawl database.

    ``readonly=True`` (or :meth:`open_readonly`) opens an existing database for readers such as the
    dataset builder: the file is never created, migrated or written.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            self.db = self._connect_readonly()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = self._connect()
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)
        version = self.get_meta("schema_version")
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(version) > SCHEMA_VERSION:
            raise StoreError(f"{self.path} has crawl schema v{version}; this flickrexif reads v{SCHEMA_VERSION}")
        else:
            self._migrate(int(version))
        self._sends: sqlite3.Connection | None = None  # note_call_sent's own connection
        self._sends_lock = threading.Lock()

    def _connect(self, **options: Any) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=60, **options)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across process kills
        return db

    def _migrate(self, version: int) -> None:
        """Bring an older store up to :data:`SCHEMA_VERSION`, one version per transaction."""
        for old in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in _MIGRATIONS[old]:
                    self.db.execute(statement)
                self.set_meta("schema_version", str(old + 1))

    @classmethod
    def open_readonly(cls, path: str | Path) -> CrawlStore:
        """An existing crawl database, for reading only; raises :class:`StoreError` if it is not one."""
        return cls(path, readonly=True)

    def _connect_readonly(self) -> sqlite3.Connection:
        # No schema script and no schema-version check: a reader must not touch the file.
        if not self.path.is_file():
            raise MissingStoreError(f"no crawl database at {self.path}")
        db = sqlite3.connect(f"file:{self.path.resolve()}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            db.execute("SELECT 1 FROM photos LIMIT 1")
        except sqlite3.DatabaseError as error:
            db.close()
            raise NotACrawlStoreError(self.path, str(error)) from None
        return db

    def close(self) -> None:
        if getattr(self, "_sends", None) is not None:
            self._sends.close()
        self.db.close()

    def __enter__(self) -> CrawlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``: all of a step's writes land together or not at all."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- meta ------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # --- search windows --------------------------------------------------------------------

    def add_window(self, query: str, min_taken: str, max_taken: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO search_windows (query, min_taken, max_taken, status) VALUES (?, ?, ?, 'open')",
            (query, min_taken, max_taken),
        )

    def open_windows(self, query: str) -> list[Window]:
        rows = self.db.execute(
            "SELECT * FROM search_windows WHERE query = ? AND status = 'open' ORDER BY min_taken", (query,)
        ).fetchall()
        return [Window(**dict(row)) for row in rows]

    def windows(self, query: str | None = None) -> list[Window]:
        sql = "SELECT * FROM search_windows" + (" WHERE query = ?" if query else "") + " ORDER BY query, min_taken"
        return [Window(**dict(row)) for row in self.db.execute(sql, (query,) if query else ())]

    def split_window(self, window: Window, total: int, parts: Sequence[tuple[str, str]]) -> None:
        """Replace an over-cap window by sub-windows, in one transaction."""
        with self.transaction():
            self.db.execute(
                "UPDATE search_windows SET status = 'split', total = ? WHERE query = ? AND min_taken = ? AND max_taken = ?",
                (total, window.query, window.min_taken, window.max_taken),
            )
            for min_taken, max_taken in parts:
                self.add_window(window.query, min_taken, max_taken)

    def fail_window(self, window: Window, error: str) -> None:
        """A page of ``window`` could not be read: set it aside (``failed``) for the next run."""
        self.db.execute(
            """UPDATE search_windows SET status = 'failed', error = ?, failures = failures + 1
               WHERE query = ? AND min_taken = ? AND max_taken = ?""",
            (error, *_window_key(window)),
        )

    def retry_failed_windows(self, query: str) -> int:
        """Reopen the windows of ``query`` whose page failed on an earlier run, at that page."""
        return self.db.execute(
            "UPDATE search_windows SET status = 'open' WHERE query = ? AND status = 'failed'", (query,)
        ).rowcount

    def add_search_page(
        self,
        window: Window,
        page: int,
        pages: int,
        total: int,
        photos: Iterable[SearchPhoto],
        *,
        cap: int,
        allowed_licenses: frozenset[int],
        skipped: Sequence[str] = (),
    ) -> list[str]:
        """Store one search page and advance its window; returns ids that now need ``getExif``.

        Cheap filters run here (unusable row, license, media, already stored, owner-month cap), so a
        photo that would be dropped never reaches a ``getExif`` call.  ``skipped``: why each row that
        could not be stored (no usable id or owner) was left out; the window keeps the count and reasons.
        """
        to_fetch: list[str] = []
        with self.transaction():
            seq = self._next_seq()
            for photo in photos:
                if self.db.execute("SELECT 1 FROM photos WHERE id = ?", (photo.id,)).fetchone():
                    continue  # already stored: duplicates across pages and windows cost nothing
                status, reason = self._triage(photo, cap, allowed_licenses)
                self._insert(photo, seq, status, reason)
                seq += 1
                if status == PENDING:
                    to_fetch.append(photo.id)
            done = page >= pages
            error = f"page {page}: {len(skipped)} rows left out: {'; '.join(skipped)[:2000]}" if skipped else None
            self.db.execute(
                """UPDATE search_windows SET total = ?, next_page = ?, status = ?, skipped = skipped + ?,
                   error = COALESCE(?, error) WHERE query = ? AND min_taken = ? AND max_taken = ?""",
                (total, page + 1, "done" if done else "open", len(skipped), error, *_window_key(window)),
            )
        return to_fetch

    def _triage(self, photo: SearchPhoto, cap: int, allowed_licenses: frozenset[int]) -> tuple[str, str | None]:
        if photo.problem is not None:
            return FILTERED, photo.problem
        if photo.license not in allowed_licenses:
            return FILTERED, f"license {photo.license} is not permitted"
        if photo.media not in (None, "photo"):
            return FILTERED, f"media {photo.media} is not a photo"
        if self._slots_used(photo.owner, photo.month) >= cap:
            return CAPPED, None
        return PENDING, None

    def _slots_used(self, owner: str, month: str | None) -> int:
        row = self.db.execute(
            f"SELECT COUNT(*) FROM photos WHERE owner = ? AND month IS ? AND status IN ({','.join('?' * len(SLOT_HOLDERS))})",
            (owner, month, *SLOT_HOLDERS),
        ).fetchone()
        return row[0]

    def _next_seq(self) -> int:
        return (self.db.execute("SELECT MAX(seq) FROM photos").fetchone()[0] or 0) + 1

    def _insert(self, photo: SearchPhoto, seq: int, status: str, reason: str | None) -> None:
        self.db.execute(
            """INSERT INTO photos (id, seq, owner, owner_name, title, license, date_taken, month, date_upload,
                tags, media, original_format, o_width, o_height, url_o, url_large, status, filter_reason, updated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                photo.id,
                seq,
                photo.owner,
                photo.owner_name,
                photo.title,
                photo.license,
                photo.date_taken,
                photo.month,
                photo.date_upload,
                photo.tags,
                photo.media,
                photo.original_format,
                photo.o_width,
                photo.o_height,
                photo.url_o,
                photo.url_large,
                status,
                reason,
                time.time(),
            ),
        )

    # --- getExif outcomes ------------------------------------------------------------------

    def pending_ids(self, limit: int | None = None) -> list[str]:
        sql = "SELECT id FROM photos WHERE status = ? ORDER BY seq" + (" LIMIT ?" if limit else "")
        return [row["id"] for row in self.db.execute(sql, (PENDING, limit) if limit else (PENDING,))]

    def record_exif(
        self,
        photo_id: str,
        status: str,
        *,
        exif_raw: Any = None,
        exif: ExifRecord | None = None,
        labels: Mapping[str, str | None] | None = None,
        error: str | None = None,
        max_per_user_month: int,
    ) -> list[str]:
        """Store a getExif outcome; returns photos promoted from ``capped`` to ``pending``.

        ``exif_raw`` is the JSON-ready getExif items; ``exif`` is stored as ``exif.to_json()``.

        A photo that does not end ``kept`` frees its owner-month slot, which goes to the
        earliest-arrived capped photo of the same owner and month, so the final content does
        not depend on the order in which concurrent answers arrive.
        """
        with self.transaction():
            row = self.db.execute("SELECT owner, month, status FROM photos WHERE id = ?", (photo_id,)).fetchone()
            if row is None or row["status"] != PENDING:
                return []  # a replayed answer after a resume: already recorded
            self.db.execute(
                """UPDATE photos SET status = ?, exif_raw = ?, exif = ?, labels = ?, error = ?,
                   attempts = attempts + 1, updated_at = ? WHERE id = ?""",
                (
                    status,
                    None if exif_raw is None else json.dumps(exif_raw, sort_keys=True),
                    None if exif is None else json.dumps(exif.to_json(), sort_keys=True),
                    None if labels is None else json.dumps(labels, sort_keys=True),
                    error,
                    time.time(),
                    photo_id,
                ),
            )
            if status in SLOT_HOLDERS or status == FAILED:
                return []  # FAILED keeps its slot: it is retried on the next run
            return self._promote(row["owner"], row["month"], max_per_user_month)

    def _promote(self, owner: str, month: str | None, cap: int) -> list[str]:
        free = cap - self._slots_used(owner, month)
        if free <= 0:
            return []
        rows = self.db.execute(
            "SELECT id FROM photos WHERE owner = ? AND month IS ? AND status = ? ORDER BY seq LIMIT ?",
            (owner, month, CAPPED, free),
        ).fetchall()
        ids = [row["id"] for row in rows]
        self.db.executemany(
            "UPDATE photos SET status = ?, updated_at = ? WHERE id = ?", [(PENDING, time.time(), i) for i in ids]
        )
        return ids

    def retry_failed(self) -> int:
        """Put photos whose getExif failed on an earlier run back in the queue."""
        with self.transaction():
            return self.db.execute(
                "UPDATE photos SET status = ?, updated_at = ? WHERE status = ?", (PENDING, time.time(), FAILED)
            ).rowcount

    # --- API call counters -----------------------------------------------------------------

    def note_call_sent(self, method: str) -> None:
        """Count a call as spent, durably, before it is sent (any thread: it has its own connection).

        Until its outcome is counted, :meth:`api_calls` shows it as :data:`UNRECORDED`.
        """
        with self._sends_lock:
            if self._sends is None:
                self._sends = self._connect(check_same_thread=False)
            self._sends.execute(
                """INSERT INTO api_sends (method, count) VALUES (?, 1)
                   ON CONFLICT(method) DO UPDATE SET count = count + 1""",
                (method,),
            )

    def count_calls(self, counts: dict[tuple[str, str], int]) -> None:
        """Add per-(method, outcome) call counts (flushed in batches by the crawler)."""
        if not counts:
            return
        with self.transaction():
            self.db.executemany(
                """INSERT INTO api_calls (method, outcome, count) VALUES (?, ?, ?)
                   ON CONFLICT(method, outcome) DO UPDATE SET count = count + excluded.count""",
                [(method, outcome, n) for (method, outcome), n in counts.items()],
            )

    def api_calls(self) -> dict[str, dict[str, int]]:
        """Method → outcome → calls; calls sent without a counted outcome appear as :data:`UNRECORDED`."""
        result: dict[str, dict[str, int]] = {}
        for row in self.db.execute("SELECT method, outcome, count FROM api_calls ORDER BY method, outcome"):
            result.setdefault(row["method"], {})[row["outcome"]] = row["count"]
        try:
            sends = self.db.execute("SELECT method, count FROM api_sends ORDER BY method").fetchall()
        except sqlite3.OperationalError:  # a v1 store opened read-only: no sends counted
            sends = []
        for method, sent in sends:
            missing = sent - sum(result.get(method, {}).values())
            if missing > 0:
                result.setdefault(method, {})[UNRECORDED] = missing
        return result

    # --- downloads -------------------------------------------------------------------------

    def photos_to_download(self, retry_failed: bool = True) -> list[DownloadTarget]:
        states = "download_status IS NULL" + (" OR download_status = 'failed'" if retry_failed else "")
        rows = self.db.execute(
            f"SELECT id, url_o, url_large, original_format FROM photos WHERE status = ? AND ({states}) ORDER BY seq",
            (KEPT,),
        )
        return [DownloadTarget(*row) for row in rows]

    def record_download(
        self,
        photo_id: str,
        status: str,
        *,
        size: str | None = None,
        path: str | None = None,
        sha256: str | None = None,
        nbytes: int | None = None,
        error: str | None = None,
    ) -> None:
        with self.transaction():
            self.db.execute(
                """UPDATE photos SET download_status = ?, download_size = ?, download_path = ?, download_sha256 = ?,
                   download_bytes = ?, download_error = ?, updated_at = ? WHERE id = ?""",
                (status, size, path, sha256, nbytes, error, time.time(), photo_id),
            )

    # --- reading ---------------------------------------------------------------------------

    def photos(self, status: str | None = None) -> Iterator[StoredPhoto]:
        sql = "SELECT * FROM photos" + (" WHERE status = ?" if status else "") + " ORDER BY seq"
        yield from map(_stored_photo, self.db.execute(sql, (status,) if status else ()))

    def photos_by_id(self, ids: Iterable[str], chunk: int = 256) -> Iterator[StoredPhoto]:
        """The photos of ``ids`` in that order, read ``chunk`` at a time (memory stays flat)."""
        ids = iter(ids)
        while part := list(islice(ids, chunk)):
            sql = f"SELECT * FROM photos WHERE id IN ({','.join('?' * len(part))})"
            found = {row["id"]: row for row in self.db.execute(sql, part)}
            yield from (_stored_photo(found[photo_id]) for photo_id in part)  # KeyError: no such photo

    def kept_photos(self) -> Iterator[KeptPhoto]:
        """Every kept photo, streamed, with only the columns the dataset builder's selection reads."""
        rows = self.db.execute(
            "SELECT id, owner, license, labels, exif, download_status, download_path FROM photos WHERE status = ?",
            (KEPT,),
        )
        for row in rows:
            yield KeptPhoto(
                row["id"],
                row["owner"],
                row["license"],
                _labels(row["labels"]),
                _exif(row["exif"]),
                row["download_status"],
                row["download_path"],
            )

    def last_update(self) -> float | None:
        """When any photo last changed (Unix time); ``None`` for an empty store."""
        return self.db.execute("SELECT MAX(updated_at) FROM photos").fetchone()[0]

    def count_by(self, column: str) -> dict[str, int]:
        if column not in ("status", "download_status", "filter_reason", "download_size"):
            raise ValueError(f"cannot group by {column}")
        rows = self.db.execute(f"SELECT {column} AS k, COUNT(*) AS n FROM photos GROUP BY {column} ORDER BY n DESC")
        return {("none" if row["k"] is None else row["k"]): row["n"] for row in rows}

    # --- summaries (``flickrexif status``, the dataset card) -----------------------------------

    def owner_months_at_cap(self) -> int:
        """Owner-months with at least one ``capped`` photo."""
        return self.db.execute(
            "SELECT COUNT(*) FROM (SELECT DISTINCT owner, month FROM photos WHERE status = ?)", (CAPPED,)
        ).fetchone()[0]

    def label_distributions(self, fields: Iterable[str], top: int) -> dict[str, dict[str, int]]:
        """Label field → its ``top`` most common classes among kept photos, most common first."""
        result = {}
        for field in fields:
            rows = self.db.execute(
                """SELECT json_extract(labels, ?) AS k, COUNT(*) AS n FROM photos
                   WHERE status = ? AND k IS NOT NULL GROUP BY k ORDER BY n DESC, k LIMIT ?""",
                (f"$.{field}", KEPT, top),
            )
            result[field] = {str(row["k"]): row["n"] for row in rows}
        return result

    def remaining_estimate(self) -> int:
        """Photos still to come from open windows: their totals minus what their pages covered."""
        row = self.db.execute(
            """SELECT COALESCE(SUM(MAX(total - (next_page - 1) * ?, 0)), 0) FROM search_windows
               WHERE status IN ('open', 'failed') AND total IS NOT NULL""",
            (int(self.get_meta("per_page") or 500),),
        ).fetchone()
        return int(row[0])

    def search_queries(self) -> list[dict[str, Any]]:
        """The searches crawled, as their parameters (a key that is not JSON becomes ``{"text": key}``)."""
        queries = []
        for (text,) in self.db.execute("SELECT DISTINCT query FROM search_windows ORDER BY query"):
            try:
                query = json.loads(text)
            except json.JSONDecodeError:
                query = None
            queries.append(query if isinstance(query, dict) else {"text": text})
        return queries

    def max_kept_per_owner_month(self) -> int:
        """The most kept photos of any one owner-month (0 when none is kept): the cap as it turned out."""
        return (
            self.db.execute(
                "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM photos WHERE status = ? GROUP BY owner, month)", (KEPT,)
            ).fetchone()[0]
            or 0
        )
