"""An image set: what every source becomes, and the decoding rules that travel with it.

An :class:`ImageSet` is a list of items with a stable id, a split, an optional class label and group
(photographer, PairCams subject), and a way to read the encoded bytes, plus a fingerprint that
changes whenever the images or labels change, so cached embeddings are never reused for different
data.  Its ``layout`` says how its splits are used: its own train, validation and test splits, or
the *standard layout* of ImageNet and iNaturalist as distributed (train + val only: val is the test
set and the tasks carve their tuning split from train, as the paper's released code does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmark.choices import ExifOrientation, chosen

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"}
)
SPLIT_NAMES = {"train": "train", "val": "validation", "valid": "validation", "validation": "validation", "test": "test"}

# How an image set's splits are used (``ImageSet.layout``):
SPLITS = "splits"  # its own train, validation and test splits (or each class split 70/10/20)
STANDARD = "standard"  # train + val only (ImageNet, iNaturalist): val is the test set, tuning carved from train
LAYOUTS = (SPLITS, STANDARD)


@dataclass(frozen=True)
class ImageItem:
    id: str
    split: str  # train, validation or test
    read: Callable[[], bytes] = field(repr=False, compare=False)
    label: int | None = None
    group: str | None = None  # the photographer (FlickrExif) or subject (PairCams)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ImageSet:
    name: str
    items: tuple[ImageItem, ...]
    class_names: tuple[str, ...] | None = None
    target: str | None = None  # what the labels are: "class", "Make", "subject", ...
    fingerprint: str = ""
    # Apply the Exif orientation when decoding, as the released loader of this kind does:
    # ``datasets.Image`` (FlickrExif, PairCams, Hub datasets) applies it, torchvision folders do not.
    exif_orientation: bool = False
    layout: str = SPLITS  # SPLITS or STANDARD (see LAYOUTS)
    # entries the source found but cannot use (a FIFO or a folder named like an image): name -> why
    skipped: dict[str, str] = field(default_factory=dict, compare=False)
    notes: tuple[str, ...] = ()  # what a user should know of how the set was read (printed, recorded)
    split_rule: str = "the dataset's own splits"  # how items got their split (recorded in every result)

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"unknown layout {self.layout!r}; choose from {LAYOUTS}")

    def split(self, name: str) -> list[ImageItem]:
        return [item for item in self.items if item.split == name]

    @property
    def splits(self) -> list[str]:
        return sorted({item.split for item in self.items}, key=["train", "validation", "test"].index)

    @property
    def has_labels(self) -> bool:
        return self.class_names is not None

    @property
    def test_split(self) -> str:
        """The split results are measured on: ``test``, or ``validation`` in the standard layout."""
        return "validation" if self.layout == STANDARD else "test"

    def split_sizes(self) -> dict[str, dict[str, int]]:
        """Images per split, and per class and split: ``{"all": {...}, class name: {...}}``."""
        sizes: dict[str, dict[str, int]] = {"all": {split: len(self.split(split)) for split in self.splits}}
        for item in self.items if self.class_names else ():
            per_class = sizes.setdefault(self.class_names[item.label], dict.fromkeys(self.splits, 0))
            per_class[item.split] += 1
        return sizes

    def summary(self) -> str:
        """How the set was read, in a line: classes, images per split, layout, what was skipped."""
        sizes = ", ".join(f"{split} {len(self.split(split))}" for split in self.splits)
        if self.class_names is None:
            classes = "no classes"
        else:
            shown = ", ".join(self.class_names[:6]) + (", ..." if len(self.class_names) > 6 else "")
            classes = f"{len(self.class_names)} {'class' if len(self.class_names) == 1 else 'classes'} ({shown})"
        text = f"{classes}; images: {sizes}" + ("; val is the test set" if self.layout == STANDARD else "")
        per_class = {name: counts for name, counts in self.split_sizes().items() if name != "all"}
        if 1 < len(per_class) <= 12:
            shown = ", ".join(f"{name} {'/'.join(map(str, counts.values()))}" for name, counts in per_class.items())
            text += f" (per class, {'/'.join(self.splits)}: {shown})"
        if self.skipped:
            text += f"; {len(self.skipped)} entries skipped ({next(iter(self.skipped))}: {next(iter(self.skipped.values()))})"
        return "; ".join([text, *self.notes])


def split_key(name: str) -> str:
    """A split name as image sets key it: ``val``/``valid``/``validation`` are ``validation``."""
    return SPLIT_NAMES.get(name.lower(), name)


def same_split(a: str, b: str) -> bool:
    """Whether two split names mean one split (``val`` and ``validation`` do)."""
    return split_key(a) == split_key(b)


def with_exif_orientation(image_set: ImageSet, choice: str) -> ImageSet:
    """``auto`` keeps the kind's released behaviour; ``apply``/``ignore`` override it."""
    choice = chosen(ExifOrientation, choice, "--exif-orientation")
    if choice == ExifOrientation.AUTO:
        return image_set
    return replace(image_set, exif_orientation=choice == ExifOrientation.APPLY)


def fingerprint(parts: Sequence[str]) -> str:
    """A short stable hash of everything that identifies the data (ids, sizes, labels)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def file_reader(path: Path) -> Callable[[], bytes]:
    """Reads one image file's encoded bytes when an extraction asks for them."""
    return path.read_bytes
