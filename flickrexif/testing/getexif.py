"""Exif as ``flickr.photos.getExif`` prints it, rendered from a real photo file.

Flickr's getExif answers with ExifTool's tag names and printed values (``raw``), plus a friendlier
``clean`` text for some tags.  :func:`exif_items_from_file` renders a file's IFD0, Exif sub-IFD
and GPS tags that way, so the stand-in answers getExif as Flickr would for the same file;
:func:`flash_text` is ExifTool's wording of the Flash value and :func:`camera_name` approximates
the ``camera`` field Flickr adds to the answer.
"""

from __future__ import annotations

import io
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

# Importing flickrexif.exif.read registers pillow-heif's opener, so HEIC samples open.
import flickrexif.exif.read  # noqa: F401
from flickrexif.exif.tags import clean_text

__all__ = ["camera_name", "exif_items_from_file", "flash_text"]

LOG = logging.getLogger(__name__)


_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825

_ORIENTATIONS = {
    1: "Horizontal (normal)",
    2: "Mirror horizontal",
    3: "Rotate 180",
    4: "Mirror vertical",
    5: "Mirror horizontal and rotate 270 CW",
    6: "Rotate 90 CW",
    7: "Mirror horizontal and rotate 90 CW",
    8: "Rotate 270 CW",
}
_EXPOSURE_PROGRAMS = {
    0: "Not Defined",
    1: "Manual",
    2: "Program AE",
    3: "Aperture-priority AE",
    4: "Shutter speed priority AE",
    5: "Creative (Slow speed)",
    6: "Action (High speed)",
    7: "Portrait",
    8: "Landscape",
    9: "Bulb",
}
_METERING_MODES = {
    0: "Unknown",
    1: "Average",
    2: "Center-weighted average",
    3: "Spot",
    4: "Multi-spot",
    5: "Multi-segment",
    6: "Partial",
    255: "Other",
}
_RESOLUTION_UNITS = {1: "None", 2: "inches", 3: "cm"}
_YCBCR_POSITIONS = {1: "Centered", 2: "Co-sited"}
_COLOR_SPACES = {1: "sRGB", 2: "Adobe RGB", 0xFFFF: "Uncalibrated"}
_EXPOSURE_MODES = {0: "Auto", 1: "Manual", 2: "Auto bracket"}
_WHITE_BALANCES = {0: "Auto", 1: "Manual"}
_SCENE_TYPES = {0: "Standard", 1: "Landscape", 2: "Portrait", 3: "Night", 4: "Other"}
_FLASH_MODES = ("", "On", "Off", "Auto")
# The Flash values ExifTool names; others print as "Unknown (0x..)".
_FLASH_KNOWN = frozenset(
    {
        0x00,
        0x01,
        0x05,
        0x07,
        0x08,
        0x09,
        0x0D,
        0x0F,
        0x10,
        0x14,
        0x18,
        0x19,
        0x1D,
        0x1F,
        0x20,
        0x30,
        0x41,
        0x45,
        0x47,
        0x49,
        0x4D,
        0x4F,
        0x50,
        0x58,
        0x59,
        0x5D,
        0x5F,
    }
)

Printed = tuple[str, str | None]  # (raw, clean)


def _first(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return value[0] if value else None
    return value


def _number(value: Any) -> float | None:
    """A finite float from an Exif rational/int/float (first element of an array)."""
    value = _first(value)
    if isinstance(value, (bytes, str)) or value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _integer(value: Any) -> int | None:
    value = _first(value)
    if isinstance(value, bytes) and len(value) == 1:
        return value[0]
    number = _number(value)
    return int(number) if number is not None else None


def _text(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    text = clean_text(value)
    return (text, None) if text else None


def _enum(names: Mapping[int, str]) -> Callable[[Any, Mapping[int, Any]], Printed | None]:
    def show(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
        number = _integer(value)
        return None if number is None else (names.get(number, f"Unknown ({number})"), None)

    return show


def _plain_number(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _number(value)
    return None if number is None else (f"{number:g}", None)


def _plain_integer(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _integer(value)
    return None if number is None else (str(number), None)


def _exposure(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    """ExifTool prints ``1/160`` below 1/4 s, else ``0.3``/``2``; Flickr's clean adds seconds."""
    seconds = _number(value)
    if seconds is None or seconds <= 0:
        return None
    if seconds < 0.25001:
        raw = f"1/{int(0.5 + 1 / seconds)}"
        return raw, f"{seconds:.4g} sec ({raw})"
    raw = f"{seconds:.1f}".removesuffix(".0")
    return raw, f"{raw} sec"


def _f_number(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _number(value)
    if number is None or number <= 0:
        return None
    raw = f"{number:.2f}" if number < 1 else f"{number:.1f}"
    return raw, f"f/{raw}"


def _focal_length(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _number(value)
    if number is None or number <= 0:
        return None
    return f"{number:.1f} mm", f"{round(number, 1):g} mm"


def _focal_length_35mm(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _integer(value)
    return None if not number else (f"{number} mm", None)


def _exposure_bias(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    """ExifTool prints the bias as a signed fraction of thirds or halves: ``-1/3``, ``+1``, ``0``."""
    number = _number(value)
    if number is None:
        return None
    if abs(number) < 1e-6:
        raw = "0"
    elif abs(number - round(number)) < 1e-3:
        raw = f"{round(number):+d}"
    elif abs(number * 2 - round(number * 2)) < 1e-3:
        raw = f"{round(number * 2):+d}/2"
    elif abs(number * 3 - round(number * 3)) < 1e-3:
        raw = f"{round(number * 3):+d}/3"
    else:
        raw = f"{number:+.3g}"
    return raw, f"{raw} EV"


def flash_text(value: int) -> str:
    """ExifTool's text for an Exif Flash value, composed from its bits.

    Mode (bits 3-4: on/off/auto), fired (bit 0), red-eye (bit 6), return light (bits 1-2),
    "no flash function" (bit 5): ``9`` → ``"On, Fired"``, ``16`` → ``"Off, Did not fire"``,
    ``25`` → ``"Auto, Fired"``, ``0`` → ``"No Flash"``.  Like ExifTool, the fired part is left
    out after "On" followed by more, and after "Off" with red-eye reduction.
    """
    if value not in _FLASH_KNOWN:
        return f"Unknown (0x{value:x})"
    if value == 0:
        return "No Flash"
    mode = _FLASH_MODES[(value >> 3) & 3]
    returned = {2: "Return not detected", 3: "Return detected"}.get((value >> 1) & 3)
    red_eye = "Red-eye reduction" if value & 0x40 else None
    if value & 0x20:
        fired = "No flash function"
    elif (mode == "On" and (red_eye or returned)) or (mode == "Off" and red_eye):
        fired = None
    else:
        fired = "Fired" if value & 1 else "Did not fire"
    return ", ".join(part for part in (mode, fired, red_eye, returned) if part)


def _flash(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _integer(value)
    return None if number is None else (flash_text(number), None)


def _gps_version(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    parts = list(value) if isinstance(value, (bytes, tuple, list)) else []
    return (".".join(str(int(part)) for part in parts), None) if parts else None


def _gps_ref(names: Mapping[str, str]) -> Callable[[Any, Mapping[int, Any]], Printed | None]:
    def show(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
        text = clean_text(value)
        return (names.get(text.upper(), text), None) if text else None

    return show


def _gps_coordinate(ref_tag: int) -> Callable[[Any, Mapping[int, Any]], Printed | None]:
    """``51 deg 30' 26.46" N``: degrees/minutes/seconds rationals re-printed from decimal degrees."""

    def show(value: Any, ifd: Mapping[int, Any]) -> Printed | None:
        parts = [_number(part) for part in value] if isinstance(value, (tuple, list)) else [_number(value)]
        if not parts or any(part is None for part in parts):
            return None
        degrees = sum(part / 60**index for index, part in enumerate(parts[:3]))
        whole = int(degrees)
        minutes = int((degrees - whole) * 60)
        seconds = ((degrees - whole) * 60 - minutes) * 60
        text = f"{whole} deg {minutes}' {seconds:.2f}\""
        ref = clean_text(ifd.get(ref_tag))
        return (f"{text} {ref.upper()}" if ref else text), None

    return show


def _gps_altitude(value: Any, _ifd: Mapping[int, Any]) -> Printed | None:
    number = _number(value)
    return None if number is None else (f"{number:.10g} m", None)


@dataclass(frozen=True)
class _TagSpec:
    space: str
    number: int
    tag: str
    label: str
    show: Callable[[Any, Mapping[int, Any]], Printed | None]


# What the converter emits, in Flickr's order: IFD0, then the Exif sub-IFD, then GPS.
_TAG_SPECS = (
    _TagSpec("IFD0", 0x010F, "Make", "Make", _text),
    _TagSpec("IFD0", 0x0110, "Model", "Model", _text),
    _TagSpec("IFD0", 0x0112, "Orientation", "Orientation", _enum(_ORIENTATIONS)),
    _TagSpec("IFD0", 0x011A, "XResolution", "X-Resolution", _plain_number),
    _TagSpec("IFD0", 0x011B, "YResolution", "Y-Resolution", _plain_number),
    _TagSpec("IFD0", 0x0128, "ResolutionUnit", "Resolution Unit", _enum(_RESOLUTION_UNITS)),
    _TagSpec("IFD0", 0x0131, "Software", "Software", _text),
    _TagSpec("IFD0", 0x0132, "ModifyDate", "Date and Time (Modified)", _text),
    _TagSpec("IFD0", 0x013B, "Artist", "Artist", _text),
    _TagSpec("IFD0", 0x0213, "YCbCrPositioning", "YCbCr Positioning", _enum(_YCBCR_POSITIONS)),
    _TagSpec("IFD0", 0x8298, "Copyright", "Copyright", _text),
    _TagSpec("ExifIFD", 0x829A, "ExposureTime", "Exposure", _exposure),
    _TagSpec("ExifIFD", 0x829D, "FNumber", "Aperture", _f_number),
    _TagSpec("ExifIFD", 0x8822, "ExposureProgram", "Exposure Program", _enum(_EXPOSURE_PROGRAMS)),
    _TagSpec("ExifIFD", 0x8827, "ISO", "ISO Speed", _plain_integer),
    _TagSpec("ExifIFD", 0x9003, "DateTimeOriginal", "Date and Time (Original)", _text),
    _TagSpec("ExifIFD", 0x9004, "CreateDate", "Date and Time (Digitized)", _text),
    _TagSpec("ExifIFD", 0x9204, "ExposureCompensation", "Exposure Bias", _exposure_bias),
    _TagSpec("ExifIFD", 0x9207, "MeteringMode", "Metering Mode", _enum(_METERING_MODES)),
    _TagSpec("ExifIFD", 0x9209, "Flash", "Flash", _flash),
    _TagSpec("ExifIFD", 0x920A, "FocalLength", "Focal Length", _focal_length),
    _TagSpec("ExifIFD", 0xA001, "ColorSpace", "Color Space", _enum(_COLOR_SPACES)),
    _TagSpec("ExifIFD", 0xA002, "ExifImageWidth", "Exif Image Width", _plain_integer),
    _TagSpec("ExifIFD", 0xA003, "ExifImageHeight", "Exif Image Height", _plain_integer),
    _TagSpec("ExifIFD", 0xA402, "ExposureMode", "Exposure Mode", _enum(_EXPOSURE_MODES)),
    _TagSpec("ExifIFD", 0xA403, "WhiteBalance", "White Balance", _enum(_WHITE_BALANCES)),
    _TagSpec("ExifIFD", 0xA405, "FocalLengthIn35mmFormat", "Focal Length (35mm format)", _focal_length_35mm),
    _TagSpec("ExifIFD", 0xA406, "SceneCaptureType", "Scene Capture Type", _enum(_SCENE_TYPES)),
    _TagSpec("ExifIFD", 0xA430, "OwnerName", "Owner Name", _text),
    _TagSpec("ExifIFD", 0xA431, "SerialNumber", "Serial Number", _text),
    _TagSpec("ExifIFD", 0xA433, "LensMake", "Lens Make", _text),
    _TagSpec("ExifIFD", 0xA434, "LensModel", "Lens Model", _text),
    _TagSpec("ExifIFD", 0xA435, "LensSerialNumber", "Lens Serial Number", _text),
    _TagSpec("GPS", 0x0000, "GPSVersionID", "GPS Version ID", _gps_version),
    _TagSpec("GPS", 0x0001, "GPSLatitudeRef", "GPS Latitude Ref", _gps_ref({"N": "North", "S": "South"})),
    _TagSpec("GPS", 0x0002, "GPSLatitude", "GPS Latitude", _gps_coordinate(0x0001)),
    _TagSpec("GPS", 0x0003, "GPSLongitudeRef", "GPS Longitude Ref", _gps_ref({"E": "East", "W": "West"})),
    _TagSpec("GPS", 0x0004, "GPSLongitude", "GPS Longitude", _gps_coordinate(0x0003)),
    _TagSpec("GPS", 0x0005, "GPSAltitudeRef", "GPS Altitude Ref", _enum({0: "Above Sea Level", 1: "Below Sea Level"})),
    _TagSpec("GPS", 0x0006, "GPSAltitude", "GPS Altitude", _gps_altitude),
)


def _read_ifds(source: bytes | str | Path) -> dict[str, dict[int, Any]]:
    """IFD0, Exif sub-IFD and GPS IFD of a file, headers only; anything broken reads as empty."""
    ifds: dict[str, dict[int, Any]] = {"IFD0": {}, "ExifIFD": {}, "GPS": {}}
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            exif = _stored_exif(image)
            ifds["IFD0"] = dict(exif)
            for space, pointer in (("ExifIFD", _EXIF_IFD), ("GPS", _GPS_IFD)):
                try:
                    ifds[space] = dict(exif.get_ifd(pointer))
                except Exception:  # noqa: BLE001 - one broken sub-IFD costs only its own tags
                    LOG.debug("unreadable %s in %r", space, source if not isinstance(source, bytes) else "bytes")
    except Exception:  # noqa: BLE001 - broken or missing Exif means fewer items, never an error
        LOG.debug("unreadable Exif in %r", source if not isinstance(source, bytes) else "bytes", exc_info=True)
    return ifds


def _stored_exif(image: Image.Image) -> Image.Exif:
    """The Exif block as stored in the file.

    ``getexif()`` would mix in an XMP Orientation, and pillow-heif rewrites a HEIF's Orientation
    to 1 (keeping the stored one in ``info["original_orientation"]``).
    """
    if image.format == "TIFF":
        return image.getexif()  # the Exif tags are the image's own tags
    exif = Image.Exif()
    if image.info.get("exif"):
        exif.load(image.info["exif"])
    if image.info.get("original_orientation"):
        exif[0x0112] = image.info["original_orientation"]
    return exif


def exif_items_from_file(source: bytes | str | Path) -> list[dict]:
    """Render a real photo file's Exif as Flickr's getExif items (ExifTool names, printed values).

    Reads headers only (no pixel decoding); JPEG, HEIC/HEIF and TIFF.  Each item is
    ``{"tagspace", "tagspaceid", "tag", "label", "raw": {"_content"}, "clean"?: {"_content"}}``.
    Broken or absent Exif gives fewer (or no) items, never an exception.
    """
    ifds = _read_ifds(source)
    items = []
    for spec in _TAG_SPECS:
        ifd = ifds[spec.space]
        if spec.number not in ifd:
            continue
        try:
            printed = spec.show(ifd[spec.number], ifd)
        except Exception:  # noqa: BLE001 - a value of the wrong type is skipped, like ExifTool's warnings
            printed = None
        if printed is None:
            continue
        raw, clean = printed
        item = {"tagspace": spec.space, "tagspaceid": 0, "tag": spec.tag, "label": spec.label, "raw": {"_content": raw}}
        if clean is not None:
            item["clean"] = {"_content": clean}
        items.append(item)
    return items


_CORPORATE_WORDS = re.compile(
    r"\b(corporation|corp|company|co|ltd|inc|imaging|optical|electric|computer|techwin)\b\.?,?", re.IGNORECASE
)


def camera_name(items: Iterable[Mapping[str, Any]]) -> str:
    """Flickr's ``camera`` field, approximated: brand without company suffixes, then the model.

    ``NIKON CORPORATION`` + ``NIKON D70`` → ``Nikon D70``; ``Canon`` + ``Canon EOS 40D`` →
    ``Canon EOS 40D``; empty when the items carry no Make/Model.
    """
    values = {item.get("tag"): (item.get("raw") or {}).get("_content") for item in items}
    make, model = clean_text(values.get("Make")) or "", clean_text(values.get("Model")) or ""
    brand = re.sub(r"\s+", " ", _CORPORATE_WORDS.sub("", make)).strip(" ,.")
    if brand.isupper() and len(brand) > 3:
        brand = brand.title()
    words = model.split()
    if words and words[0].casefold() in brand.casefold().split():
        model = " ".join(words[1:])
    return " ".join(part for part in (brand, model) if part)
