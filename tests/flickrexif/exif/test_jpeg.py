"""JPEG header traces: the quality estimate and the chroma subsampling name."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from flickrexif.exif.jpeg import chroma_subsampling, estimate_quality, ijg_table
from flickrexif.exif.read import read_exif


def _jpeg(quality: int, subsampling: int = 2, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(quality)
    image = Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=subsampling)
    return buffer.getvalue()


@pytest.mark.parametrize("quality", range(1, 101))
def test_quality_of_libjpeg_files_is_recovered_exactly(quality):
    assert read_exif(_jpeg(quality)).jpeg_quality == quality


@pytest.mark.parametrize(("pillow_subsampling", "name"), [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_subsampling_names(pillow_subsampling, name):
    assert read_exif(_jpeg(90, pillow_subsampling)).chroma_subsampling == name


def test_grayscale_jpeg():
    record = read_exif(_jpeg(80, mode="L"))
    assert record.chroma_subsampling == "gray"
    assert record.jpeg_quality == 80  # luminance table alone is enough


def test_layouts_without_a_common_name_are_spelled_out():
    assert chroma_subsampling([(1, 1, 2, 0), (2, 1, 1, 1), (3, 1, 1, 1)]) == "4:4:0"
    assert chroma_subsampling([(1, 4, 1, 0), (2, 1, 1, 1), (3, 1, 1, 1)]) == "4:1:1"
    assert chroma_subsampling([(1, 3, 1, 0), (2, 1, 1, 1), (3, 1, 1, 1)]) == "3x1"
    assert chroma_subsampling([(1, 2, 2, 0), (2, 0, 1, 1)]) == "2x2/0x1"
    assert chroma_subsampling([]) is None


def test_quality_needs_a_full_luminance_table():
    assert estimate_quality({}) is None
    assert estimate_quality({0: [1] * 10}) is None
    assert estimate_quality({0: [1] * 64}) == 100


def test_ijg_scaling_matches_libjpeg_reference_points():
    assert ijg_table([16], 50) == [16]  # quality 50 is the standard table
    assert ijg_table([16], 100) == [1]
    assert ijg_table([16], 1) == [255]  # clamped to baseline
    assert ijg_table([16], 75) == [8]


def test_camera_tables_get_the_nearest_quality(exif_samples):
    # A camera's own tables (not IJG-scaled) still give a usable nearest quality.
    record = read_exif(exif_samples / "jpg" / "hdr" / "iphone_hdr_NO.jpg")
    assert 90 <= record.jpeg_quality <= 100
