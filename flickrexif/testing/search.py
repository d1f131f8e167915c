"""What ``flickr.photos.search`` finds: its filters, sort orders and pages, as the stand-in answers it.

:class:`_SearchQuery` parses one call's parameters and matches photos indexed once by
:class:`_Indexed`; :func:`_page_window` cuts a page under the result cap.  Where Flickr's
documentation leaves the behaviour open (inclusive date bounds, pages past the cap), the choices
are listed in :mod:`flickrexif.testing.flickr_server`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flickrexif.testing.photos import StandinPhoto


def _naive_utc(value: datetime) -> datetime:
    """Dates are compared naive; an aware date is first converted to UTC."""
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def _parse_date(text: str | None) -> datetime | None:
    """A unix timestamp or a MySQL datetime (``YYYY-MM-DD[ HH:MM[:SS]]``); unparseable → no filter."""
    text = (text or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), tz=UTC).replace(tzinfo=None)
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _parse_int(text: str | None, default: int) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def _comma_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


_SORTS = {
    "date-posted-desc": ("date_upload", True),
    "date-posted-asc": ("date_upload", False),
    "date-taken-desc": ("date_taken", True),
    "date-taken-asc": ("date_taken", False),
}
_LIMITING_PARAMS = (
    "text",
    "tags",
    "min_taken_date",
    "max_taken_date",
    "min_upload_date",
    "max_upload_date",
    "user_id",
    "license",
)


@dataclass(frozen=True)
class _Indexed:
    """A photo with its search keys computed once."""

    photo: StandinPhoto
    text: str
    tags: frozenset[str]
    date_taken: datetime
    date_upload: datetime
    order: tuple[int, str]

    @classmethod
    def of(cls, photo: StandinPhoto) -> _Indexed:
        tags = frozenset(tag.casefold() for tag in photo.tags)
        text = "\n".join([photo.title, photo.description, *photo.tags]).casefold()
        order = (len(photo.id), photo.id)  # numeric order for numeric ids
        return cls(photo, text, tags, _naive_utc(photo.date_taken), _naive_utc(photo.date_upload), order)


@dataclass(frozen=True)
class _SearchQuery:
    """The filters of one ``flickr.photos.search`` call, parsed from its parameters."""

    text: str | None
    tags: tuple[str, ...]
    all_tags: bool
    taken: tuple[datetime | None, datetime | None]
    uploaded: tuple[datetime | None, datetime | None]
    licenses: frozenset[int] | None
    max_safety: int
    media: str | None
    user_id: str | None
    sort: tuple[str, bool]

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> _SearchQuery:
        licenses = {_parse_int(part, -1) for part in _comma_list(params.get("license"))} - {-1}
        media = {"photos": "photo", "videos": "video"}.get(params.get("media", "all"))
        if params.get("content_types") or params.get("content_type"):
            media = media or "photo"  # content types (photo/screenshot/other) never match videos
        return cls(
            text=(params.get("text") or "").strip().casefold() or None,
            tags=tuple(tag.casefold() for tag in _comma_list(params.get("tags"))),
            all_tags=params.get("tag_mode", "any") == "all",
            taken=(_parse_date(params.get("min_taken_date")), _parse_date(params.get("max_taken_date"))),
            uploaded=(_parse_date(params.get("min_upload_date")), _parse_date(params.get("max_upload_date"))),
            licenses=frozenset(licenses) if licenses else None,
            max_safety={1: 0, 2: 1, 3: 2}.get(_parse_int(params.get("safe_search"), 1), 0),
            media=media,
            user_id=params.get("user_id") or None,
            sort=_SORTS.get(params.get("sort", ""), _SORTS["date-posted-desc"]),
        )

    def matches(self, entry: _Indexed) -> bool:
        photo = entry.photo
        return (
            photo.safety_level <= self.max_safety
            and (self.media is None or photo.media == self.media)
            and (self.licenses is None or photo.license in self.licenses)
            and (self.user_id is None or photo.owner == self.user_id)
            and _in_range(entry.date_taken, self.taken)
            and _in_range(entry.date_upload, self.uploaded)
            and (self.text is None or self.text in entry.text)
            and self._tags_match(entry.tags)
        )

    def _tags_match(self, tags: frozenset[str]) -> bool:
        if not self.tags:
            return True
        hits = (tag in tags for tag in self.tags)
        return all(hits) if self.all_tags else any(hits)


def _in_range(value: datetime, bounds: tuple[datetime | None, datetime | None]) -> bool:
    """Both bounds inclusive, as Flickr documents for min_/max_ taken and upload dates."""
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def _page_window(total: int, page: int, per_page: int, max_results: int) -> tuple[int, int]:
    """Slice bounds of a page; pages past the reachable results repeat the last reachable page."""
    reachable = min(total, max_results)
    last_page = max(1, math.ceil(reachable / per_page))
    page = min(page, last_page)
    start = (page - 1) * per_page
    return start, min(start + per_page, reachable)
