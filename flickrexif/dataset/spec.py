"""What a FlickrExif build is asked for: per-attribute class and split settings, exclusions, options.

Defaults live in ``flickrexif/data/build.json``; a JSON file of the same shape overrides them
(``flickrexif build --specs``).  A takedown list (``--exclude``) names photos never to publish again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flickrexif.dataset.split import SPLITS, SplitSpec
from flickrexif.exif.labels import ATTRIBUTES
from flickrexif.exif.tables import load_table
from flickrexif.publish.parquet import ParquetLayout, image_layout


def specs_from_table(
    table: Mapping[str, Mapping[str, Any]], base: Mapping[str, SplitSpec] | None = None
) -> dict[str, SplitSpec]:
    """Specs from a ``build.json``-style ``{"Make": {"top_k": 9, ...}}``; missing keys come from ``base``."""
    specs = dict(base or {})
    for name, entry in table.items():
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; the configurations are {list(ATTRIBUTES)}")
        known = {"top_k", "min_photos", "val_per_class", "test_per_class", "train_per_class", "device_kinds"}
        if set(entry) - known:
            raise ValueError(f"{name}: unknown setting(s) {sorted(set(entry) - known)}; known: {sorted(known)}")
        old = specs.get(name)
        merged = {
            "top_k": old.top_k if old else None, "min_photos": old.min_photos if old else None,
            "val_per_class": old.validation_per_class if old else None,
            "test_per_class": old.test_per_class if old else None,
            "train_per_class": old.train_per_class if old else None,
            "device_kinds": list(old.device_kinds) if old else ["camera", "smartphone"], **entry,
        }  # fmt: skip
        missing = [key for key in ("top_k", "min_photos", "val_per_class", "test_per_class") if merged[key] is None]
        if missing:
            raise ValueError(f"{name}: missing setting(s) {missing}")
        specs[name] = SplitSpec(
            top_k=merged["top_k"],
            min_photos=merged["min_photos"],
            validation_per_class=merged["val_per_class"],
            test_per_class=merged["test_per_class"],
            train_per_class=merged["train_per_class"],
            device_kinds=tuple(merged["device_kinds"]),
        )
    return specs


def default_specs() -> dict[str, SplitSpec]:
    """Per-attribute defaults from ``flickrexif/data/build.json``."""
    return specs_from_table(load_table("build")["attributes"])


# Flickr's short-link alphabet: base 58 without 0, O, I and l (flic.kr/p/4bxMqq is photo 2088436532).
BASE58 = "123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
_SEPARATORS = re.compile(r"[\s,;\ufeff\u200b\u200c\u200d\u2060]+")  # several items on a line; stray BOMs
_PHOTO_ID = re.compile(r"[1-9][0-9]*")  # ASCII digits only
_STATIC_FILE = re.compile(r"([1-9][0-9]*)_[0-9a-f]+(?:_[0-9a-z]+)*\.(?:jpe?g|png|gif|webp|mp4)", re.IGNORECASE)


def _flickr_host(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _photo_id_from_url(item: str) -> str | None:
    """The photo id a Flickr photo URL names, or ``None`` when it names none (or is no Flickr URL).

    Photo pages ``flickr.com/photos/USER/ID/...`` (any tail: ``in/photostream/``, ``sizes/o/``,
    ``lightbox/``, a query), ``flickr.com/photo.gne?id=ID``, short links ``flic.kr/p/BASE58``, and
    image files ``live.staticflickr.com/SERVER/ID_SECRET_b.jpg`` (also ``farmN.staticflickr.com``,
    ``farmN.static.flickr.com``, ``live.staticflickr.com/video/ID/...``).
    """
    try:
        url = urlsplit(item if "://" in item else f"https://{item}")
        host = (url.hostname or "").lower()
    except ValueError:  # e.g. an unbalanced "[" read as an IPv6 host
        return None
    parts = [part for part in url.path.split("/") if part]
    if _flickr_host(host, "flic.kr"):
        if len(parts) == 2 and parts[0] == "p" and all(char in BASE58 for char in parts[1]):
            number = 0
            for char in parts[1]:
                number = number * 58 + BASE58.index(char)
            return str(number) if number else None
        return None
    if _flickr_host(host, "staticflickr.com") or _flickr_host(host, "static.flickr.com"):
        if len(parts) >= 2 and parts[0].lower() == "video" and _PHOTO_ID.fullmatch(parts[1]):
            return parts[1]
        found = _STATIC_FILE.fullmatch(parts[-1]) if parts else None
        return found[1] if found else None
    if not _flickr_host(host, "flickr.com"):
        return None
    if len(parts) >= 3 and parts[0].lower() == "photos" and _PHOTO_ID.fullmatch(parts[2]):
        return parts[2]
    if parts == ["photo.gne"]:
        query = parse_qs(url.query)
        if _PHOTO_ID.fullmatch(ids := "".join(query.get("id", []))):
            return ids
        if "short" in query:
            return _photo_id_from_url(f"flic.kr/p/{''.join(query['short'])}")
    return None


def _read_text(path: Path) -> str:
    """The file's text: UTF-8 with or without a BOM, or UTF-16 with one (Windows "Unicode text")."""
    data = Path(path).read_bytes()
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def load_exclusions(path: Path) -> frozenset[str]:
    """Photo ids to leave out (takedown requests), from a text file; ``#`` starts a comment.

    Each line holds photo ids or Flickr photo URLs (any form :func:`_photo_id_from_url` reads),
    several separated by spaces, commas or semicolons.  A UTF-8 BOM and CRLF line ends are fine.
    Anything else is refused: ``ValueError`` naming the file, the line number and the line, since a
    takedown that is silently not applied would publish the photo again.
    """
    try:
        text = _read_text(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read the takedown list {path}: {error}") from None
    ids = set()
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        for item in _SEPARATORS.split(content):
            if not item:
                continue
            photo_id = item if _PHOTO_ID.fullmatch(item) else _photo_id_from_url(item)
            if photo_id is None:
                raise ValueError(
                    f"{path}, line {number}: {item!r} is not a Flickr photo id or photo URL "
                    f"(the line: {line.strip()!r})"
                )
            ids.add(photo_id)
    return frozenset(ids)


def load_specs(path: Path) -> dict[str, SplitSpec]:
    """Defaults overridden by a JSON file of the same shape as ``build.json`` (``attributes`` optional)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read split settings from {path}: {error}") from None
    return specs_from_table(data.get("attributes", data), default_specs())


@dataclass(frozen=True)
class BuildConfig:
    """What to build; ``specs`` overrides the defaults of the attributes it names."""

    db: Path
    images: Path
    seed: int = 0
    attributes: tuple[str, ...] = tuple(ATTRIBUTES)
    specs: Mapping[str, SplitSpec] = field(default_factory=dict)
    balance: tuple[str, ...] = SPLITS
    include_images: bool = True
    scrub_metadata: bool = True
    layout: ParquetLayout = field(default_factory=image_layout)
    exclude_ids: frozenset[str] = frozenset()  # taken down on request: never published again

    def __post_init__(self) -> None:
        object.__setattr__(self, "db", Path(self.db))  # accept str paths; the instance stays immutable
        object.__setattr__(self, "images", Path(self.images))
        object.__setattr__(self, "exclude_ids", frozenset(self.exclude_ids))
        unknown = [name for name in (*self.attributes, *self.specs) if name not in ATTRIBUTES]
        if unknown:
            raise ValueError(f"unknown attribute(s) {unknown}; the configurations are {list(ATTRIBUTES)}")
        if not self.attributes:
            raise ValueError("at least one attribute is needed")
        if set(self.balance) - set(SPLITS):
            raise ValueError(f"balance names splits other than {SPLITS}: {self.balance}")

    def spec(self, attribute: str) -> SplitSpec:
        return self.specs.get(attribute) or default_specs()[attribute]

    def parquet_layout(self) -> ParquetLayout:
        raw = (
            self.layout.raw_columns
            if self.include_images
            else tuple(c for c in self.layout.raw_columns if not c.startswith("image."))
        )
        return replace(self.layout, raw_columns=raw)
