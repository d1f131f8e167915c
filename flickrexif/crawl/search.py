"""What a crawl searches for and how it asks Flickr: ``photos.search`` parameters, answers, date windows.

Kept apart from the crawl loop (:mod:`flickrexif.crawl.crawler`) because these are pure functions of
the configuration: they decide which photos a crawl can ever see, and are tested without a server.

Search answers are untrusted: :func:`parse_search_answer` checks their shape.  A page that cannot be
used raises :class:`BadSearchAnswer` (its window fails and is retried on a later run); a row without
a usable id or owner is left out with its reason; a row whose date taken is unusable is kept with a
``problem`` (stored filtered, never sent to getExif); any other unusable field becomes ``None``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.crawl.records import SearchPhoto, Window

MAX_TOTAL = 10**12  # more results than Flickr holds photos: not a count
_ID = re.compile(r"[0-9A-Za-z_@-]{1,64}", re.ASCII)  # photo ids become file names: nothing else
_DATE_TAKEN = re.compile(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?", re.ASCII)
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
                "text": self.text,
                "tags": self.tags,
                "licenses": sorted(self.licenses),
                "min_taken": self.min_taken.strftime(DATE_FORMAT),
                "max_taken": self.max_taken.strftime(DATE_FORMAT),
            },
            sort_keys=True,
        )


def search_params(config: CrawlConfig, window: Window, page: int) -> dict[str, Any]:
    """The ``flickr.photos.search`` arguments for one page of one window."""
    return {
        "text": config.text,
        "tags": config.tags,
        "license": ",".join(str(i) for i in sorted(config.licenses)),
        "min_taken_date": window.min_taken,
        "max_taken_date": window.max_taken,
        "safe_search": 1,
        "content_types": 0,
        "media": "photos",
        "sort": "date-taken-asc",
        "extras": SEARCH_EXTRAS,
        "per_page": config.per_page,
        "page": page,
    }


class BadSearchAnswer(ValueError):
    """A ``photos.search`` answer without a usable page: its window fails, to be retried on a later run."""


@dataclass(frozen=True)
class SearchPage:
    """One checked page of a search: Flickr's counts, the usable rows, and why the others were left out."""

    total: int
    pages: int
    photos: list[SearchPhoto]
    skipped: list[str]


def _count(value: Any) -> int | None:
    """A non-negative integer as Flickr writes one (a number or a string of ASCII digits), else ``None``."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        return None
    return value


def _text(value: Any) -> str | None:
    """A string field; lone surrogates (unencodable, refused by SQLite) become ``"?"``."""
    return value.encode("utf-8", errors="replace").decode("utf-8") if isinstance(value, str) else None


def _brief(value: Any) -> str:
    """An untrusted value, shown short (no ``str()`` of a huge integer, which Python refuses)."""
    if isinstance(value, int) and value.bit_length() > 64:
        return f"a {value.bit_length()}-bit integer"
    return repr(value if isinstance(value, (str, int, float, type(None))) else type(value).__name__)[:40]


def parse_search_answer(answer: Any) -> SearchPage:
    """Check one ``photos.search`` answer; raises :class:`BadSearchAnswer` if the page cannot be used."""
    photos = answer.get("photos") if isinstance(answer, Mapping) else None
    if not isinstance(photos, Mapping):
        raise BadSearchAnswer(f"no photos object ({type(photos).__name__})")
    total, pages, rows = _count(photos.get("total")), _count(photos.get("pages")), photos.get("photo")
    if total is None or total > MAX_TOTAL:
        raise BadSearchAnswer(f"total {_brief(photos.get('total'))} is not a count")
    if pages is None:
        raise BadSearchAnswer(f"pages {_brief(photos.get('pages'))} is not a count")
    if not isinstance(rows, list):
        raise BadSearchAnswer(f"photo is a {type(rows).__name__}, not a list")
    page, skipped = [], []
    for number, row in enumerate(rows, 1):
        try:
            page.append(parse_search_photo(row))
        except ValueError as reason:
            skipped.append(f"row {number}: {reason}")
    return SearchPage(total, pages, page, skipped)


def parse_search_photo(item: Any) -> SearchPhoto:
    """One search row; raises ``ValueError`` (why) for a row without a usable id or owner."""
    if not isinstance(item, Mapping):
        raise ValueError(f"a {type(item).__name__}, not an object")
    photo_id = item.get("id")
    photo_id = str(photo_id) if isinstance(photo_id, (str, int)) and not isinstance(photo_id, bool) else None
    if photo_id is None or not _ID.fullmatch(photo_id):
        raise ValueError(f"no usable id ({_brief(item.get('id'))})")
    owner = _text(item.get("owner"))
    if not owner:
        raise ValueError(f"photo {photo_id} has no owner")
    date_taken, problem = item.get("datetaken"), None
    if date_taken is not None and not (isinstance(date_taken, str) and _DATE_TAKEN.fullmatch(date_taken)):
        problem = f"datetaken {_brief(date_taken)} is not a date"
        date_taken = None
    return SearchPhoto(
        id=photo_id,
        owner=owner,
        owner_name=_text(item.get("ownername")),
        title=_text(item.get("title")),
        license=_count(item.get("license")),
        date_taken=date_taken,
        date_upload=_count(item.get("dateupload")),
        tags=_text(item.get("tags")),
        media=_text(item.get("media")),
        original_format=_text(item.get("originalformat")),
        o_width=_count(item.get("o_width")),
        o_height=_count(item.get("o_height")),
        url_o=_text(item.get("url_o")),
        url_large=_text(item.get("url_l")),
        problem=problem,
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
