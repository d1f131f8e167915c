"""Untrusted values from Flickr: getExif values and answers, search answers and rows, never raise."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from flickrexif.crawl.search import BadSearchAnswer, parse_search_answer
from flickrexif.exif.labels import label_record
from flickrexif.exif.tags import (
    MalformedExifAnswer,
    checked_exif_items,
    exif_from_flickr,
    flash_fired_from_text,
    read_flickr_exif,
    to_float,
    to_fraction,
    to_int,
    to_iso_datetime,
)


def item(tag, raw):
    return {"tagspace": "ExifIFD", "tagspaceid": 0, "tag": tag, "label": tag, "raw": {"_content": raw}}


POISON = [
    ("ISO", "9" * 400, "iso"),
    ("FNumber", "9" * 400, "f_number"),
    ("ExposureTime", "9" * 400, "exposure_time"),
    ("FocalLength", "9" * 5000, "focal_length_mm"),  # beyond Python's int-from-string limit
    ("ISO", "1" + "0" * 150, "iso"),  # a float, but no int64
    ("ISO", "1e400", "iso"),
    ("ISO", "1e999999999", "iso"),  # 10**999999999 must never be computed
    ("ExposureTime", "1/1e-400", "exposure_time"),
    ("ISO", float("inf"), "iso"),
    ("FNumber", float("nan"), "f_number"),
    ("ISO", 10**400, "iso"),
    ("ISO", "٤٠٠", "iso"),  # Arabic-Indic digits: Python reads them, no camera writes them
    ("FNumber", "²", "f_number"),
    ("Flash", "²", "flash_fired"),
    ("Flash", "9" * 30, "flash_fired"),
    ("Flash", 10**400, "flash_fired"),
    ("Orientation", "9" * 400, "orientation"),
    ("DateTimeOriginal", "２０１９:01:02 03:04:05", "datetime_original"),
    ("ExifImageWidth", "1e19", "width"),
]


@pytest.mark.parametrize(("tag", "raw", "field"), POISON, ids=[f"{t}-{str(r)[:12]}" for t, r, _ in POISON])
def test_a_value_that_does_not_parse_is_dropped_and_noted(tag, raw, field):
    answer = {"photo": {"exif": [item("Make", "Canon"), item(tag, raw)]}}
    assert getattr(exif_from_flickr(answer), field) is None
    record, notes = read_flickr_exif(answer)
    assert getattr(record, field) is None and record.make == "Canon"
    assert len(notes) == 1 and notes[0].startswith(tag) and len(notes[0]) < 200
    label_record(record)  # the record is safe downstream: labels and JSON
    json.dumps(record.to_json())


@pytest.mark.parametrize("value", ["9" * 400, "²", "1e999999999", 10**400, float("inf"), float("nan"), {"a": 1}, [[]]])
def test_value_cleaning_never_raises(value):
    assert to_fraction(value) is None and to_float(value) is None and to_int(value) is None
    assert to_iso_datetime(value) is None and flash_fired_from_text(value) is None


def test_numbers_with_exponents_are_read_whole():
    assert exif_from_flickr([item("ExposureTime", "1e-05")]).exposure_time == Fraction(1, 100000)
    assert exif_from_flickr([item("ISO", "1.6e3")]).iso == 1600


def test_text_that_cannot_be_encoded_is_made_safe():
    record = exif_from_flickr([item("Make", "Can\ud800on")])
    assert record.make == "Can?on"
    record.make.encode("utf-8")


def test_values_that_are_simply_not_numbers_are_dropped_without_a_note():
    record, notes = read_flickr_exif([item("ISO", "Auto"), item("ExposureTime", "undef")])
    assert record.iso is None and record.exposure_time is None and notes == []


@pytest.mark.parametrize(
    "answer",
    [
        {"stat": "ok"},
        {"photo": [], "stat": "ok"},
        {"photo": "x", "stat": "ok"},
        {"photo": {"id": "1"}, "stat": "ok"},
        {"photo": {"exif": {"tag": "Make"}}, "stat": "ok"},
        {"photo": {"exif": "Canon"}, "stat": "ok"},
        {"photo": {"exif": 7}, "stat": "ok"},
        [],
        "photo",
    ],
)
def test_a_getexif_answer_without_its_shape_is_malformed(answer):
    with pytest.raises(MalformedExifAnswer):
        checked_exif_items(answer)
    exif_from_flickr(answer)  # the lenient reader still never raises


def test_a_well_formed_getexif_answer_passes_without_its_junk_items():
    assert checked_exif_items({"photo": {"exif": []}}) == []
    assert checked_exif_items({"photo": {"exif": [item("Make", "Canon"), "junk", 3]}}) == [item("Make", "Canon")]
    assert read_flickr_exif([item("Make", "Canon"), "junk", 3])[1] == ["2 exif items are not objects"]


# --- photos.search ------------------------------------------------------------------------------


def row(i, **fields):
    out = {"id": str(1000 + i), "owner": "12345678@N00", "license": "4", "datetaken": "2015-06-01 12:00:00"}
    return {**out, **fields}


def page(rows, total=None, pages=1):
    return {"photos": {"page": 1, "pages": pages, "total": len(rows) if total is None else total, "photo": rows}}


@pytest.mark.parametrize(
    "answer",
    [
        {"stat": "ok"},
        {"photos": [], "stat": "ok"},
        page([row(1)], total="many"),
        page([row(1)], total=10**400),
        page([row(1)], total=-1),
        page([row(1)], total=True),
        page([row(1)], pages=None),
        {"photos": {"total": 1, "pages": 1, "photo": {"id": "1"}}},
        {"photos": {"total": 1, "pages": 1}},
        ["photos"],
    ],
)
def test_a_search_answer_without_a_usable_page_is_refused(answer):
    with pytest.raises(BadSearchAnswer):
        parse_search_answer(answer)


def test_search_rows_without_id_or_owner_are_left_out_with_their_reason():
    rows = [row(1), {"owner": "x"}, row(2, id="../../etc"), row(3, id=True), row(4, owner=None), "junk", row(5)]
    result = parse_search_answer(page(rows, total="7"))
    assert [photo.id for photo in result.photos] == ["1001", "1005"]
    assert result.total == 7 and len(result.skipped) == 5
    assert result.skipped[0].startswith("row 2: no usable id") and result.skipped[3] == "row 5: photo 1004 has no owner"


def test_a_search_row_with_unusable_fields_keeps_its_id_and_says_why():
    rows = [
        row(1, datetaken=20150601),
        row(2, datetaken="yesterday"),
        row(3, title={"_content": "x"}, license=float("inf"), dateupload="9" * 400, o_width=-3, ownername="A\ud800"),
    ]
    first, second, third = parse_search_answer(page(rows)).photos
    assert first.problem == "datetaken 20150601 is not a date" and first.date_taken is None and first.month is None
    assert second.problem.startswith("datetaken 'yesterday'")
    assert third.problem is None and third.month == "2015-06"
    assert (third.title, third.license, third.date_upload, third.o_width) == (None, None, None, None)
    assert third.owner_name == "A?"
