"""What a FlickrExif build reports: per configuration its classes, splits and counts, or why it was skipped."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flickrexif.dataset.split import SplitSpec
from flickrexif.publish.parquet import SplitFiles


@dataclass(frozen=True)
class BuildProgress:
    """Reported after every row group: which configuration and split, and its rows so far."""

    config: str
    split: str
    rows: int
    total: int


@dataclass(frozen=True)
class ConfigResult:
    """One configuration as built (or why it was skipped)."""

    name: str
    classes: tuple[str, ...]
    splits: tuple[SplitFiles, ...]
    per_class: Mapping[str, int]
    owners: Mapping[str, int]
    available: Mapping[str, Mapping[str, int]]  # split → class → photos its owners offered
    class_counts: Mapping[str, Mapping[str, int]]  # split → class → photos in the dataset
    dropped_classes: Mapping[str, str]
    spec: SplitSpec
    unusable_photos: int = 0
    skipped: str | None = None

    @property
    def rows(self) -> int:
        return sum(s.num_examples for s in self.splits)


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    configs: tuple[ConfigResult, ...]
    photos_kept: int
    photos_eligible: int
    excluded: Mapping[str, int]
    data_as_of: str
    seconds: float
    crawl: Mapping[str, Any] = field(default_factory=dict)  # the crawl's searches and cap, for the card

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.configs)

    @property
    def built(self) -> tuple[ConfigResult, ...]:
        return tuple(c for c in self.configs if c.skipped is None)


class BuildError(Exception):
    """The dataset cannot be built from these inputs (missing database, nothing to build)."""
