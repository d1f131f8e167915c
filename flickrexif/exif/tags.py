"""Exif values as photos and Flickr write them: cleaning, and the getExif answer as an ExifRecord.

Cameras write rationals, NUL-padded strings and "YYYY:MM:DD" dates; Flickr's ``photos.getExif``
answer carries ExifTool-style tag names and printed values.  The cleaning functions here turn
either into the typed fields of :class:`ExifRecord`; :func:`exif_from_flickr` maps Flickr's tags
onto the record, as :func:`flickrexif.exif.read.read_exif` does for files.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from flickrexif.exif.record import ExifRecord

# --- value cleaning shared by both sources -------------------------------------------------


def clean_text(value: Any) -> str | None:
    """Exif strings: bytes decoded, cut at the first NUL, surrounding blanks stripped."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.split("\x00", 1)[0].strip()
    return value or None


def to_fraction(value: Any) -> Fraction | None:
    """A positive exact fraction from an Exif rational, a number or a string like ``"1/125"``."""
    try:
        if isinstance(value, (tuple, list)):
            value = value[0] if len(value) == 1 else Fraction(value[0], value[1])
        numerator = getattr(value, "numerator", None)
        denominator = getattr(value, "denominator", None)
        if numerator is not None and denominator is not None and not isinstance(value, float):
            result = Fraction(int(numerator), int(denominator))
        elif isinstance(value, (int, float)):
            result = Fraction(value).limit_denominator(1_000_000)
        elif isinstance(value, str):
            match = re.search(r"\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?", value)
            if match is None:
                return None
            text = match.group(0).replace(" ", "")
            num, _, den = text.partition("/")
            result = Fraction(num) / Fraction(den) if den else Fraction(num)
        else:
            return None
    except (ValueError, ZeroDivisionError, TypeError, OverflowError, IndexError):
        return None
    return result if result > 0 else None


def to_float(value: Any) -> float | None:
    fraction = to_fraction(value)
    if fraction is None:
        return None
    number = float(fraction)
    return round(number, 4) if math.isfinite(number) else None


def to_int(value: Any) -> int | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    fraction = to_fraction(value)
    return round(fraction) if fraction is not None else None


def to_iso_datetime(value: Any) -> str | None:
    """``"2008:05:30 15:56:01"`` → ``"2008-05-30T15:56:01"``; zeroed or malformed dates → None."""
    text = clean_text(value)
    if text is None:
        return None
    match = re.match(r"(\d{4})[:\-/](\d{2})[:\-/](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and year > 0 and hour < 24 and minute < 60 and second < 61):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{min(second, 59):02d}"


def orientation_number(value: Any) -> int | None:
    number = to_int(value)
    return number if number is not None and 1 <= number <= 8 else None


# --- Flickr photos.getExif -----------------------------------------------------------------

# ExifTool's printed Orientation values, as Flickr returns them.
_ORIENTATION_NAMES = {
    "horizontal (normal)": 1,
    "mirror horizontal": 2,
    "rotate 180": 3,
    "mirror vertical": 4,
    "mirror horizontal and rotate 270 cw": 5,
    "rotate 90 cw": 6,
    "mirror horizontal and rotate 90 cw": 7,
    "rotate 270 cw": 8,
}
# Tag names Flickr uses (ExifTool's), in order of preference per field.
_FLICKR_TAGS = {
    "make": ("Make",),
    "model": ("Model",),
    "lens": ("LensModel", "Lens", "LensID", "LensType"),
    "datetime_original": ("DateTimeOriginal", "CreateDate", "DateTimeDigitized"),
    "exposure_time": ("ExposureTime",),
    "f_number": ("FNumber",),
    "iso": ("ISO", "ISOSpeedRatings", "PhotographicSensitivity", "RecommendedExposureIndex"),
    "focal_length_mm": ("FocalLength",),
    "focal_length_35mm": ("FocalLengthIn35mmFormat", "FocalLengthIn35mmFilm"),
    "flash": ("Flash",),
    "orientation": ("Orientation",),
    "software": ("Software",),
    "width": ("ExifImageWidth", "ImageWidth", "PixelXDimension"),
    "height": ("ExifImageHeight", "ImageHeight", "PixelYDimension"),
}
# Standard tag spaces win over maker notes and XMP when a tag appears more than once.
_PREFERRED_TAGSPACES = ("IFD0", "ExifIFD", "EXIF", "IFD1")


def flickr_exif_items(answer: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The list of tag items from a whole getExif answer, its ``photo`` object, or the list."""
    if isinstance(answer, Mapping):
        photo = answer.get("photo", answer)
        items = photo.get("exif", []) if isinstance(photo, Mapping) else []
    else:
        items = answer
    return [item for item in items if isinstance(item, Mapping)]


def _flickr_value(item: Mapping[str, Any], kind: str) -> Any:
    value = item.get(kind)
    return value.get("_content") if isinstance(value, Mapping) else value


def exif_from_flickr(answer: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> ExifRecord:
    """Map a ``flickr.photos.getExif`` answer (parsed JSON) onto an :class:`ExifRecord`.

    ``raw`` values are used, ``clean`` only when ``raw`` is absent.  Unparseable values become
    ``None``: Flickr passes through whatever the camera wrote.
    """
    by_tag: dict[str, tuple[int, Any]] = {}
    for item in flickr_exif_items(answer):
        tag = item.get("tag")
        value = _flickr_value(item, "raw")
        if value in (None, ""):
            value = _flickr_value(item, "clean")
        if not isinstance(tag, str) or value in (None, ""):
            continue
        space = item.get("tagspace")
        rank = _PREFERRED_TAGSPACES.index(space) if space in _PREFERRED_TAGSPACES else len(_PREFERRED_TAGSPACES)
        if tag not in by_tag or rank < by_tag[tag][0]:
            by_tag[tag] = (rank, value)

    def first(field: str) -> Any:
        for tag in _FLICKR_TAGS[field]:
            if tag in by_tag:
                return by_tag[tag][1]
        return None

    return ExifRecord(
        make=clean_text(first("make")),
        model=clean_text(first("model")),
        lens=clean_text(first("lens")),
        datetime_original=to_iso_datetime(first("datetime_original")),
        exposure_time=to_fraction(first("exposure_time")),
        f_number=to_float(first("f_number")),
        iso=to_int(first("iso")),
        focal_length_mm=to_float(first("focal_length_mm")),
        focal_length_35mm=to_float(first("focal_length_35mm")),
        flash_fired=flash_fired_from_text(first("flash")),
        orientation=_flickr_orientation(first("orientation")),
        software=clean_text(first("software")),
        width=to_int(first("width")),
        height=to_int(first("height")),
    )


def flash_fired_from_text(value: Any) -> bool | None:
    """ExifTool's Flash text (``"Off, Did not fire"``, ``"Auto, Fired"``) or the numeric value."""
    text = clean_text(str(value)) if value is not None else None
    if text is None:
        return None
    if text.isdigit():
        return bool(int(text) & 1)
    lowered = text.casefold()
    if "did not fire" in lowered or "no flash" in lowered or lowered.startswith("off"):
        return False
    if "fired" in lowered or lowered.startswith("on"):
        return True
    return None


def _flickr_orientation(value: Any) -> int | None:
    text = clean_text(str(value)) if value is not None else None
    if text is None:
        return None
    return _ORIENTATION_NAMES.get(text.casefold()) or orientation_number(text)
