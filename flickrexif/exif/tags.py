"""Exif values as photos and Flickr write them: cleaning, and the getExif answer as an ExifRecord.

Cameras write rationals, NUL-padded strings and "YYYY:MM:DD" dates; Flickr's ``photos.getExif``
answer carries ExifTool-style tag names and printed values.  The cleaning functions here turn
either into the typed fields of :class:`ExifRecord`; :func:`exif_from_flickr` maps Flickr's tags
onto the record, as :func:`flickrexif.exif.read.read_exif` does for files.

Every value is untrusted, so every function here is total: whatever a camera or Flickr wrote (a
400-digit ISO, a superscript digit, ``1e999``, NaN, a dict where text belongs) becomes ``None``,
never an exception.  :func:`read_flickr_exif` also says which values it had to drop and why, and
:func:`checked_exif_items` refuses a getExif answer that does not have the documented shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from fractions import Fraction
from typing import Any

from flickrexif.exif.record import ExifRecord

MAX_INT = 2**63 - 1  # integers beyond int64 cannot be stored or published (SQLite, Parquet)
_MAX_DIGITS = 200  # digits in one written number; more is never a camera value
_MAX_EXPONENT = 400  # |e| in "1e-05"; beyond it no float is left (and 10**e would be slow)
_NUMBER = re.compile(r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?:\s*/\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))?", re.ASCII)


class UnusableValue(ValueError):
    """A value that is written as a number (or a date) but cannot be one: dropped, with this reason."""


class MalformedExifAnswer(ValueError):
    """A getExif answer without the documented ``{"photo": {"exif": [...]}}`` shape."""


# --- value cleaning shared by both sources -------------------------------------------------


def clean_text(value: Any) -> str | None:
    """Exif strings: bytes decoded, cut at the first NUL, surrounding blanks stripped.

    Lone surrogates (``"\\ud800"`` from JSON) become ``"?"``: they cannot be encoded as UTF-8,
    so SQLite, Parquet and every file writer would refuse them later.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if not isinstance(value, str):
        return None
    value = value.split("\x00", 1)[0].strip().encode("utf-8", errors="replace").decode("utf-8")
    return value or None


def _check_digits(text: str) -> None:
    """Refuse digits other than ASCII ones (``"²"``, ``"٤"``): Python reads some, cameras write none."""
    odd = next((char for char in text if char.isdigit() and not char.isascii()), None)
    if odd is not None:
        raise UnusableValue(f"non-ASCII digit {odd!r}")


def _decimal(text: str) -> Fraction:
    """One written number, ``"71"``, ``"2.8"`` or ``"1e-05"``, exactly (ASCII, checked by the pattern)."""
    mantissa, _, exponent = text.lower().partition("e")
    if len(mantissa) > _MAX_DIGITS or len(exponent) > 6:
        raise UnusableValue(f"a {len(text)}-character number")
    power = int(exponent or 0)
    if abs(power) > _MAX_EXPONENT:
        raise UnusableValue(f"exponent {power} is out of range")
    return Fraction(mantissa) * Fraction(10) ** power


def _fraction(value: Any) -> Fraction | None:
    """:func:`to_fraction`, raising :class:`UnusableValue` for a number that cannot be used."""
    try:
        if isinstance(value, (tuple, list)):
            value = value[0] if len(value) == 1 else Fraction(value[0], value[1])
        numerator = getattr(value, "numerator", None)
        denominator = getattr(value, "denominator", None)
        if numerator is not None and denominator is not None and not isinstance(value, float):
            result = Fraction(int(numerator), int(denominator))
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise UnusableValue(f"{value} is not finite")
            result = Fraction(value).limit_denominator(1_000_000)
        elif isinstance(value, str):
            _check_digits(value)
            match = _NUMBER.search(value)
            if match is None:
                return None
            num, den = match.groups()
            result = _decimal(num) / _decimal(den) if den else _decimal(num)
        else:
            return None
    except (ZeroDivisionError, TypeError, IndexError):
        return None
    except UnusableValue:
        raise
    except (ValueError, OverflowError) as error:  # digits beyond Python's int limit, ...
        raise UnusableValue(f"unreadable number ({type(error).__name__})") from None
    if result <= 0:
        return None
    try:
        float(result)  # every consumer (labels, Parquet) needs a finite float
    except OverflowError:
        raise UnusableValue("too large for a number") from None
    return result


def to_fraction(value: Any) -> Fraction | None:
    """A positive exact fraction from an Exif rational, a number or a string like ``"1/125"``.

    Never raises: a value that is not a usable number (zero, negative, beyond a float, written with
    non-ASCII digits) is ``None``.
    """
    try:
        return _fraction(value)
    except UnusableValue:
        return None


def _float(value: Any) -> float | None:
    fraction = _fraction(value)
    return None if fraction is None else round(float(fraction), 4)


def _int(value: Any) -> int | None:
    if isinstance(value, (tuple, list)):
        value = value[0] if value else None
    fraction = _fraction(value)
    if fraction is None:
        return None
    number = round(fraction)
    if number > MAX_INT:
        raise UnusableValue("too large for an integer")
    return number


def to_float(value: Any) -> float | None:
    try:
        return _float(value)
    except UnusableValue:
        return None


def to_int(value: Any) -> int | None:
    try:
        return _int(value)
    except UnusableValue:
        return None


_DATE = re.compile(r"(\d{4})[:\-/](\d{2})[:\-/](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?", re.ASCII)


def _iso_datetime(value: Any) -> str | None:
    text = clean_text(value)
    if text is None:
        return None
    _check_digits(text)
    match = _DATE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if not (1 <= month <= 12 and 1 <= day <= 31 and year > 0 and hour < 24 and minute < 60 and second < 61):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{min(second, 59):02d}"


def to_iso_datetime(value: Any) -> str | None:
    """``"2008:05:30 15:56:01"`` → ``"2008-05-30T15:56:01"``; zeroed or malformed dates → None."""
    try:
        return _iso_datetime(value)
    except UnusableValue:
        return None


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


def _exif_list(answer: Any) -> list[Any]:
    if isinstance(answer, Mapping):
        photo = answer.get("photo", answer)
        items = photo.get("exif", []) if isinstance(photo, Mapping) else []
    else:
        items = answer
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        return []
    return list(items)


def flickr_exif_items(answer: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The list of tag items from a whole getExif answer, its ``photo`` object, or the list.

    Lenient: whatever is not there or not an object is left out (see :func:`checked_exif_items`).
    """
    return [item for item in _exif_list(answer) if isinstance(item, Mapping)]


def checked_exif_items(answer: Any) -> list[Mapping[str, Any]]:
    """The tag items of a whole getExif answer, refusing one without the documented shape.

    A missing ``photo``, a ``photo`` that is not an object or an ``exif`` that is not a list raises
    :class:`MalformedExifAnswer`: such an answer says nothing about the photo's Exif, so it must
    not be taken for a photo without any.
    """
    if not isinstance(answer, Mapping):
        raise MalformedExifAnswer(f"the answer is a {type(answer).__name__}, not an object")
    photo = answer.get("photo")
    if not isinstance(photo, Mapping):
        raise MalformedExifAnswer("no photo object" if photo is None else f"photo is a {type(photo).__name__}")
    items = photo.get("exif")
    if not isinstance(items, list):
        raise MalformedExifAnswer("no exif list" if items is None else f"exif is a {type(items).__name__}")
    return flickr_exif_items(items)


def _flickr_value(item: Mapping[str, Any], kind: str) -> Any:
    value = item.get(kind)
    return value.get("_content") if isinstance(value, Mapping) else value


def _shown(value: Any) -> str:
    """A short, printable rendering of an untrusted value for a note."""
    if isinstance(value, str):
        return repr(value[:24] + "…") + f" ({len(value)} characters)" if len(value) > 24 else repr(value)
    if isinstance(value, int) and value.bit_length() > 64:
        return f"a {value.bit_length()}-bit integer"
    return type(value).__name__ if isinstance(value, (Mapping, list)) else repr(value)[:40]


def read_flickr_exif(answer: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> tuple[ExifRecord, list[str]]:
    """:func:`exif_from_flickr`, with a note for every value that looked like one but was dropped.

    Notes read like ``"ISO '999…' (400 characters): a 400-character number"``; values that simply
    are not numbers (``"Auto"``, ``"undef"``) are dropped without one, as cameras write them often.
    """
    raw = _exif_list(answer)
    by_tag: dict[str, tuple[int, Any]] = {}
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        tag = item.get("tag")
        value = _flickr_value(item, "raw")
        if value is None or value == "":
            value = _flickr_value(item, "clean")
        if not isinstance(tag, str) or value is None or value == "":
            continue
        space = item.get("tagspace")
        known = isinstance(space, str) and space in _PREFERRED_TAGSPACES
        rank = _PREFERRED_TAGSPACES.index(space) if known else len(_PREFERRED_TAGSPACES)
        if tag not in by_tag or rank < by_tag[tag][0]:
            by_tag[tag] = (rank, value)
    notes: list[str] = []
    if junk := sum(not isinstance(item, Mapping) for item in raw):
        notes.append(f"{junk} exif items are not objects")

    def field(name: str, parse: Callable[[Any], Any]) -> Any:
        tag = next((tag for tag in _FLICKR_TAGS[name] if tag in by_tag), None)
        if tag is None:
            return None
        value = by_tag[tag][1]
        try:
            return parse(value)
        except (ValueError, ArithmeticError, TypeError) as problem:  # UnusableValue, or a surprise
            notes.append(f"{tag} {_shown(value)}: {str(problem) or type(problem).__name__}")
            return None

    record = ExifRecord(
        make=field("make", clean_text),
        model=field("model", clean_text),
        lens=field("lens", clean_text),
        datetime_original=field("datetime_original", _iso_datetime),
        exposure_time=field("exposure_time", _fraction),
        f_number=field("f_number", _float),
        iso=field("iso", _int),
        focal_length_mm=field("focal_length_mm", _float),
        focal_length_35mm=field("focal_length_35mm", _float),
        flash_fired=field("flash", _flash_fired),
        orientation=field("orientation", _orientation),
        software=field("software", clean_text),
        width=field("width", _int),
        height=field("height", _int),
    )
    return record, notes


def exif_from_flickr(answer: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> ExifRecord:
    """Map a ``flickr.photos.getExif`` answer (parsed JSON) onto an :class:`ExifRecord`.

    ``raw`` values are used, ``clean`` only when ``raw`` is absent.  Unparseable values become
    ``None``: Flickr passes through whatever the camera wrote.
    """
    return read_flickr_exif(answer)[0]


def _text_of(value: Any) -> str | None:
    """A printed value as text; numbers are printed, anything else (objects, lists) is no value."""
    if isinstance(value, (str, bytes)):
        return clean_text(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and value.bit_length() > 64:
        raise UnusableValue("too large for a number")
    return clean_text(str(value))


def _flash_fired(value: Any) -> bool | None:
    text = _text_of(value)
    if text is None:
        return None
    _check_digits(text)
    if text.isdigit():
        if len(text) > 5:  # Flash is a 16-bit value
            raise UnusableValue("not a Flash value")
        return bool(int(text) & 1)
    lowered = text.casefold()
    if "did not fire" in lowered or "no flash" in lowered or lowered.startswith("off"):
        return False
    if "fired" in lowered or lowered.startswith("on"):
        return True
    return None


def flash_fired_from_text(value: Any) -> bool | None:
    """ExifTool's Flash text (``"Off, Did not fire"``, ``"Auto, Fired"``) or the numeric value."""
    try:
        return _flash_fired(value)
    except UnusableValue:
        return None


def _orientation(value: Any) -> int | None:
    text = _text_of(value)
    if text is None:
        return None
    named = _ORIENTATION_NAMES.get(text.casefold())
    if named is not None:
        return named
    number = _int(text)
    return number if number is not None and 1 <= number <= 8 else None
