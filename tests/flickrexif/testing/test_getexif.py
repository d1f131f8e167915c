"""A real file's Exif rendered the way ``flickr.photos.getExif`` prints it (ExifTool names and values)."""

from __future__ import annotations

import pytest

from flickrexif.testing.getexif import camera_name, exif_items_from_file, flash_text


def values(items) -> dict[str, str]:
    return {item["tag"]: item["raw"]["_content"] for item in items}


def test_items_from_canon_40d(exif_samples):
    items = exif_items_from_file(exif_samples / "jpg" / "Canon_40D.jpg")
    by_tag = {item["tag"]: item for item in items}
    got = values(items)
    assert got["Make"] == "Canon" and got["Model"] == "Canon EOS 40D"
    assert got["Orientation"] == "Horizontal (normal)"
    assert got["ExposureTime"] == "1/160" and by_tag["ExposureTime"]["clean"]["_content"] == "0.00625 sec (1/160)"
    assert got["FNumber"] == "7.1" and by_tag["FNumber"]["clean"]["_content"] == "f/7.1"
    assert got["ISO"] == "100"
    assert got["DateTimeOriginal"] == "2008:05:30 15:56:01"
    assert got["Flash"] == "On, Fired"
    assert got["FocalLength"] == "135.0 mm"
    assert got["ExposureProgram"] == "Manual"
    assert by_tag["Make"]["tagspace"] == "IFD0" and by_tag["FNumber"]["tagspace"] == "ExifIFD"
    assert all(item["tagspaceid"] == 0 and item["label"] for item in items)
    assert camera_name(items) == "Canon EOS 40D"


def test_items_with_gps_lens_and_serial(exif_samples):
    gps = values(exif_items_from_file(exif_samples / "jpg" / "gps" / "DSCN0010.jpg"))
    assert gps["GPSLatitude"] == "43 deg 28' 2.81\" N"
    assert gps["GPSLongitude"] == "11 deg 53' 6.46\" E"
    assert gps["FocalLengthIn35mmFormat"] == "112 mm"
    nikon = values(exif_items_from_file(exif_samples / "jpg" / "tests" / "87_OSError.jpg"))
    assert nikon["SerialNumber"] == "-1000f46"
    assert nikon["LensModel"] == "18.0-70.0 mm f/3.5-4.5"


def test_items_from_heic_keep_the_stored_orientation(exif_samples):
    items = values(exif_items_from_file(exif_samples / "heic" / "mobile" / "iphone_13_pro_max.HEIC"))
    assert items["Make"] == "Apple" and items["Orientation"] == "Rotate 90 CW"


def test_broken_files_give_fewer_items_never_an_error(exif_samples, tmp_path):
    for path in sorted(exif_samples.rglob("*")):
        if path.is_file():
            assert isinstance(exif_items_from_file(path), list)
    assert exif_items_from_file(b"not an image") == []
    assert exif_items_from_file(tmp_path / "missing.jpg") == []
    assert exif_items_from_file(exif_samples / "jpg" / "invalid" / "image00971.jpg") == []  # XMP only, no Exif


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "No Flash"),
        (1, "Fired"),
        (9, "On, Fired"),
        (16, "Off, Did not fire"),
        (24, "Auto, Did not fire"),
        (25, "Auto, Fired"),
        (15, "On, Return detected"),
        (32, "No flash function"),
        (89, "Auto, Fired, Red-eye reduction"),
        (2, "Unknown (0x2)"),
    ],
)
def test_flash_text_matches_exiftool(value, text):
    assert flash_text(value) == text
