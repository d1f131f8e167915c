"""scrub_jpeg: identifying metadata out, image data and camera fields untouched."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from flickrexif.exif.read import read_exif
from flickrexif.exif.scrub import NotAJpeg, scrub_jpeg

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" '
    b'xmlns:aux="http://ns.adobe.com/exif/1.0/aux/" tiff:Orientation="6" exif:GPSLatitude="48,51.4N" '
    b'aux:SerialNumber="123456"/></rdf:RDF></x:xmpmeta>'
)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


def photo(exif: Image.Exif | None = None, xmp: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (32, 48, 3), dtype=np.uint8))
    options = {"quality": 88}
    if exif is not None:
        options["exif"] = exif
    if xmp is not None:
        options["xmp"] = xmp
    image.save(buffer, "JPEG", **options)
    return buffer.getvalue()


def camera_exif(*, gps: bool = True) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x013C] = "Canon", "Canon EOS 40D", "Anna's laptop"
    sub = exif.get_ifd(0x8769)
    sub[0xA431], sub[0xA435], sub[0x829D], sub[0x8827] = "0123456789", "L-998877", 5.6, 400
    if gps:
        exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 7.0)})
    return exif


def test_gps_serials_and_host_go_camera_fields_stay():
    original = photo(camera_exif())
    cleaned = scrub_jpeg(original)
    exif = Image.open(io.BytesIO(cleaned)).getexif()
    assert 0x8825 not in exif and not exif.get_ifd(0x8825) and 0x013C not in exif
    assert not {0xA431, 0xA435} & set(exif.get_ifd(0x8769))
    assert b"0123456789" not in cleaned and b"laptop" not in cleaned
    assert (exif[0x010F], exif[0x0110]) == ("Canon", "Canon EOS 40D")
    assert read_exif(cleaned) == read_exif(original)
    assert np.array_equal(pixels(cleaned), pixels(original))
    assert scrub_jpeg(cleaned) == cleaned  # idempotent


def test_xmp_is_dropped_but_its_orientation_is_kept_in_exif():
    for exif in (camera_exif(), None):
        original = photo(exif, xmp=XMP)
        cleaned = scrub_jpeg(original)
        assert b"xmpmeta" not in cleaned and b"SerialNumber" not in cleaned
        assert Image.open(io.BytesIO(cleaned)).getexif()[0x0112] == 6
        assert read_exif(cleaned).orientation == read_exif(original).orientation == 6
        assert np.array_equal(pixels(cleaned), pixels(original))


def test_data_after_the_image_and_the_mpf_index_are_dropped():
    original = photo(camera_exif())
    mpf = b"\xff\xe2" + struct.pack(">H", 2 + 8) + b"MPF\x00abcd"
    secondary = photo(camera_exif())  # an MPO's second image carries its own GPS
    stitched = original[:2] + mpf + original[2:] + secondary
    cleaned = scrub_jpeg(stitched)
    assert b"MPF\x00" not in cleaned and cleaned.count(b"\xff\xd8") == 1 and cleaned.endswith(b"\xff\xd9")
    assert cleaned == scrub_jpeg(original)


def test_not_a_jpeg():
    for data in (b"GIF89a...", b"\xff\xd8\xff\xe1\x00", photo()[:-200]):
        with pytest.raises(NotAJpeg):
            scrub_jpeg(data)


def test_real_camera_files_keep_their_pixels_and_exif_fields(exif_samples):
    files = sorted(p for p in (exif_samples / "jpg").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    checked = 0
    for path in files:
        data = path.read_bytes()
        try:
            before = read_exif(data)
            reference = pixels(data)
        except Exception:  # noqa: BLE001 - deliberately broken samples: nothing to compare
            continue
        try:
            cleaned = scrub_jpeg(data)
        except NotAJpeg:
            continue  # the build drops such photos
        assert read_exif(cleaned) == before, path.name
        assert np.array_equal(pixels(cleaned), reference), path.name
        exif = Image.open(io.BytesIO(cleaned)).getexif()
        assert not exif.get_ifd(0x8825) and not {0xA431, 0xA435, 0x927C} & set(exif.get_ifd(0x8769)), path.name
        checked += 1
    assert checked >= 20
