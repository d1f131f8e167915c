"""Mapping Flickr's ``photos.getExif`` answers (ExifTool tag names, printed values) to records."""

from __future__ import annotations

from fractions import Fraction

import pytest

from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tags import exif_from_flickr, flash_fired_from_text


def item(tag, raw=None, clean=None, tagspace="ExifIFD"):
    out = {"tagspace": tagspace, "tagspaceid": 0, "tag": tag, "label": tag}
    if raw is not None:
        out["raw"] = {"_content": raw}
    if clean is not None:
        out["clean"] = {"_content": clean}
    return out


CANON_ANSWER = {
    "photo": {
        "id": "8397843476",
        "secret": "abc",
        "server": "8331",
        "farm": 9,
        "camera": "Canon EOS 5D Mark II",
        "exif": [
            item("Make", "Canon", tagspace="IFD0"),
            item("Model", "Canon EOS 5D Mark II", tagspace="IFD0"),
            item("Orientation", "Horizontal (normal)", tagspace="IFD0"),
            item("Software", "Adobe Photoshop Lightroom 4.3 (Windows)", tagspace="IFD0"),
            item("ExposureTime", "1/125", "0.008 sec (1/125)"),
            item("FNumber", "8.0", "f/8.0"),
            item("ISO", "100"),
            item("DateTimeOriginal", "2013:01:20 14:25:04"),
            item("Flash", "Off, Did not fire"),
            item("FocalLength", "24.0 mm", "24 mm"),
            item("LensModel", "EF24-105mm f/4L IS USM"),
            item("ExifImageWidth", "5616"),
            item("ExifImageHeight", "3744"),
            item("ExposureTime", "1/128", tagspace="Canon"),  # maker note: loses to ExifIFD
            item("GPSLatitude", "51 deg 30' 0.00\" N", tagspace="GPS"),
            item("SerialNumber", "0123456789", tagspace="ExifIFD"),
        ],
    },
    "stat": "ok",
}


def test_full_answer_maps_to_record():
    record = exif_from_flickr(CANON_ANSWER)
    assert record == ExifRecord(
        make="Canon",
        model="Canon EOS 5D Mark II",
        lens="EF24-105mm f/4L IS USM",
        datetime_original="2013-01-20T14:25:04",
        exposure_time=Fraction(1, 125),
        f_number=8.0,
        iso=100,
        focal_length_mm=24.0,
        flash_fired=False,
        orientation=1,
        software="Adobe Photoshop Lightroom 4.3 (Windows)",
        width=5616,
        height=3744,
    )


def test_photo_object_and_item_list_are_accepted_too():
    expected = exif_from_flickr(CANON_ANSWER)
    assert exif_from_flickr(CANON_ANSWER["photo"]) == expected
    assert exif_from_flickr(CANON_ANSWER["photo"]["exif"]) == expected


def test_standard_tagspace_wins_whatever_the_order():
    items = [item("ExposureTime", "1/128", tagspace="Canon"), item("ExposureTime", "1/125")]
    assert exif_from_flickr(items).exposure_time == Fraction(1, 125)
    assert exif_from_flickr(items[::-1]).exposure_time == Fraction(1, 125)


def test_maker_note_value_is_used_when_nothing_else_has_it():
    assert exif_from_flickr([item("ISO", "400", tagspace="Nikon")]).iso == 400


def test_clean_is_the_fallback_when_raw_is_missing():
    assert exif_from_flickr([item("FNumber", clean="f/5.6")]).f_number == 5.6


@pytest.mark.parametrize(
    ("tag", "raw", "field", "expected"),
    [
        ("ExposureTime", "0.00625", "exposure_time", Fraction(1, 160)),
        ("ExposureTime", "10/1600", "exposure_time", Fraction(1, 160)),
        ("ExposureTime", "2.5", "exposure_time", Fraction(5, 2)),
        ("ExposureTime", "1/0", "exposure_time", None),
        ("ExposureTime", "0", "exposure_time", None),
        ("ExposureTime", "undef", "exposure_time", None),
        ("FNumber", "71/10", "f_number", 7.1),
        ("FNumber", "f/2.8", "f_number", 2.8),
        ("ISO", "100, 0, 0", "iso", 100),
        ("ISO", "Auto", "iso", None),
        ("FocalLength", "5.4 mm (35 mm equivalent: 30.0 mm)", "focal_length_mm", 5.4),
        ("FocalLengthIn35mmFormat", "75 mm", "focal_length_35mm", 75.0),
        ("DateTimeOriginal", "0000:00:00 00:00:00", "datetime_original", None),
        ("DateTimeOriginal", "2019-07-04 09:15", "datetime_original", "2019-07-04T09:15:00"),
        ("DateTimeOriginal", "2019:13:04 09:15:00", "datetime_original", None),
        ("Orientation", "Rotate 90 CW", "orientation", 6),
        ("Orientation", "8", "orientation", 8),
        ("Orientation", "Unknown (0)", "orientation", None),
        ("Make", "NIKON CORPORATION\u0000\u0000", "make", "NIKON CORPORATION"),
        ("Make", "   ", "make", None),
    ],
)
def test_value_parsing(tag, raw, field, expected):
    assert getattr(exif_from_flickr([item(tag, raw)]), field) == expected


@pytest.mark.parametrize(
    ("text", "fired"),
    [
        ("No Flash", False),
        ("No flash function", False),
        ("Off, Did not fire", False),
        ("Auto, Did not fire", False),
        ("Off, Did not fire, Return not detected", False),
        ("Fired", True),
        ("On, Fired", True),
        ("Auto, Fired, Return detected", True),
        ("On, Return not detected", True),
        ("16", False),
        ("25", True),
        ("0", False),
        ("1", True),
        ("Unknown (0x60)", None),
        ("", None),
        (None, None),
    ],
)
def test_flash_text(text, fired):
    assert flash_fired_from_text(text) is fired


def test_empty_and_malformed_answers_give_an_empty_record():
    assert exif_from_flickr({}) == ExifRecord()
    assert exif_from_flickr({"photo": {"exif": "oops"}}) == ExifRecord()
    assert exif_from_flickr([{"tag": "Make"}, "junk", {"raw": {"_content": "x"}}]) == ExifRecord()


def test_gps_and_serial_numbers_never_reach_the_record():
    values = exif_from_flickr(CANON_ANSWER).to_json()
    text = repr(values)
    assert "0123456789" not in text and "51 deg" not in text
