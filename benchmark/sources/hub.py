"""A Hugging Face dataset: a local folder (a FlickrExif or PairCams release) or a Hub id, read through
``datasets`` with the images kept as their encoded bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmark.errors import UsageError
from benchmark.sources.imageset import SPLIT_NAMES, SPLITS, STANDARD, ImageItem, ImageSet, fingerprint, same_split


def _cell_reader(table: Any, image_column: str, index: int) -> Callable[[], bytes]:
    """Read one image's encoded bytes on demand (Arrow tables are memory-mapped, not loaded)."""

    def read() -> bytes:
        cell = table[index][image_column]
        if cell.get("bytes"):
            return cell["bytes"]
        if cell.get("path"):
            return Path(cell["path"]).read_bytes()
        raise UsageError(f"image {index} has neither bytes nor a path")

    return read


def hf_dataset(
    name_or_path: str,
    config: str | None = None,
    *,
    label_column: str | None = None,
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
    Classes come from a ``ClassLabel`` column ``label``; a ``label_column`` named by the user may be any
    column (its distinct values, sorted, are the classes) and must exist.
    """
    import datasets

    try:
        loaded = datasets.load_dataset(name_or_path, config, revision=revision)
    except ValueError as error:  # an unknown configuration or split, a file that is not what its name says
        raise UsageError(str(error).splitlines()[0] or f"{name_or_path} cannot be loaded") from None
    if splits:
        named = {split: next((name for name in loaded if same_split(split, name)), None) for split in splits}
        unknown = [split for split, name in named.items() if name is None]
        if unknown:
            raise UsageError(f"{name_or_path} has no split {', '.join(unknown)}; it has: {', '.join(loaded)}")
        loaded = {name: loaded[name] for name in named.values()}
    items, stamp, class_names = [], [], None
    named_column, label_column = label_column is not None, label_column or "label"
    if named_column:
        _check_column(name_or_path, loaded, label_column)
        class_names = _class_names(loaded, label_column)
        index_of = {name: index for index, name in enumerate(class_names)}
    for split_name, split in loaded.items():
        split_key = SPLIT_NAMES.get(split_name.lower(), split_name)
        image_column = next((c for c, f in split.features.items() if isinstance(f, datasets.Image)), None)
        if image_column is None:
            raise UsageError(f"{name_or_path}: no image column in split {split_name}")
        split = split.cast_column(image_column, datasets.Image(decode=False))
        label_feature = split.features.get(label_column)
        if isinstance(label_feature, datasets.ClassLabel) and not named_column:
            class_names = tuple(label_feature.names)
        metadata = split.remove_columns([image_column])  # iterate labels without touching image bytes
        for index, row in enumerate(metadata):
            item_id = str(row[id_column]) if id_column else f"{split_key}/{index}"
            label = row.get(label_column) if label_feature is not None else None
            if named_column:
                label = (
                    None
                    if label is None
                    else int(label)
                    if isinstance(label_feature, datasets.ClassLabel)
                    else index_of[str(label)]
                )
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
    source += [label_column] if named_column else []  # unchanged without a named label column
    stamp.append(json.dumps(source + ([revision] if revision else [])))  # unchanged without a revision
    split_keys = {item.split for item in items}
    return ImageSet(
        name=f"{Path(name_or_path).name}{'/' + config if config else ''}",
        items=tuple(items),
        class_names=class_names,
        target=label_column if named_column else config or (label_column if class_names else None),
        fingerprint=fingerprint(stamp),
        exif_orientation=True,
        layout=STANDARD if split_keys == {"train", "validation"} else SPLITS,
    )


def _check_column(name: str, loaded: Any, column: str) -> None:
    """A label column the user named is in every split; else one line listing the columns there are."""
    for split_name, split in loaded.items():
        if column not in split.features:
            columns = ", ".join(split.features)
            raise UsageError(
                f"{name} has no column {column!r} (--label-column) in split {split_name}; it has: {columns}"
            )


def _class_names(loaded: Any, column: str) -> tuple[str, ...]:
    """The classes of a named label column: a ``ClassLabel``'s names, else its distinct values sorted."""
    import datasets

    feature = next(iter(loaded.values())).features[column]
    if isinstance(feature, datasets.ClassLabel):
        return tuple(feature.names)
    values = {value for split in loaded.values() for value in split.unique(column) if value is not None}
    return tuple(str(value) for value in sorted(values, key=lambda value: (str(type(value)), value)))
