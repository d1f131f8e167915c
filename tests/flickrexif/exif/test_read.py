"""Reading Exif from real camera files and from hostile input.

Expected values were checked by hand against ExifTool 12.57 (`exiftool -a -G1 -n`) on the
same files: the ExifIFD values, not maker-note overrides.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import pytest
from PIL import Image

from flickrexif.exif.read import ExifReadError, read_exif
from flickrexif.exif.scan import IMAGE_SUFFIXES, iter_photo_paths, scan_file

HAND_CHECKED = {
    "jpg/Canon_40D.jpg": dict(
        make="Canon",
        model="Canon EOS 40D",
        exposure_time=Fraction(1, 160),
        f_number=7.1,
        iso=100,
        focal_length_mm=135.0,
        flash_fired=True,
        datetime_original="2008-05-30T15:56:01",
        orientation=1,
        width=100,
        height=68,
        image_format="JPEG",
    ),
    "jpg/Nikon_D70.jpg": dict(
        make="NIKON CORPORATION",
        model="NIKON D70",
        exposure_time=Fraction(1, 200),
        f_number=9.0,
        iso=200,
        focal_length_mm=100.0,
        focal_length_35mm=150.0,
        flash_fired=False,
        datetime_original="2008-03-15T09:52:01",
    ),
    "jpg/Pentax_K10D.jpg": dict(
        make="PENTAX Corporation",
        model="PENTAX K10D",
        exposure_time=Fraction(1, 180),
        f_number=11.0,
        iso=200,
        focal_length_mm=90.0,
        flash_fired=False,
        datetime_original="2008-05-04T16:47:24",
    ),
    "jpg/Konica_Minolta_DiMAGE_Z3.jpg": dict(
        make="KONICA MINOLTA",
        model="DiMAGE Z3",
        exposure_time=Fraction(1, 40),
        f_number=2.8,
        iso=200,
        focal_length_mm=5.8594,
        focal_length_35mm=35.0,
        flash_fired=True,
        chroma_subsampling="4:2:0",
    ),
    "jpg/exif-org/kodak-dc240.jpg": dict(
        make="EASTMAN KODAK COMPANY",
        model="KODAK DC240 ZOOM DIGITAL CAMERA",
        exposure_time=Fraction(1, 30),
        f_number=4.0,
        iso=None,
        focal_length_mm=14.0,
        flash_fired=True,
        datetime_original="1999-05-25T21:00:09",
        width=640,
        height=480,
    ),
    "jpg/mobile/HMD_Nokia_8.3_5G.jpg": dict(
        make="HMD Global",
        model="Nokia 8.3 5G",
        exposure_time=Fraction(541, 1_000_000),
        f_number=2.2,
        iso=100,
        focal_length_mm=2.75,
        flash_fired=False,
        datetime_original="2022-08-14T14:12:31",
        width=4608,
        height=1976,
        chroma_subsampling="4:2:0",
    ),
    "jpg/tests/87_OSError.jpg": dict(
        make="NIKON CORPORATION",
        model="NIKON D70s",
        lens="18.0-70.0 mm f/3.5-4.5",
        exposure_time=Fraction(1, 60),
        f_number=29.0,
        iso=1000,
        focal_length_mm=60.0,
        focal_length_35mm=90.0,
        chroma_subsampling="4:4:0",
    ),
    "jpg/tests/67-0_length_string.jpg": dict(
        make="samsung",
        model="SM-G930F",
        exposure_time=None,
        datetime_original=None,
        orientation=1,
        width=4032,
        height=2012,
        chroma_subsampling="4:4:0",
    ),
    "jpg/Fujifilm_FinePix_E500.jpg": dict(make="FUJIFILM", model="FinePix E500"),  # blank padding cut
    "jpg/exif-org/sony-cybershot.jpg": dict(make="SONY", model="CYBERSHOT"),  # NUL padding cut
    "heic/IMG_5195.HEIC": dict(
        make="Apple",
        model="iPhone 11 Pro Max",
        exposure_time=Fraction(1, 391),
        f_number=1.8,
        iso=32,
        focal_length_mm=4.25,
        focal_length_35mm=26.0,
        flash_fired=False,
        image_format="HEIF",
        lens="iPhone 11 Pro Max back triple camera 4.25mm f/1.8",
        datetime_original="2021-04-11T15:47:53",
        jpeg_quality=None,
        chroma_subsampling=None,
    ),
    "heic/mobile/iphone_13_pro_max.HEIC": dict(
        make="Apple",
        model="iPhone 13 Pro Max",
        exposure_time=Fraction(1, 60),
        f_number=1.5,
        iso=250,
        focal_length_mm=5.7,
        orientation=6,
        width=4032,
        height=3024,
        datetime_original="2022-02-16T12:55:41",
    ),
    "heic/mobile/HMD_Nokia_8.3_5G.heif": dict(
        make=None,
        exposure_time=Fraction(1, 5000),
        f_number=1.89,
        iso=102,
        flash_fired=False,
    ),
    "tiff/Cremieux11.tiff": dict(make=None, orientation=1, width=199, height=47, image_format="TIFF"),
}


@pytest.mark.parametrize("name", sorted(HAND_CHECKED))
def test_real_files_match_hand_checked_values(exif_samples, name):
    record = read_exif(exif_samples / name)
    for field, expected in HAND_CHECKED[name].items():
        assert getattr(record, field) == expected, field


def test_bytes_and_path_give_the_same_record(exif_samples):
    path = exif_samples / "jpg" / "Canon_40D.jpg"
    assert read_exif(path.read_bytes()) == read_exif(path)


def test_every_sample_file_gives_a_row_without_exceptions(exif_samples):
    files = [p for p in sorted(exif_samples.rglob("*")) if p.is_file()]
    assert len(files) > 100
    rows = [scan_file(path) for path in files]
    by_name = {row["path"]: row for row in rows}
    images = [row for row in rows if row["path"].lower().endswith(tuple(IMAGE_SUFFIXES))]
    assert all(row["error"] is None for row in images), [r for r in images if r["error"]]
    readme = by_name[str(exif_samples / "jpg" / "README")]
    assert readme["error"] == "not a JPEG, HEIF or TIFF image"
    assert readme["make"] is None and readme["labels"]["make"] is None


def test_folder_walk_finds_only_images_sorted(exif_samples):
    found = list(iter_photo_paths([exif_samples / "jpg" / "orientation"]))
    assert [p.name for p in found] == sorted(p.name for p in found)
    assert len(found) == 16 and all(p.suffix == ".jpg" for p in found)


def _tiny_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 30)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _with_claimed_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Rewrite the SOF0 frame header to claim another size, as a decompression bomb does."""
    sof = jpeg.index(b"\xff\xc0")
    return jpeg[: sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9 :]


def test_decompression_bomb_is_refused_with_a_message():
    bomb = _with_claimed_size(_tiny_jpeg(), 60000, 60000)
    with pytest.raises(ExifReadError, match="decompression bomb"):
        read_exif(bomb)


def test_pixel_limit_is_a_parameter():
    big = _with_claimed_size(_tiny_jpeg(), 4000, 3000)
    assert read_exif(big).width == 4000
    with pytest.raises(ExifReadError, match="12 megapixels, over the 10 MP limit"):
        read_exif(big, max_pixels=10_000_000)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not a JPEG, HEIF or TIFF image"),
        (b"hello, not an image", "not a JPEG, HEIF or TIFF image"),
        (b"\xff\xd8\xff", "corrupt JPEG file: its header cannot be parsed"),
        (b"II*\x00garbage", "corrupt TIFF file"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "corrupt HEIF file"),
    ],
)
def test_garbage_bytes_raise_a_clear_error(data, message):
    with pytest.raises(ExifReadError, match=message):
        read_exif(data)


def test_truncated_camera_file_still_reads_its_header(exif_samples):
    data = (exif_samples / "jpg" / "hdr" / "canon_hdr_NO.jpg").read_bytes()
    record = read_exif(data[: len(data) // 2])  # the pixels are cut, the Exif is intact
    assert record.model == "Canon PowerShot SX60 HS"


def test_file_cut_inside_its_header_is_an_error_row(exif_samples):
    data = (exif_samples / "jpg" / "Nikon_D70.jpg").read_bytes()
    with pytest.raises(ExifReadError, match="truncated JPEG file: it ends inside its header"):
        read_exif(data[:1000])


def test_missing_file_and_folder_rows(tmp_path):
    assert scan_file(tmp_path / "nope.jpg")["error"] == "file not found"
    assert scan_file(tmp_path)["error"] == "is a directory"


def test_png_is_not_accepted(tmp_path):
    path = tmp_path / "image.png"
    Image.new("RGB", (4, 4)).save(path)
    assert scan_file(path)["error"] == "not a JPEG, HEIF or TIFF image"


@pytest.mark.parametrize("name", ["jpg/Canon_40D.jpg", "heic/IMG_5195.HEIC", "tiff/Cremieux11.tiff"])
def test_reading_never_decodes_pixels(exif_samples, monkeypatch, name):
    from PIL import ImageFile
    from pillow_heif.as_plugin import _LibHeifImageFile

    def refuse(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(_LibHeifImageFile, "load", refuse)
    assert read_exif(exif_samples / name).width > 0
