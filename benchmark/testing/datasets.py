"""Generated datasets in the layouts trace-bench reads, for tests and demos: class folders, ImageNet-style
``train/ val/`` folders, the official FlickrExif layout and dataset cards."""

from __future__ import annotations

import io
import json

import numpy as np
from PIL import Image


def make_folder(root, per_class=24, classes=("red", "blue"), size=(80, 64)):
    rng = np.random.default_rng(0)
    bases = {"red": (200, 60, 40), "blue": (40, 60, 200), "green": (40, 200, 60)}
    for name in classes:
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            # smooth gradients + noise: structure that sharpening, resizing and JPEG visibly change
            y, x = np.mgrid[0 : size[1], 0 : size[0]]
            pattern = (np.sin(x / (3 + i % 5)) + np.cos(y / (4 + i % 3)))[..., None] * 50
            pixels = np.array(bases[name]) + pattern + rng.normal(0, 12, (size[1], size[0], 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(folder / f"{name}{i:03d}.jpg", quality=95)
    return root


def write_images(folder, count, colour, start=0):
    rng = np.random.default_rng(sum(colour) + start)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        pixels = np.clip(np.array(colour) + rng.normal(0, 30, (24, 32, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(folder / f"img{i:03d}.jpg", quality=95)


def split_folder(root, splits=("train", "val"), per_class=(8, 3)):
    """``root/<split>/<class>/imgNNN.jpg`` for two classes; per_class images in each split."""
    for split, count in zip(splits, per_class):
        for name, colour in (("n01", (200, 60, 40)), ("n02", (40, 60, 200))):
            write_images(root / split / name, count, colour, start=100 * splits.index(split))
    return root


FLICKREXIF_CARD = """pretty_name: FlickrExif
configs:
- config_name: Make
  data_files:
  - split: train
    path: Make/train-*.parquet
- config_name: Year
  data_files:
  - split: train
    path: Year/train-*.parquet
- config_name: extra
"""
PAIRCAMS_CARD = """pretty_name: PairCams
dataset_info:
  features:
  - name: image
    dtype: image
  - name: subject_idx
    dtype: int64
  - name: camera_type
    dtype: string
"""
PAIRCAMS_CARD_PER_CONFIG = """dataset_info:
- config_name: default
  features:
  - name: image
    dtype: image
  - name: subject_idx
    dtype: int64
"""
PLAIN_CARD = """configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
"""
OTHER_CARD = """license: mit
configs:
- config_name: default
  data_files: data/*.parquet
dataset_info:
  features:
  - name: image
    dtype: image
  - name: label
    dtype: int64
"""


def write_card(folder, yaml_text):
    folder.mkdir(parents=True, exist_ok=True)
    text = "# No header\n" if yaml_text is None else f"---\n{yaml_text}---\n\n# A dataset\n"
    (folder / "README.md").write_text(text)
    return folder


def tiny_class_folder(root, classes=("red", "blue"), per_class=3):
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            Image.new("RGB", (12, 10), (40 * c + 20, 5 * i, 90)).save(root / name / f"{name}{i}.png")
    return root


def official_layout(tmp_path, attributes=("Make", "Flash"), per_split=1):
    """The paper's FlickrExif layout: photos named by id and a split file per attribute; with ``per_split``
    photos in each split, labelled A and B in turn (one photo: train A, validation B, test A)."""
    images, splits = tmp_path / "images", tmp_path / "splits"
    images.mkdir()
    splits.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    ids = {split: [11 + 3 * k + n for k in range(per_split)] for n, split in enumerate(("train", "val", "test"))}
    for photo_id in sorted(i for split_ids in ids.values() for i in split_ids):
        Image.fromarray(pixels).save(images / f"{photo_id}.jpg")
    for attribute in attributes:
        spec = {
            **{f"{split}_ids": split_ids for split, split_ids in ids.items()},
            **{f"encoded_{split}_labels": [(i - 11) % 2 for i in split_ids] for split, split_ids in ids.items()},
            "label_encoder_classes": ["A", "B"],
        }
        (splits / f"split_data_target_attribute={attribute}.json").write_text(json.dumps(spec))
    return f"official:{images}:{splits}"


def paircams_release(folder, subjects=10, size=48):
    """A PairCams release folder (a Parquet split and its card): per subject one smartphone and one camera
    photo, the phones brighter."""
    import datasets

    rng = np.random.default_rng(0)

    def photo(subject: int, phone: bool) -> dict:
        pixels = rng.normal(120 + 10 * subject, 30, (size, size, 3)) + (40 if phone else 0)
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="PNG")
        return {"bytes": buffer.getvalue(), "path": None}

    rows = [(s, phone) for s in range(subjects) for phone in (True, False)]
    table = datasets.Dataset.from_dict(
        {
            "image": [photo(s, phone) for s, phone in rows],
            "subject_idx": [s for s, _ in rows],
            "camera_type": ["smartphone" if phone else "camera" for _, phone in rows],
        }
    ).cast_column("image", datasets.Image())
    (folder / "data").mkdir(parents=True)
    table.to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    card = "pretty_name: PairCams\ndataset_info:\n  features:\n  - name: image\n    dtype: image\n"
    card += "  - name: subject_idx\n    dtype: int64\n  - name: camera_type\n    dtype: string\n"
    (folder / "README.md").write_text(f"---\n{card}---\n")
    return folder


COLOURS = ((200, 50, 40), (40, 190, 60), (50, 60, 210), (210, 200, 40), (170, 60, 190), (60, 190, 200))


def coloured_official_layout(root, attributes, per_class=(6, 2, 5), size=(72, 56)):
    """The official layout whose classes look different: ``attributes`` maps an attribute to its class
    names; every image of class ``i`` is colour ``COLOURS[i]`` with a gradient and noise, each attribute with
    photos of its own.  ``per_class``: images per class in train, val, test.  Returns ``official:IMAGES:SPLITS``."""
    rng = np.random.default_rng(1)
    images, splits = root / "images", root / "splits"
    images.mkdir(parents=True)
    splits.mkdir(parents=True)
    photo_id = 1000
    y, x = np.mgrid[0 : size[1], 0 : size[0]]
    for attribute, classes in attributes.items():
        spec = {"label_encoder_classes": list(classes), "target_attribute": attribute}
        for split, count in zip(("train", "val", "test"), per_class):
            ids, labels = [], []
            for label in range(len(classes)):
                for _ in range(count):
                    photo_id += 1
                    pattern = (np.sin(x / (3 + photo_id % 4)) + np.cos(y / 5))[..., None] * 25
                    pixels = np.array(COLOURS[label]) + pattern + rng.normal(0, 10, (size[1], size[0], 3))
                    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(images / f"{photo_id}.jpg")
                    ids.append(photo_id)
                    labels.append(label)
            spec[f"{split}_ids"], spec[f"encoded_{split}_labels"] = ids, labels
        (splits / f"split_data_target_attribute={attribute}.json").write_text(json.dumps(spec))
    return f"official:{images}:{splits}"
