"""Exif orientation per dataset kind, as the released loaders decode: datasets.Image applies it, folders do not."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image, ImageOps

from benchmark.embeddings.batches import VariantImages
from benchmark.embeddings.cache import EmbeddingCache
from benchmark.embeddings.variants import Variant
from benchmark.imaging.preprocess import Preprocess
from benchmark.sources.folder import image_folder
from benchmark.sources.imageset import ImageItem, ImageSet, with_exif_orientation
from benchmark.sources.official import official_flickrexif

PREP = Preprocess(32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))


def rotated_jpeg() -> bytes:
    """A 64x40 photo whose Exif says: display rotated 90 degrees clockwise (orientation 6)."""
    image = Image.new("RGB", (64, 40))
    image.paste((255, 0, 0), (0, 0, 32, 40))  # left half red, right half blue
    image.paste((0, 0, 255), (32, 0, 64, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def test_kinds_follow_the_released_loaders(tmp_path):
    data = rotated_jpeg()
    (tmp_path / "folder" / "a").mkdir(parents=True)
    (tmp_path / "folder" / "a" / "1.jpg").write_bytes(data)
    assert image_folder(tmp_path / "folder").exif_orientation is False  # torchvision/PIL: not applied
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "7.jpg").write_bytes(data)
    split = {"train_ids": [7], "val_ids": [], "test_ids": [], "encoded_train_labels": [0], "encoded_val_labels": [],
             "encoded_test_labels": [], "label_encoder_classes": ["x"], "target_attribute": "Make"}  # fmt: skip
    (tmp_path / "split_data_target_attribute=Make.json").write_text(json.dumps(split))
    assert official_flickrexif(tmp_path / "images", tmp_path, "Make").exif_orientation is True  # datasets.Image


def test_decoding_applies_the_orientation_only_when_the_set_says_so():
    data = rotated_jpeg()
    item = ImageItem(id="1", split="train", read=lambda: data)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    stored = Image.open(io.BytesIO(data)).convert("RGB")
    variant = Variant()
    applied = VariantImages([item], [(PREP, variant)], 0, exif_transpose=True)[0].pixels[0]
    ignored = VariantImages([item], [(PREP, variant)], 0, exif_transpose=False)[0].pixels[0]
    assert np.array_equal(applied, np.asarray(PREP.pixels(upright)))
    assert np.array_equal(ignored, np.asarray(PREP.pixels(stored)))
    assert not np.array_equal(applied, ignored)


def test_the_choice_is_a_flag_and_part_of_the_cache_key(tmp_path):
    base = ImageSet(name="x", items=(), fingerprint="f", exif_orientation=True)
    assert with_exif_orientation(base, "auto") is base
    assert with_exif_orientation(base, "ignore").exif_orientation is False
    assert with_exif_orientation(replace_false := with_exif_orientation(base, "ignore"), "apply").exif_orientation
    assert replace_false.name == "x"
    with pytest.raises(ValueError, match="auto, apply, ignore"):
        with_exif_orientation(base, "sideways")
    cache = EmbeddingCache(tmp_path)
    keys = [cache.key({"e": 1}, s, "train", Variant(), 0) for s in (base, with_exif_orientation(base, "ignore"))]
    assert cache.path(keys[0]) != cache.path(keys[1])
