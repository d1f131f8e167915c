"""The official FlickrExif layout: a folder of images named by Flickr id and the paper's split files
``split_data_target_attribute=<Attr>.json``."""

from __future__ import annotations

import json
from pathlib import Path

from benchmark.errors import UsageError
from benchmark.sources.imageset import IMAGE_SUFFIXES, ImageItem, ImageSet, file_reader, fingerprint


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
        raise UsageError(f"no split file for {attribute!r} in {splits_dir}; found: {available}")
    spec = json.loads(split_file.read_text())
    files = {p.stem: p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
    items, stamp = [], []
    for split_key, split in (("train", "train"), ("val", "validation"), ("test", "test")):
        for photo_id, label in zip(spec[f"{split_key}_ids"], spec[f"encoded_{split_key}_labels"]):
            path = files.get(str(photo_id))
            if path is not None:
                items.append(ImageItem(id=str(photo_id), split=split, read=file_reader(path), label=int(label)))
                stamp.append(f"{split}:{photo_id}:{label}:{path.stat().st_size}")
    if not items:
        raise UsageError(f"none of the photos of {split_file.name} are in {images_dir}")
    return ImageSet(
        name=f"flickrexif-official/{attribute}",
        items=tuple(items),
        class_names=tuple(str(c) for c in spec["label_encoder_classes"]),
        target=attribute,
        fingerprint=fingerprint(stamp),
        exif_orientation=True,  # the released FlickrExif loader casts the files to datasets.Image
    )
