"""Generated datasets in the layouts trace-bench reads, for tests and demos: class folders, ImageNet-style
``train/ val/`` folders, the official FlickrExif layout and dataset cards."""

from __future__ import annotations

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


def official_layout(tmp_path, attributes=("Make", "Flash")):
    images, splits = tmp_path / "images", tmp_path / "splits"
    images.mkdir()
    splits.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    for photo_id in (11, 12, 13):
        Image.fromarray(pixels).save(images / f"{photo_id}.jpg")
    for attribute in attributes:
        spec = {
            "train_ids": [11],
            "encoded_train_labels": [0],
            "val_ids": [12],
            "encoded_val_labels": [1],
            "test_ids": [13],
            "encoded_test_labels": [0],
            "label_encoder_classes": ["A", "B"],
        }
        (splits / f"split_data_target_attribute={attribute}.json").write_text(json.dumps(spec))
    return f"official:{images}:{splits}"


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
