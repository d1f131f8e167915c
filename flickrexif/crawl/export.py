"""``flickrexif export``: every stored photo as one flat-ish row (JSONL or CSV) for other tools."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flickrexif.crawl.store import CrawlStore
from flickrexif.exif.record import ExifRecord

_EXIF_FIELDS = tuple(ExifRecord.__dataclass_fields__)
_PHOTO_COLUMNS = (
    "id",
    "owner",
    "owner_name",
    "title",
    "date_taken",
    "date_upload",
    "license",
    "status",
    "filter_reason",
    "error",
    "url_o",
    "url_large",
)
_DOWNLOAD_COLUMNS = (
    "download_status",
    "download_size",
    "download_path",
    "download_sha256",
    "download_bytes",
    "download_error",
)


def export_rows(store: CrawlStore) -> Iterator[dict[str, Any]]:
    """One row per photo in arrival order: search fields, parsed Exif, labels, download state.

    The raw getExif items stay in the database (they can hold GPS positions and serial numbers).
    """
    for photo in store.photos():
        exif = photo.exif.to_json() if photo.exif is not None else {}
        row: dict[str, Any] = {column: getattr(photo, column) for column in _PHOTO_COLUMNS}
        row.update({field: exif.get(field) for field in _EXIF_FIELDS})
        row["labels"] = photo.labels or {}
        row.update({column: getattr(photo, column) for column in _DOWNLOAD_COLUMNS})
        yield row
