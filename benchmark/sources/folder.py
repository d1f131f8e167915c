"""An image folder: classes from sub-folder names, splits from top folders when present.

``train/``, ``val``/``validation/``, ``test/`` top folders give splits, else a hashed 70/10/20 split by
file name.  A folder of exactly ``train/`` and ``val/`` (ImageNet, iNaturalist as distributed) is in
the standard layout (:data:`benchmark.sources.imageset.STANDARD`).
"""

from __future__ import annotations

import hashlib
import stat
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


def _not_a_file(path: Path) -> str:
    """Why an entry named like an image is not one to read."""
    if path.is_symlink() and not path.exists():
        return "a link to nothing"
    if path.is_dir():
        return "a folder"
    if stat.S_ISFIFO(path.stat().st_mode):
        return "a FIFO (named pipe)"
    return "not a regular file"


def _named(paths: list, most: int = 3) -> str:
    shown = ", ".join(str(p) for p in paths[:most])
    return shown + (f" and {len(paths) - most} more" if len(paths) > most else "")


def image_folder(root: str | Path) -> ImageSet:
    """An image folder; classes from sub-folder names, splits from top folders when present.

    With top folders ``train/`` and ``val/`` only, the set is in the standard layout (:func:`folder_layout`).
    A layout that can be read two ways is refused, naming what to move: top folders that are partly
    splits and partly not, images beside class folders, classes of val/ or test/ that train/ lacks.
    """
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder of images")
    named = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    files = [p for p in named if p.is_file()]
    skipped = {str(p.relative_to(root)): _not_a_file(p) for p in named if not p.is_file()}
    if not files:
        raise UsageError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    relative = [p.relative_to(root) for p in files]
    has_split_dirs = _split_folders(root, relative)
    class_parts = [r.parts[1:-1] if has_split_dirs else r.parts[:-1] for r in relative]
    loose = [r for r, parts in zip(relative, class_parts) if not parts]
    if loose and len(loose) < len(relative):
        where = "in their split folders" if has_split_dirs else f"at the top of {root}"
        raise UsageError(
            f"{root}: {len(loose)} images {where} ({_named(loose)}) beside class folders: move them into a "
            "class folder, or remove them"
        )
    class_names = tuple(sorted({parts[0] for parts in class_parts})) if not loose else None
    items = []
    for path, rel, parts in zip(files, relative, class_parts):
        split = SPLIT_NAMES[rel.parts[0].lower()] if has_split_dirs else _hashed_split(str(rel))
        label = class_names.index(parts[0]) if class_names else None
        items.append(ImageItem(id=str(rel), split=split, read=file_reader(path), label=label))
    layout = folder_layout(root, {item.split for item in items}) if has_split_dirs else SPLITS
    if class_names and has_split_dirs:
        _check_classes_trained(root, items, class_names)
    stamp = [f"{rel}:{path.stat().st_size}:{item.label}" for rel, path, item in zip(relative, files, items)]
    return ImageSet(
        name=root.name,
        items=tuple(items),
        class_names=class_names,
        target="class" if class_names else None,
        fingerprint=fingerprint(stamp),
        layout=layout,
        skipped=skipped,
        notes=("one class: kNN and mitigation need two or more and are not run",)
        if len(class_names or ()) == 1
        else (),
    )


def _split_folders(root: Path, relative: list[Path]) -> bool:
    """Whether the top folders are splits; a mix of split and other top folders is refused."""
    tops = {r.parts[0] for r in relative if len(r.parts) > 1}
    splits = {t for t in tops if t.lower() in SPLIT_NAMES}
    if not splits:
        return False
    others = sorted(tops - splits)
    at_top = [r for r in relative if len(r.parts) == 1]
    if others or at_top:
        strays = [f"{name}/" for name in others] + [str(r) for r in at_top]
        raise UsageError(
            f"{root}: {', '.join(sorted(s + '/' for s in splits))} are split folders but {_named(strays)} "
            "beside them are not: put every image under a split folder (train/, val/, test/), or use class "
            "folders without split folders"
        )
    return True


def _check_classes_trained(root: Path, items: list[ImageItem], class_names: tuple[str, ...]) -> None:
    """Every class of val/ and test/ has training images (kNN's database, the probe's training set)."""
    trained = {item.label for item in items if item.split == "train"}
    for split in ("validation", "test"):
        untrained = sorted({class_names[i.label] for i in items if i.split == split and i.label not in trained})
        if untrained:
            raise UsageError(
                f"{root}: {split} images of {_named(untrained)} but train/ has no images of "
                f"{'that class' if len(untrained) == 1 else 'those classes'}: add some, or remove them from {split}"
            )
