"""An image folder: classes from sub-folder names, splits from top folders when present.

``train/``, ``val``/``validation/``, ``test/`` top folders give splits; without them each class is split
70/10/20 on its own (:func:`per_class_splits`), so every class with three images or more is in every split.  A folder of exactly ``train/`` and ``val/`` (ImageNet, iNaturalist as distributed) is in
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

SPLIT_SEED = 0
SPLIT_RULE = (
    f"per class 70/10/20, in the order of sha256('{SPLIT_SEED}:' + file name) (at least 1 per split from 3 images)"
)


def per_class_splits(names: list[str], labels: list[int | None]) -> tuple[list[str], list[str]]:
    """``(split of each image, notes)``: each class (or the whole folder, without classes) cut 70/10/20
    in the order of a seeded hash of the file names, validation and test at least one image each from
    three images up; a class too small for every split is said in a note."""
    members: dict[int | None, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    splits = [""] * len(names)
    small = []
    for label, indices in members.items():
        order = sorted(indices, key=lambda i: hashlib.sha256(f"{SPLIT_SEED}:{names[i]}".encode()).hexdigest())
        n = len(order)
        n_val = max(1, round(0.1 * n)) if n >= 3 else 0
        n_test = max(1, round(0.2 * n)) if n >= 3 else min(1, n - 1)
        for position, index in enumerate(order):
            splits[index] = "validation" if position < n_val else "test" if position < n_val + n_test else "train"
        if n < 3:
            small.append(f"{n} image{'s' if n > 1 else ''}" if label is None else f"{label}")
    notes = [f"{len(small)} classes have fewer than 3 images and are not in every split"] if small else []
    return splits, notes


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
        "test/, or class folders without split folders (each class split 70/10/20)"
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
    labels = [class_names.index(parts[0]) if class_names else None for parts in class_parts]
    notes: list[str] = []
    if has_split_dirs:
        splits = [SPLIT_NAMES[rel.parts[0].lower()] for rel in relative]
    else:
        splits, notes = per_class_splits([str(rel) for rel in relative], labels)
    items = [
        ImageItem(id=str(rel), split=split, read=file_reader(path), label=label)
        for path, rel, split, label in zip(files, relative, splits, labels)
    ]
    layout = folder_layout(root, {item.split for item in items}) if has_split_dirs else SPLITS
    if class_names and has_split_dirs:
        _check_classes_trained(root, items, class_names)
    # the split is part of what the cached embeddings of a split depend on
    stamp = [
        f"{rel}:{path.stat().st_size}:{item.label}:{item.split}" for rel, path, item in zip(relative, files, items)
    ]
    if len(class_names or ()) == 1:
        notes.append("one class: kNN and mitigation need two or more and are not run")
    return ImageSet(
        name=root.name,
        items=tuple(items),
        class_names=class_names,
        target="class" if class_names else None,
        fingerprint=fingerprint(stamp),
        layout=layout,
        skipped=skipped,
        notes=tuple(notes),
        split_rule="the split folders" if has_split_dirs else SPLIT_RULE,
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
