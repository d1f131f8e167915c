"""What a crawl searches for and how it asks Flickr: ``photos.search`` parameters, answers, date windows.

Kept apart from the crawl loop (:mod:`flickrexif.crawl.crawler`) because these are pure functions of
the configuration: they decide which photos a crawl can ever see, and are tested without a server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flickrexif.crawl.licenses import PERMISSIVE_LICENSES
from flickrexif.crawl.records import SearchPhoto, Window

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
