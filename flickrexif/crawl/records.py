"""The crawl store's typed records and errors: what the store hands out instead of database rows.

Status, export, download and the dataset builder read these, never SQL rows or JSON text; the
SQL that fills them lives in :mod:`flickrexif.crawl.store` alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flickrexif.exif.record import ExifRecord


class StoreError(ValueError):
    """A file that cannot serve as a crawl database (a ``ValueError``: the command lines report it in one line)."""


class MissingStoreError(StoreError):
    """Nothing at the path: a read-only open never creates a database."""


class NotACrawlStoreError(StoreError):
    """The file is not SQLite, or has no ``photos`` table; ``cause`` is SQLite's own words."""

    def __init__(self, path: Path, cause: str):
        super().__init__(f"{path} is not a crawl database: {cause}")
        self.cause = cause


@dataclass(frozen=True)
class SearchPhoto:
    """The fields of one ``photos.search`` result the crawl keeps (from the requested extras)."""

    id: str
    owner: str
    owner_name: str | None
    title: str | None
    license: int | None
    date_taken: str | None
    date_upload: int | None
    tags: str | None
    media: str | None
    original_format: str | None
    o_width: int | None
    o_height: int | None
    url_o: str | None
    url_large: str | None
    problem: str | None = None  # why the row cannot be crawled (a field Flickr sent unusable): stored filtered

    @property
    def month(self) -> str | None:
        return self.date_taken[:7] if self.date_taken and len(self.date_taken) >= 7 else None


@dataclass(frozen=True)
class Window:
    """One date-taken slice of a query, small enough for Flickr's result cap once ``open``.

    ``status`` is ``open``, ``split``, ``done`` or ``failed`` (its last page could not be read:
    retried on the next run); ``error`` is the last problem (a failure, or search rows left out),
    ``failures`` how often a page failed, ``skipped`` how many search rows were unusable.
    """

    query: str
    min_taken: str
    max_taken: str
    total: int | None
    next_page: int
    status: str
    error: str | None = None
    failures: int = 0
    skipped: int = 0


@dataclass(frozen=True)
class StoredPhoto:
    """One row of ``photos``, decoded.

    ``exif_raw`` stays the stored JSON text: only re-labelling reads it, and it can be large.
    """

    id: str
    seq: int
    owner: str
    owner_name: str | None
    title: str | None
    license: int | None
    date_taken: str | None
    month: str | None
    date_upload: int | None
    tags: str | None
    media: str | None
    original_format: str | None
    o_width: int | None
    o_height: int | None
    url_o: str | None
    url_large: str | None
    status: str
    filter_reason: str | None
    exif_raw: str | None
    exif: ExifRecord | None
    labels: dict[str, str | None] | None
    error: str | None
    attempts: int
    download_status: str | None
    download_size: str | None
    download_path: str | None
    download_sha256: str | None
    download_bytes: int | None
    download_error: str | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class KeptPhoto:
    """What the dataset builder's scan of every kept photo needs, and no more: it streams millions."""

    id: str
    owner: str
    license: int | None
    labels: dict[str, str | None] | None
    exif: ExifRecord | None
    download_status: str | None
    download_path: str | None


@dataclass(frozen=True, slots=True)
class DownloadTarget:
    """A kept photo still to download: its id and the URLs to try (the whole list is held in memory)."""

    id: str
    url_o: str | None
    url_large: str | None
    original_format: str | None
