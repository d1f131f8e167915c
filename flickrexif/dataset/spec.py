"""What a FlickrExif build is asked for: per-attribute class and split settings, exclusions, options.

Defaults live in ``flickrexif/data/build.json``; a JSON file of the same shape overrides them
(``flickrexif build --specs``).  A takedown list (``--exclude``) names photos never to publish again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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


def load_exclusions(path: Path) -> frozenset[str]:
    """Photo ids to leave out (takedown requests): one id or photo page URL per line, ``#`` comments."""
    ids = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip().rstrip("/")
        if text:
            ids.add(text.rsplit("/", 1)[-1])
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
