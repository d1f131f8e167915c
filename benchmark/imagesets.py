"""Image sets the benchmark measures: where the images come from, their splits and labels.

Every source becomes an :class:`ImageSet` — a list of items with a stable id, a split, an optional
class label and group (photographer, PairCams subject), and a way to read the encoded bytes — plus
a fingerprint that changes whenever the images or labels change, so cached embeddings are never
reused for different data.  Sources:

* an image folder (``class/image.jpg`` sub-folders give classes; ``train/``, ``val``/
  ``validation/``, ``test/`` top folders give splits, else a hashed 70/10/20 split by file name).
  A folder of exactly ``train/`` and ``val/`` (ImageNet, iNaturalist as distributed) is the
  *standard layout* (:data:`STANDARD`): ``val`` is the test set and the tasks carve their tuning
  split from ``train``, as the paper's released code does;
* a Hugging Face dataset (a Hub id in the local cache, or a local folder such as a FlickrExif
  release with a configuration name like ``Make``);
* the official FlickrExif layout: a folder of images named by Flickr id plus the paper's split
  files ``split_data_target_attribute=<Attr>.json``;
* PairCams (our release or the official columns ``image``, ``subject_idx``, ``model``).
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".heic", ".heif"})
SPLIT_NAMES = {"train": "train", "val": "validation", "valid": "validation", "validation": "validation", "test": "test"}

# How an image set's splits are used (``ImageSet.layout``):
SPLITS = "splits"  # its own train, validation and test splits (or a hashed 70/10/20)
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


EXIF_ORIENTATION = ("auto", "apply", "ignore")


def with_exif_orientation(image_set: ImageSet, choice: str) -> ImageSet:
    """``auto`` keeps the kind's released behaviour; ``apply``/``ignore`` override it."""
    if choice not in EXIF_ORIENTATION:
        raise ValueError(f"--exif-orientation must be one of {', '.join(EXIF_ORIENTATION)}, got {choice!r}")
    return image_set if choice == "auto" else replace(image_set, exif_orientation=choice == "apply")


def fingerprint(parts: Sequence[str]) -> str:
    """A short stable hash of everything that identifies the data (ids, sizes, labels)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def _hashed_split(name: str) -> str:
    """70/10/20 by a hash of the file name: stable when files are added or removed."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % 10
    return "train" if bucket < 7 else "validation" if bucket == 7 else "test"


def _file_reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def folder_layout(root: Path, splits: set[str]) -> str:
    """The layout of a folder whose top folders give ``splits``; refuses one without test images.

    ``train`` + ``validation`` alone is the standard layout (``val`` is the test set); a folder
    with ``test`` keeps its own splits; anything else has no test images and no way to make some.
    """
    if "test" in splits:
        return SPLITS
    if splits == {"train", "validation"}:
        return STANDARD
    raise ValueError(
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
        raise ValueError(f"{root} is not a folder of images")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {root}")
    relative = [p.relative_to(root) for p in files]
    has_split_dirs = all(len(r.parts) > 1 and r.parts[0].lower() in SPLIT_NAMES for r in relative)
    class_parts = [r.parts[1:-1] if has_split_dirs else r.parts[:-1] for r in relative]
    has_classes = all(len(parts) >= 1 for parts in class_parts)
    class_names = tuple(sorted({parts[0] for parts in class_parts})) if has_classes else None
    items = []
    for path, rel, parts in zip(files, relative, class_parts):
        split = SPLIT_NAMES[rel.parts[0].lower()] if has_split_dirs else _hashed_split(str(rel))
        label = class_names.index(parts[0]) if class_names else None
        items.append(ImageItem(id=str(rel), split=split, read=_file_reader(path), label=label))
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


def _cell_reader(table: Any, image_column: str, index: int) -> Callable[[], bytes]:
    """Read one image's encoded bytes on demand (Arrow tables are memory-mapped, not loaded)."""

    def read() -> bytes:
        cell = table[index][image_column]
        if cell.get("bytes"):
            return cell["bytes"]
        if cell.get("path"):
            return Path(cell["path"]).read_bytes()
        raise ValueError(f"image {index} has neither bytes nor a path")

    return read


def hf_dataset(
    name_or_path: str,
    config: str | None = None,
    *,
    label_column: str = "label",
    group_column: str | None = None,
    id_column: str | None = None,
    revision: str | None = None,
    splits: Sequence[str] | None = None,
) -> ImageSet:
    """A Hugging Face dataset: a local folder, or a Hub id (``revision``: a tag, branch or commit),
    downloaded by ``datasets`` into its cache on first use (``HF_HUB_OFFLINE=1``: the cache only).

    Images are read as encoded bytes (``Image(decode=False)``), so the benchmark decodes each
    source once and applies its own processing to the original file.  ``splits`` keeps only those;
    a dataset of exactly train + validation runs in the standard layout (validation is the test set).
    """
    import datasets

    loaded = datasets.load_dataset(name_or_path, config, revision=revision)
    if splits:
        unknown = sorted(set(splits) - set(loaded))
        if unknown:
            raise ValueError(f"{name_or_path} has no split {', '.join(unknown)}; it has: {', '.join(loaded)}")
        loaded = {name: loaded[name] for name in splits}
    items, stamp, class_names = [], [], None
    for split_name, split in loaded.items():
        split_key = SPLIT_NAMES.get(split_name.lower(), split_name)
        image_column = next((c for c, f in split.features.items() if isinstance(f, datasets.Image)), None)
        if image_column is None:
            raise ValueError(f"{name_or_path}: no image column in split {split_name}")
        split = split.cast_column(image_column, datasets.Image(decode=False))
        label_feature = split.features.get(label_column)
        if isinstance(label_feature, datasets.ClassLabel):
            class_names = tuple(label_feature.names)
        metadata = split.remove_columns([image_column])  # iterate labels without touching image bytes
        for index, row in enumerate(metadata):
            item_id = str(row[id_column]) if id_column else f"{split_key}/{index}"
            label = row.get(label_column) if label_feature is not None else None
            group = str(row[group_column]) if group_column and row.get(group_column) is not None else None
            items.append(
                ImageItem(
                    id=item_id,
                    split=split_key,
                    read=_cell_reader(split, image_column, index),
                    label=label,
                    group=group,
                    extra=dict(row),
                )
            )
            stamp.append(f"{split_key}:{item_id}:{label}")
    source = [name_or_path if not Path(name_or_path).exists() else Path(name_or_path).name, config]
    stamp.append(json.dumps(source + ([revision] if revision else [])))  # unchanged without a revision
    split_keys = {item.split for item in items}
    return ImageSet(
        name=f"{Path(name_or_path).name}{'/' + config if config else ''}",
        items=tuple(items),
        class_names=class_names,
        target=config or (label_column if class_names else None),
        fingerprint=fingerprint(stamp),
        exif_orientation=True,
        layout=STANDARD if split_keys == {"train", "validation"} else SPLITS,
    )


def official_flickrexif(images_dir: str | Path, splits_dir: str | Path, attribute: str) -> ImageSet:
    """The paper's layout: ``IMAGES/<flickr id>.jpg`` and ``split_data_target_attribute=<Attr>.json``.

    Sub-folders are searched too, so ``flickrexif download``'s ``IMAGES/<last two digits>/<id>.jpg``
    works as it is.

    Ids listed in the split file but missing from the folder are skipped (reported in the
    item count), since not every official photo may be downloadable any more.
    """
    images_dir, splits_dir = Path(images_dir), Path(splits_dir)
    split_file = splits_dir / f"split_data_target_attribute={attribute}.json"
    if not split_file.is_file():
        available = sorted(p.name for p in splits_dir.glob("split_data_target_attribute=*.json"))
        raise ValueError(f"no split file for {attribute!r} in {splits_dir}; found: {available}")
    spec = json.loads(split_file.read_text())
    files = {p.stem: p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
    items, stamp = [], []
    for split_key, split in (("train", "train"), ("val", "validation"), ("test", "test")):
        for photo_id, label in zip(spec[f"{split_key}_ids"], spec[f"encoded_{split_key}_labels"]):
            path = files.get(str(photo_id))
            if path is not None:
                items.append(ImageItem(id=str(photo_id), split=split, read=_file_reader(path), label=int(label)))
                stamp.append(f"{split}:{photo_id}:{label}:{path.stat().st_size}")
    if not items:
        raise ValueError(f"none of the photos of {split_file.name} are in {images_dir}")
    return ImageSet(
        name=f"flickrexif-official/{attribute}",
        items=tuple(items),
        class_names=tuple(str(c) for c in spec["label_encoder_classes"]),
        target=attribute,
        fingerprint=fingerprint(stamp),
        exif_orientation=True,  # the released FlickrExif loader casts the files to datasets.Image
    )


@lru_cache(maxsize=1)
def released_paircams_models() -> dict[str, str]:
    """Model (stripped, lower-cased) → ``smartphone``/``camera`` of the official PairCams release, as the
    released code labels them (``benchmark/data/paircams_models.json``)."""
    text = importlib.resources.files("benchmark").joinpath("data", "paircams_models.json").read_text(encoding="utf-8")
    return json.loads(text)["models"]


def camera_type(extra: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether a PairCams row is a smartphone photo, and where that comes from: the dataset's own labels.

    Our releases carry ``camera_type`` (and ``is_smartphone``); the official release carries only
    ``model``, labelled by the released code's table.  ``None`` when neither knows the row.
    """
    if extra.get("camera_type") in ("smartphone", "camera"):
        return extra["camera_type"] == "smartphone", "camera_type column"
    if extra.get("is_smartphone") is not None:
        return bool(extra["is_smartphone"]), "is_smartphone column"
    released = released_paircams_models().get(str(extra.get("model") or "").strip().lower())
    if released is not None:
        return released == "smartphone", "released model table"
    return None, "unknown model"


def paircams_set(source: str, revision: str | None = None) -> ImageSet:
    """PairCams with ``is_smartphone`` on every item from the dataset's own labels (:func:`camera_type`)."""
    image_set = hf_dataset(source, group_column="subject_idx", revision=revision)
    items = []
    for item in image_set.items:
        phone, origin = camera_type(item.extra)
        items.append(replace(item, extra={**item.extra, "is_smartphone": phone, "camera_type_from": origin}))
    return replace(image_set, items=tuple(items), class_names=None, target="subject")
