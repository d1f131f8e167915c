"""What an image file says: the audit's attributes of one image, from real camera files and generated ones."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from benchmark.audit.metadata import AUDIT_ATTRIBUTES, aspect_ratio, image_metadata, long_side_bin
from benchmark.imaging.processing import UnreadableImage


def test_a_real_camera_file_gives_flickrexif_labels_and_its_jpeg_encoding(exif_samples):
    values = image_metadata((exif_samples / "jpg" / "Nikon_D70.jpg").read_bytes())
    assert set(values) == set(AUDIT_ATTRIBUTES)
    assert values["Make"] == "Nikon" and values["Model"] == "NIKON D70" and values["Is Smartphone"] == "False"
    assert values["Exposure"] == "1/200" and values["Aperture"] == "f/9.0"  # as `flickrexif exif` labels it
    assert values["Format"] == "JPEG" and values["JPEG Quality"].isdigit() and values["Chroma Subsampling"]


def test_a_phone_heic_is_a_smartphone(exif_samples):
    values = image_metadata((exif_samples / "heic" / "mobile" / "iphone_13_pro_max.HEIC").read_bytes())
    assert values["Make"] == "Apple" and values["Is Smartphone"] == "True" and values["Format"] == "HEIF"
    assert values["JPEG Quality"] is None


def test_a_png_without_exif_has_its_format_and_size_and_nothing_else():
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buffer, format="PNG")
    values = image_metadata(buffer.getvalue())
    assert (
        values["Format"] == "PNG" and values["Aspect Ratio"] == "3:2" and values["Pixel Size"] == "long side 257-384 px"
    )
    assert values["Make"] is None and values["JPEG Quality"] is None


def test_what_is_not_an_image_is_unreadable_with_its_reason():
    with pytest.raises(UnreadableImage, match="not an image"):
        image_metadata(b"plain text, not a photo")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buffer, format="JPEG")
    with pytest.raises(UnreadableImage):
        image_metadata(buffer.getvalue()[:40])  # cut inside its header


def test_size_and_aspect_bins():
    assert long_side_bin(128) == "long side 1-128 px" and long_side_bin(129) == "long side 129-256 px"
    assert long_side_bin(10_000) == "long side > 8192 px"
    assert aspect_ratio(4000, 3000) == "4:3" and aspect_ratio(3000, 4000) == "3:4" and aspect_ratio(500, 500) == "1:1"
    assert aspect_ratio(1920, 1080) == "16:9" and aspect_ratio(1000, 3000) == "other portrait"
