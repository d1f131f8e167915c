"""An image folder: classes from sub-folder names, splits from top folders when present.

``train/``, ``val``/``validation/``, ``test/`` top folders give splits, else a hashed 70/10/20 split by
file name.  A folder of exactly ``train/`` and ``val/`` (ImageNet, iNaturalist as distributed) is in
the standard layout (:data:`benchmark.sources.imageset.STANDARD`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from benchmark.errors import UsageError
from benchmark.sources.imageset import (
    IMAGE_SUFFIXES,
    SPLIT_NAMES,
    SPLITS,
    STANDARD,
    ImageItem,
    ImageSet,
    file_reader,
    fingerprint,
)


def _hashed_split(name: str) -> str:
    """70/10/20 by a hash of the file name: stable when files are added or removed."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 10
    return "train" if bucket < 7 else "validation" if bucket == 7 else "test"


def folder_layout(root: Path, splits: set[str]) -> str:
    """The layout of a folder whose top folders give ``splits``; refuses one without test images.

    ``train`` + ``validation`` alone is the standard layout (``val`` is the test set); a folder
    with ``test`` keeps its own splits; anything else has no test images and no way to make some.
    """
    if "test" in splits:
        return SPLITS
    if splits == {"train", "validation"}:
        return STANDARD
    raise UsageError(
        f"{root}: split folders {sorted(splits)} hold no test images; use train/ + val/ (the ImageNet and "
        "iNaturalist layout: val is the test set, the tuning split is carved from train), train/ + val/ + "
        "test/, or class folders without split folders (a hashed 70/10/20 split)"
    )


def image_folder(root: str | Path) -> ImageSet:
    """An image folder; classes from sub-folder names, splits from top folders when present.

    With top folders ``train/`` and ``val/`` only, the set is in the standard layout (:func:`folder_layout`).
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise UsageError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    relative = [p.relative_to(root) for p in files]
    has_split_dirs = all(len(r.parts) > 1 and r.parts[0].lower() in SPLIT_NAMES for r in relative)
    class_parts = [r.parts[1:-1] if has_split_dirs else r.parts[:-1] for r in relative]
    has_classes = all(len(parts) >= 1 for parts in class_parts)
    class_names = tuple(sorted({parts[0] for parts in class_parts})) if has_classes else None
    items = []
    for path, rel, parts in zip(files, relative, class_parts):
        split = SPLIT_NAMES[rel.parts[0].lower()] if has_split_dirs else _hashed_split(str(rel))
        label = class_names.index(parts[0]) if class_names else None
        items.append(ImageItem(id=str(rel), split=split, read=file_reader(path), label=label))
    layout = folder_layout(root, {item.split for item in items}) if has_split_dirs else SPLITS
    stamp = [f"{rel}:{path.stat().st_size}:{item.label}" for rel, path, item in zip(relative, files, items)]
    return ImageSet(
        name=root.name,
        items=tuple(items),
        class_names=class_names,
        target="class" if class_names else None,
        fingerprint=fingerprint(stamp),
        layout=layout,
    )
