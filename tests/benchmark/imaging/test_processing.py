"""Processing classes leave the intended traces, reproducibly and in any order."""

from __future__ import annotations

import io
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from benchmark.imaging.processing import (
    FAMILIES,
    INTERPOLATION_SCALE_RANGE,
    assign_train_classes,
    interpolation_scale,
    open_rgb,
    process,
    process_all,
    process_all_encoded,
    process_encoded,
    process_many,
    scaled_size,
    to_rgb,
)
from flickrexif.exif.read import read_exif


def photo(width: int = 96, height: int = 64, seed: int = 0) -> Image.Image:
    """Gradients, a few edges and noise: enough texture for JPEG and sharpening to matter."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    base = np.stack([255 * x / width, 255 * y / height, 128 + 60 * np.sin(x / 5) * np.cos(y / 7)], axis=-1)
    base[height // 4 : height // 2, width // 4 : width // 2] = (30, 200, 90)
    noisy = base + rng.normal(0, 12, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")


def laplacian_variance(image: Image.Image) -> float:
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    lap = grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1] - 4 * grey[1:-1, 1:-1]
    return float(lap.var())


def test_families_are_the_papers_label_spaces():
    assert FAMILIES == {
        "jpeg": ("q75-420", "q75-444", "q85-420", "q85-444", "q95-420", "q95-444"),
        "sharpening": ("none", "sharpness-x2", "sharpness-x4"),
        "resizing": ("none", "resize-x0.5", "resize-x2"),
        "interpolation": ("bilinear", "bicubic", "lanczos", "box"),
    }


@pytest.mark.parametrize("class_name", FAMILIES["jpeg"])
def test_jpeg_classes_write_their_quality_and_subsampling(class_name):
    quality, chroma = class_name[1:].split("-")
    result = process_encoded(photo(), "jpeg", class_name)
    record = read_exif(result.data)
    assert record.jpeg_quality == int(quality)
    assert record.chroma_subsampling == {"420": "4:2:0", "444": "4:4:4"}[chroma]
    assert result.image.mode == "RGB" and result.image.size == (96, 64)


@pytest.mark.parametrize("family", ["sharpening", "resizing", "interpolation"])
def test_other_classes_end_in_a_q95_444_reencode(family):
    for name, result in process_all_encoded(photo(), family, rng_key=(3, "x")).items():
        record = read_exif(result.data)
        assert (record.jpeg_quality, record.chroma_subsampling) == (95, "4:4:4"), name
        assert result.image.mode == "RGB"


def test_none_is_only_the_reencode():
    image = photo()
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, subsampling=0)
    expected = np.asarray(Image.open(buffer).convert("RGB"))
    for family in ("sharpening", "resizing"):
        assert np.array_equal(np.asarray(process(image, family, "none")), expected)


def test_sharpening_adds_high_frequency_energy():
    image = photo()
    energy = {name: laplacian_variance(out) for name, out in process_all(image, "sharpening").items()}
    assert energy["none"] < energy["sharpness-x2"] < energy["sharpness-x4"]
    assert energy["sharpness-x4"] > 1.5 * energy["none"]


def test_resizing_keeps_the_new_size():
    image = photo(97, 63)
    assert process(image, "resizing", "resize-x0.5").size == (48, 31)  # int() as released: 48.5 -> 48, 31.5 -> 31
    assert process(image, "resizing", "resize-x2").size == (194, 126)
    assert process(image, "resizing", "none").size == (97, 63)
    assert scaled_size((1, 1), 0.5) == (1, 1)


def test_resizing_is_the_released_rescale_bilinear_with_truncated_sizes():
    """Released ``Rescale``: ``transforms.functional.resize(img, (int(H*s), int(W*s)), BILINEAR)``, then q95 4:4:4."""
    image = photo(97, 63)
    for name, factor in (("resize-x0.5", 0.5), ("resize-x2", 2.0)):
        size = (int(97 * factor), int(63 * factor))
        expected = process_encoded(image.resize(size, Image.Resampling.BILINEAR), "jpeg", "q95-444").data
        assert process_encoded(image, "resizing", name).data == expected


def test_interpolation_factor_range_and_reproducibility():
    low, high = INTERPOLATION_SCALE_RANGE
    factors = [interpolation_scale((7, f"id{i}")) for i in range(2000)]
    assert all(low <= f <= high for f in factors)
    assert min(factors) < 0.82 and max(factors) > 1.18  # spans the range
    assert interpolation_scale((7, "id5")) == factors[5]
    assert interpolation_scale((8, "id5")) != factors[5]
    assert interpolation_scale(7) == interpolation_scale((7, ""))


def test_interpolation_size_follows_the_factor_and_ignores_order():
    images = {f"img{i}": photo(80, 60, seed=i) for i in range(6)}

    def run(order):
        return {key: process(images[key], "interpolation", "lanczos", rng_key=(11, key)).size for key in order}

    forward, backward = run(list(images)), run(list(images)[::-1])
    assert forward == backward
    for key, size in forward.items():
        assert size == scaled_size((80, 60), interpolation_scale((11, key)))
    # all four kernels of one image share the factor, so only the kernel differs
    sizes = {out.size for out in process_all(images["img0"], "interpolation", rng_key=(11, "img0")).values()}
    assert len(sizes) == 1


@pytest.mark.parametrize("family", list(FAMILIES))
def test_process_all_equals_process(family):
    image, key = photo(), (5, "abc")
    together = process_all(image, family, rng_key=key)
    assert list(together) == list(FAMILIES[family])
    for name, out in together.items():
        assert np.array_equal(np.asarray(out), np.asarray(process(image, family, name, rng_key=key))), name


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="jpeg, sharpening, resizing, interpolation"):
        process(photo(), "blur", "none")
    with pytest.raises(ValueError, match="q75-420, q75-444"):
        process(photo(), "jpeg", "q80-420")
    with pytest.raises(ValueError, match="valid"):
        assign_train_classes(["a"], "nope", 0)


def test_assign_train_classes_uniform_deterministic_order_free():
    ids = [str(1000 + i) for i in range(6000)]
    classes = assign_train_classes(ids, "jpeg", seed=0)
    counts = Counter(classes)
    assert set(counts) == set(FAMILIES["jpeg"])
    assert all(850 <= n <= 1150 for n in counts.values()), counts  # 1000 expected, sd ~29
    assert assign_train_classes(ids, "jpeg", seed=0) == classes
    reversed_ids = ids[::-1]
    assert assign_train_classes(reversed_ids, "jpeg", seed=0) == classes[::-1]
    assert assign_train_classes(ids[:10], "jpeg", seed=0) == classes[:10]
    assert assign_train_classes(ids, "jpeg", seed=1) != classes


def test_modes_become_rgb():
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # fully transparent red
    assert to_rgb(rgba).getpixel((0, 0)) == (255, 255, 255)  # composited on white
    half = Image.new("LA", (4, 4), (0, 128))
    assert to_rgb(half).getpixel((0, 0)) == (127, 127, 127)
    palette = Image.new("P", (4, 4), 0)
    palette.info["transparency"] = 0
    assert to_rgb(palette).getpixel((0, 0)) == (255, 255, 255)
    deep = Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16))  # I;16
    assert to_rgb(deep).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("CMYK", (4, 4), (0, 0, 0, 0))).getpixel((0, 0)) == (255, 255, 255)
    assert to_rgb(Image.new("L", (4, 4), 9)).getpixel((0, 0)) == (9, 9, 9)
    for image in (rgba, half, palette, deep, Image.new("CMYK", (4, 4))):
        assert process(image, "jpeg", "q95-444").mode == "RGB"


def test_open_rgb_orientation_is_opt_in():
    image = photo(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    assert open_rgb(buffer.getvalue()).size == (40, 20)
    assert open_rgb(buffer.getvalue(), exif_transpose=True).size == (20, 40)


def test_process_many_gives_each_class_what_process_gives_and_makes_shared_ones_once():
    image = photo(seed=4)
    classes = [(family, name) for family, names in FAMILIES.items() for name in names]
    made = process_many(image, classes, rng_key=(2, "img"))
    for family, name in classes:
        expected = process(image, family, name, rng_key=(2, "img"))
        assert np.array_equal(np.asarray(made[(family, name)]), np.asarray(expected)), (family, name)
    # the final re-encode alone is one operation in three families: made once, one object
    assert made[("jpeg", "q95-444")] is made[("sharpening", "none")] is made[("resizing", "none")]
    assert len({id(result) for result in made.values()}) == len(classes) - 2
