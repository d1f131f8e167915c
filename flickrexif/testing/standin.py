"""A loopback stand-in for the Flickr REST API and its photo file server.

The crawler's tests, the crawl benchmark and the offline demo need a Flickr that answers in the
real wire format (driven through the real ``flickrapi`` client), that is fast and deterministic,
and that misbehaves on purpose: the 4,000-result cap, owners who hide Exif, photos without a
downloadable original, transient HTTP and Flickr errors, truncated answers, reset connections and
latency.  :class:`FlickrStandin` is that server (a threaded HTTP server on 127.0.0.1);
:func:`generate_photos` makes a realistic, seeded photo population for it; and
:func:`exif_items_from_file` renders a real file's Exif the way ``flickr.photos.getExif`` does.

Choices where Flickr's behaviour is not pinned down by its documentation:

* ``min_*_date`` and ``max_*_date`` are both **inclusive**, as Flickr's ``photos.search`` docs say
  ("greater than or equal to" / "less than or equal to"): a photo taken exactly on a window's
  edge is in both windows, so a crawler slicing by date must de-duplicate by photo id.
* Pages past the reachable range (past ``max_results``, or past the last page) repeat the last
  reachable page, so a crawler that pages blindly sees duplicates and misses photos.
* Only JSON is spoken (``format=json``, with or without ``nojsoncallback``; no format means
  JSON too); any other format is answered with Flickr's error 111.
* A search without any limiting parameter (text, tags, dates, user, license) fails with code 3,
  as on Flickr; Flickr's "last 12 hours only" rule for such searches is not modelled.

Run ``python -m flickrexif.testing.standin --photos 1000`` to serve a generated population by hand.
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import io
import json
import logging
import math
import random
import re
import signal
import socket
import socketserver
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, TiffImagePlugin

# Importing flickrexif.exif.read also registers pillow-heif's opener, so HEIC samples open.
from flickrexif.exif.read import read_exif
from flickrexif.exif.tags import clean_text
from flickrexif.exif.labels import is_smartphone
from flickrexif.crawl.licenses import NONPERMISSIVE_LICENSES, PERMISSIVE_LICENSES

__all__ = [
    "FAULT_KINDS",
    "CameraProfile",
    "NONPERMISSIVE_LICENSES",
    "PERMISSIVE_LICENSES",
    "FlickrStandin",
    "Rendering",
    "StandinPhoto",
    "builtin_profiles",
    "camera_name",
    "flash_text",
    "exif_items_from_file",
    "generate_photos",
    "main",
    "render_photo",
]

LOG = logging.getLogger(__name__)

FAULT_KINDS = ("http500", "http503", "http429", "code105", "truncated", "reset")
_API_ONLY_FAULTS = frozenset({"code105"})

MAX_PER_PAGE = 500
DEFAULT_PER_PAGE = 100
LARGE_MAX_SIDE = 1024  # Flickr's "Large" size (suffix _b, extra url_l)
LARGE_QUALITY = 80


# === the photo model ========================================================================


@dataclass(kw_only=True)
class StandinPhoto:
    """One photo as the stand-in knows it: search metadata, getExif answer and file bytes.

    ``exif_items`` is the list Flickr's getExif returns (see :func:`exif_items_from_file`);
    ``None`` together with ``exif_error`` (1 not found, 2 owner hides Exif) makes getExif fail.
    ``original`` is the file a downloader gets from ``url_o``; ``None`` means the owner does
    not offer it (no ``url_o``, no "Original" size) while the Large size is still served.
    ``width``/``height`` are the original's; they are read from ``original`` when left at 0.
    Call :meth:`FlickrStandin.add_photos` again after changing a photo that is being served.
    """

    id: str
    owner: str
    ownername: str
    title: str
    license: int
    date_taken: datetime
    date_upload: datetime
    description: str = ""
    tags: list[str] = field(default_factory=list)
    safety_level: int = 0
    media: str = "photo"
    exif_items: list[dict] | None = field(default_factory=list)
    exif_error: int | None = None
    original: bytes | None = None
    original_format: str = "jpg"
    width: int = 0
    height: int = 0

    def __post_init__(self) -> None:
        self.id = str(self.id)
        if self.exif_items is None and self.exif_error is None:
            raise ValueError(f"photo {self.id}: exif_items is None but no exif_error is set")
        if self.exif_error not in (None, 1, 2):
            raise ValueError(f"photo {self.id}: exif_error must be None, 1 or 2")
        if self.safety_level not in (0, 1, 2):
            raise ValueError(f"photo {self.id}: safety_level must be 0, 1 or 2")
        if self.media not in ("photo", "video"):
            raise ValueError(f"photo {self.id}: media must be 'photo' or 'video'")
        if (not self.width or not self.height) and self.original is not None:
            with Image.open(io.BytesIO(self.original)) as image:
                self.width, self.height = image.size
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"photo {self.id}: width and height are needed when original is None")

    @property
    def secret(self) -> str:
        return hashlib.sha1(f"secret-{self.id}".encode()).hexdigest()[:10]

    @property
    def server(self) -> str:
        return str(1000 + _id_number(self.id) % 8999)


def _id_number(photo_id: str) -> int:
    return int(photo_id) if photo_id.isdigit() else int(hashlib.sha1(photo_id.encode()).hexdigest()[:12], 16)


def _naive_utc(value: datetime) -> datetime:
    """Dates are compared naive; an aware date is first converted to UTC."""
    return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value


def _unix(value: datetime) -> int:
    return calendar.timegm(_naive_utc(value).timetuple())


def _large_size(width: int, height: int) -> tuple[int, int]:
    """The Large size's dimensions: longest side at most 1024, never upscaled."""
    scale = min(1.0, LARGE_MAX_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


# === Exif as Flickr prints it (ExifTool names and values) ====================================

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
_FLASH_KNOWN = frozenset({0x00, 0x01, 0x05, 0x07, 0x08, 0x09, 0x0D, 0x0F, 0x10, 0x14, 0x18, 0x19, 0x1D, 0x1F,
                          0x20, 0x30, 0x41, 0x45, 0x47, 0x49, 0x4D, 0x4F, 0x50, 0x58, 0x59, 0x5D, 0x5F})

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


# === the server's answers ====================================================================


class _ApiFailure(Exception):
    """A Flickr ``stat: fail`` answer, raised by a method handler."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Reply:
    """What the HTTP handler writes; ``declared_length`` longer than the body cuts the transfer."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    declared_length: int | None = None
    reset: bool = False


def _json_reply(answer: Mapping[str, Any], params: Mapping[str, str]) -> _Reply:
    """Flickr's JSON; without ``nojsoncallback=1`` it comes wrapped in ``jsonFlickrApi(...)``."""
    text = json.dumps(answer, separators=(",", ":"))  # ASCII only: a cut body stays valid UTF-8
    if params.get("nojsoncallback") != "1":
        text = f"jsonFlickrApi({text})"
    return _Reply(body=text.encode("ascii"), content_type="application/json; charset=utf-8")


def _fail_answer(code: int, message: str) -> dict[str, Any]:
    return {"stat": "fail", "code": code, "message": message}


def _plain_reply(status: int, text: str, headers: tuple[tuple[str, str], ...] = ()) -> _Reply:
    return _Reply(status=status, body=text.encode(), content_type="text/plain; charset=utf-8", headers=headers)


_FAULT_REPLIES = {
    "http500": _plain_reply(500, "Internal Server Error"),
    "http503": _plain_reply(503, "Service Unavailable"),
    "http429": _plain_reply(429, "Too Many Requests", (("Retry-After", "1"),)),
    "reset": _Reply(reset=True),
}


def _truncated(reply: _Reply, *, api: bool) -> _Reply:
    """API answers are cut in half (invalid JSON, consistent length); files are cut mid-transfer."""
    half = reply.body[: len(reply.body) // 2]
    if api:
        return _Reply(reply.status, half, reply.content_type, reply.headers)
    return _Reply(reply.status, half, reply.content_type, reply.headers, declared_length=len(reply.body))


# --- search --------------------------------------------------------------------------------


def _parse_date(text: str | None) -> datetime | None:
    """A unix timestamp or a MySQL datetime (``YYYY-MM-DD[ HH:MM[:SS]]``); unparseable → no filter."""
    text = (text or "").strip()
    if not text:
        return None
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return datetime.fromtimestamp(float(text), tz=timezone.utc).replace(tzinfo=None)
    for pattern in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def _parse_int(text: str | None, default: int) -> int:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return default


def _comma_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


_SORTS = {
    "date-posted-desc": ("date_upload", True),
    "date-posted-asc": ("date_upload", False),
    "date-taken-desc": ("date_taken", True),
    "date-taken-asc": ("date_taken", False),
}
_LIMITING_PARAMS = ("text", "tags", "min_taken_date", "max_taken_date", "min_upload_date", "max_upload_date",
                    "user_id", "license")


@dataclass(frozen=True)
class _Indexed:
    """A photo with its search keys computed once."""

    photo: StandinPhoto
    text: str
    tags: frozenset[str]
    date_taken: datetime
    date_upload: datetime
    order: tuple[int, str]

    @classmethod
    def of(cls, photo: StandinPhoto) -> "_Indexed":
        tags = frozenset(tag.casefold() for tag in photo.tags)
        text = "\n".join([photo.title, photo.description, *photo.tags]).casefold()
        order = (len(photo.id), photo.id)  # numeric order for numeric ids
        return cls(photo, text, tags, _naive_utc(photo.date_taken), _naive_utc(photo.date_upload), order)


@dataclass(frozen=True)
class _SearchQuery:
    """The filters of one ``flickr.photos.search`` call, parsed from its parameters."""

    text: str | None
    tags: tuple[str, ...]
    all_tags: bool
    taken: tuple[datetime | None, datetime | None]
    uploaded: tuple[datetime | None, datetime | None]
    licenses: frozenset[int] | None
    max_safety: int
    media: str | None
    user_id: str | None
    sort: tuple[str, bool]

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> "_SearchQuery":
        licenses = {_parse_int(part, -1) for part in _comma_list(params.get("license"))} - {-1}
        media = {"photos": "photo", "videos": "video"}.get(params.get("media", "all"))
        if params.get("content_types") or params.get("content_type"):
            media = media or "photo"  # content types (photo/screenshot/other) never match videos
        return cls(
            text=(params.get("text") or "").strip().casefold() or None,
            tags=tuple(tag.casefold() for tag in _comma_list(params.get("tags"))),
            all_tags=params.get("tag_mode", "any") == "all",
            taken=(_parse_date(params.get("min_taken_date")), _parse_date(params.get("max_taken_date"))),
            uploaded=(_parse_date(params.get("min_upload_date")), _parse_date(params.get("max_upload_date"))),
            licenses=frozenset(licenses) if licenses else None,
            max_safety={1: 0, 2: 1, 3: 2}.get(_parse_int(params.get("safe_search"), 1), 0),
            media=media,
            user_id=params.get("user_id") or None,
            sort=_SORTS.get(params.get("sort", ""), _SORTS["date-posted-desc"]),
        )

    def matches(self, entry: _Indexed) -> bool:
        photo = entry.photo
        return (
            photo.safety_level <= self.max_safety
            and (self.media is None or photo.media == self.media)
            and (self.licenses is None or photo.license in self.licenses)
            and (self.user_id is None or photo.owner == self.user_id)
            and _in_range(entry.date_taken, self.taken)
            and _in_range(entry.date_upload, self.uploaded)
            and (self.text is None or self.text in entry.text)
            and self._tags_match(entry.tags)
        )

    def _tags_match(self, tags: frozenset[str]) -> bool:
        if not self.tags:
            return True
        hits = (tag in tags for tag in self.tags)
        return all(hits) if self.all_tags else any(hits)


def _in_range(value: datetime, bounds: tuple[datetime | None, datetime | None]) -> bool:
    """Both bounds inclusive, as Flickr documents for min_/max_ taken and upload dates."""
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


def _page_window(total: int, page: int, per_page: int, max_results: int) -> tuple[int, int]:
    """Slice bounds of a page; pages past the reachable results repeat the last reachable page."""
    reachable = min(total, max_results)
    last_page = max(1, math.ceil(reachable / per_page))
    page = min(page, last_page)
    start = (page - 1) * per_page
    return start, min(start + per_page, reachable)


# --- extras ----------------------------------------------------------------------------------


def _extras_table(standin: "FlickrStandin") -> dict[str, Callable[[StandinPhoto], dict[str, Any]]]:
    """Search ``extras`` name → the fields it adds, with Flickr's field names and types."""

    def original_only(fields: Callable[[StandinPhoto], dict[str, Any]]) -> Callable[[StandinPhoto], dict[str, Any]]:
        return lambda photo: fields(photo) if photo.original is not None else {}

    def large(photo: StandinPhoto) -> dict[str, Any]:
        width, height = _large_size(photo.width, photo.height)
        return {"url_l": standin.large_url(photo), "height_l": height, "width_l": width}

    return {
        "owner_name": lambda photo: {"ownername": photo.ownername},
        "license": lambda photo: {"license": str(photo.license)},
        "date_taken": lambda photo: {
            "datetaken": photo.date_taken.strftime("%Y-%m-%d %H:%M:%S"),
            "datetakengranularity": 0,
            "datetakenunknown": "0",
        },
        "date_upload": lambda photo: {"dateupload": str(_unix(photo.date_upload))},
        "description": lambda photo: {"description": {"_content": photo.description}},
        "o_dims": original_only(lambda photo: {"o_width": str(photo.width), "o_height": str(photo.height)}),
        "original_format": original_only(
            lambda photo: {"originalsecret": photo.secret[::-1], "originalformat": photo.original_format}
        ),
        "url_o": original_only(
            lambda photo: {"url_o": standin.original_url(photo), "height_o": photo.height, "width_o": photo.width}
        ),
        "url_l": large,
        "tags": lambda photo: {"tags": " ".join(photo.tags)},
        "media": lambda photo: {"media": photo.media, "media_status": "ready"},
    }


# === the server ==============================================================================

_API_PATHS = frozenset({"/services/rest", "/services/rest/"})
_FILE_PATH = re.compile(r"^/photos/([^/_]+)_(o|b)\.([A-Za-z0-9]+)$")
_CONTENT_TYPES = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
                  "heic": "image/heic", "heif": "image/heif", "tif": "image/tiff", "tiff": "image/tiff"}
_CONSUMER_KEY = re.compile(r'oauth_consumer_key="([^"]*)"')


class FlickrStandin:
    """A Flickr REST API and photo file server on 127.0.0.1, for tests, benchmarks and demos.

    Starts serving in a background thread as soon as it is built; use it as a context manager
    or call :meth:`close`.  Every request waits ``latency_s`` (in its own thread, so concurrent
    requests overlap) and then, with probability ``fault_rate``, gets one of ``fault_kinds``
    instead of its answer.  ``calls`` counts requests per API method (``"download"`` for photo
    files) and ``faults`` the faults injected, both including faulted requests.
    """

    def __init__(
        self,
        photos: Iterable[StandinPhoto] = (),
        *,
        api_keys: Iterable[str] = frozenset({"test-key"}),
        latency_s: float = 0.0,
        fault_rate: float = 0.0,
        fault_kinds: Iterable[str] = FAULT_KINDS,
        seed: int = 0,
        max_results: int = 4000,
        port: int = 0,
    ) -> None:
        if latency_s < 0:
            raise ValueError("latency_s must be >= 0")
        if max_results < 1:
            raise ValueError("max_results must be >= 1")
        self.api_keys = frozenset(api_keys)
        self.latency_s = latency_s
        self.max_results = max_results
        self.calls: Counter[str] = Counter()
        self.exif_requests: Counter[str] = Counter()  # getExif requests per photo id, faulted ones too
        self.faults: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._fault_rate, self._fault_kinds = 0.0, FAULT_KINDS
        self.set_faults(fault_rate, fault_kinds)
        self._photos: dict[str, StandinPhoto] = {}
        self._index: list[_Indexed] = []  # replaced, never mutated: readers need no lock
        self._owners: frozenset[str] = frozenset()
        self._large_cache: dict[str, bytes] = {}
        self._methods: dict[str, Callable[[Mapping[str, str]], dict[str, Any]]] = {
            "flickr.photos.search": self._search,
            "flickr.photos.getExif": self._get_exif,
            "flickr.photos.getSizes": self._get_sizes,
            "flickr.test.echo": self._echo,
        }
        self._extras = _extras_table(self)
        self.add_photos(photos)
        self._server = _Server(("127.0.0.1", port), self)
        host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{host}:{bound_port}"
        self.api_url = f"{self.base_url}/services/rest/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="flickr-standin", daemon=True
        )
        self._thread.start()
        self._closed = False

    # --- lifecycle and configuration ---

    def __enter__(self) -> "FlickrStandin":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving and drop open keep-alive connections (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.drop_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def set_faults(self, rate: float, kinds: Iterable[str] | None = None) -> None:
        """Change the fault probability (and optionally the kinds) while serving."""
        kinds = self._fault_kinds if kinds is None else tuple(kinds)
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        if rate > 0 and not kinds:
            raise ValueError("a positive fault rate needs at least one fault kind")
        with self._lock:
            self._fault_rate, self._fault_kinds = rate, kinds

    def add_photos(self, photos: Iterable[StandinPhoto]) -> None:
        """Add photos, or replace those with the same id."""
        photos = list(photos)
        with self._lock:
            merged = dict(self._photos)
            for photo in photos:
                merged[photo.id] = photo
                self._large_cache.pop(photo.id, None)
            self._photos = merged
            self._index = [_Indexed.of(photo) for photo in merged.values()]
            self._owners = frozenset(photo.owner for photo in merged.values())

    @property
    def photos(self) -> dict[str, StandinPhoto]:
        """The photos served, by id (a copy)."""
        return dict(self._photos)

    def original_url(self, photo: StandinPhoto) -> str:
        return f"{self.base_url}/photos/{photo.id}_o.{photo.original_format}"

    def large_url(self, photo: StandinPhoto) -> str:
        return f"{self.base_url}/photos/{photo.id}_b.jpg"

    # --- one request ---

    def _respond(self, path: str, params: Mapping[str, str], authorization: str = "") -> _Reply:
        """Answer one request (called by the HTTP handler, in the request's own thread)."""
        match = _FILE_PATH.match(path)
        is_api = path in _API_PATHS
        name = params.get("method", "") if is_api else "download" if match else "other"
        with self._lock:
            self.calls[name] += 1
            if name == "flickr.photos.getExif":
                self.exif_requests[params.get("photo_id", "")] += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        fault = self._draw_fault(api=is_api)
        if fault in _FAULT_REPLIES:
            return _FAULT_REPLIES[fault]
        if fault == "code105":
            return _json_reply(_fail_answer(105, "Service currently unavailable"), params)
        if is_api:
            reply = self._api(params, authorization)
        elif match:
            reply = self._file(*match.groups())
        else:
            reply = _plain_reply(404, "Not Found")
        return _truncated(reply, api=is_api) if fault == "truncated" else reply

    def _draw_fault(self, *, api: bool) -> str | None:
        with self._lock:
            if not self._fault_rate or self._random.random() >= self._fault_rate:
                return None
            kinds = [kind for kind in self._fault_kinds if api or kind not in _API_ONLY_FAULTS]
            if not kinds:
                return None
            kind = self._random.choice(kinds)
            self.faults[kind] += 1
            return kind

    def _api(self, params: Mapping[str, str], authorization: str) -> _Reply:
        try:
            answer_format = params.get("format", "json")
            if answer_format != "json":
                raise _ApiFailure(111, f'Format "{answer_format}" not found')
            if self._api_key(params, authorization) not in self.api_keys:
                raise _ApiFailure(100, "Invalid API Key (Key has invalid format)")
            method = params.get("method", "")
            handler = self._methods.get(method)
            if handler is None:
                raise _ApiFailure(112, f'Method "{method}" not found')
            answer = handler(params)
        except _ApiFailure as failure:
            answer = _fail_answer(failure.code, failure.message)
        return _json_reply(answer, params)

    @staticmethod
    def _api_key(params: Mapping[str, str], authorization: str) -> str | None:
        """The key from the OAuth header (how flickrapi sends it) or an ``api_key`` parameter."""
        found = _CONSUMER_KEY.search(authorization or "")
        return unquote(found.group(1)) if found else params.get("api_key")

    # --- API methods ---

    def _search(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.photos.search`` with the 4,000-result cap (``max_results``)."""
        if not any(params.get(name) for name in _LIMITING_PARAMS):
            raise _ApiFailure(3, "Parameterless searches have been disabled. "
                                 "Please use flickr.photos.getRecent instead.")
        query = _SearchQuery.parse(params)
        if query.user_id is not None and query.user_id not in self._owners:
            raise _ApiFailure(2, "Unknown user")
        key, descending = query.sort
        found = [entry for entry in self._index if query.matches(entry)]
        found.sort(key=lambda entry: (getattr(entry, key), entry.order), reverse=descending)
        per_page = _parse_int(params.get("per_page"), DEFAULT_PER_PAGE)
        per_page = DEFAULT_PER_PAGE if per_page < 1 else min(per_page, MAX_PER_PAGE)
        page = max(1, _parse_int(params.get("page"), 1))
        start, stop = _page_window(len(found), page, per_page, self.max_results)
        extras = [self._extras[name] for name in _comma_list(params.get("extras")) if name in self._extras]
        return {
            "photos": {
                "page": page,
                "pages": math.ceil(len(found) / per_page),
                "perpage": per_page,
                "total": len(found),
                "photo": [self._summary(entry.photo, extras) for entry in found[start:stop]],
            },
            "stat": "ok",
        }

    def _summary(self, photo: StandinPhoto, extras: list[Callable[[StandinPhoto], dict[str, Any]]]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": photo.id,
            "owner": photo.owner,
            "secret": photo.secret,
            "server": photo.server,
            "farm": 66,
            "title": photo.title,
            "ispublic": 1,
            "isfriend": 0,
            "isfamily": 0,
        }
        for extra in extras:
            out.update(extra(photo))
        return out

    def _photo(self, params: Mapping[str, str]) -> StandinPhoto:
        photo = self._photos.get(str(params.get("photo_id", "")))
        if photo is None:
            raise _ApiFailure(1, "Photo not found")
        return photo

    def _get_exif(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.photos.getExif``: the items, or code 1 (not found) / 2 (owner hides Exif)."""
        photo = self._photo(params)
        if photo.exif_error == 2:
            raise _ApiFailure(2, "Permission denied")
        if photo.exif_error == 1 or photo.exif_items is None:
            raise _ApiFailure(1, "Photo not found")
        return {
            "photo": {
                "id": photo.id,
                "secret": photo.secret,
                "server": photo.server,
                "farm": 66,
                "camera": camera_name(photo.exif_items),
                "exif": photo.exif_items,
            },
            "stat": "ok",
        }

    def _get_sizes(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.photos.getSizes``: Large always, Original only when the owner offers it."""
        photo = self._photo(params)
        page = f"{self.base_url}/photos/{photo.owner}/{photo.id}"
        width, height = _large_size(photo.width, photo.height)
        sizes = [{"label": "Large", "width": width, "height": height, "source": self.large_url(photo),
                  "url": f"{page}/sizes/l/", "media": photo.media}]
        if photo.original is not None:
            sizes.append({"label": "Original", "width": photo.width, "height": photo.height,
                          "source": self.original_url(photo), "url": f"{page}/sizes/o/", "media": photo.media})
        offered = int(photo.original is not None)
        return {"sizes": {"canblog": 0, "canprint": 0, "candownload": offered, "size": sizes}, "stat": "ok"}

    def _echo(self, params: Mapping[str, str]) -> dict[str, Any]:
        """``flickr.test.echo``: a cheap health check."""
        return {**{name: {"_content": value} for name, value in params.items()}, "stat": "ok"}

    # --- photo files ---

    def _file(self, photo_id: str, size: str, extension: str) -> _Reply:
        photo = self._photos.get(photo_id)
        if photo is None:
            return _plain_reply(404, "Not Found")
        if size == "o":
            if photo.original is None or extension.lower() != photo.original_format.lower():
                return _plain_reply(404, "Not Found")
            content_type = _CONTENT_TYPES.get(photo.original_format.lower(), "application/octet-stream")
            return _Reply(body=photo.original, content_type=content_type)
        if extension.lower() != "jpg":
            return _plain_reply(404, "Not Found")
        return _Reply(body=self._large(photo), content_type="image/jpeg")

    def _large(self, photo: StandinPhoto) -> bytes:
        """The Large JPEG, re-encoded at quality 80 without Exif, made once per photo."""
        cached = self._large_cache.get(photo.id)
        if cached is None:
            cached = _render_large(photo)
            with self._lock:
                if self._photos.get(photo.id) is photo:
                    self._large_cache[photo.id] = cached
        return cached


def _render_large(photo: StandinPhoto) -> bytes:
    size = _large_size(photo.width, photo.height)
    if photo.original is not None:
        with Image.open(io.BytesIO(photo.original)) as image:
            image.draft("RGB", size)  # JPEG: decode at a reduced scale when shrinking a lot
            pixels = image.convert("RGB")
            if pixels.size != size:
                pixels = pixels.resize(size, Image.Resampling.LANCZOS)
    else:
        pixels = Image.fromarray(_pixels(_id_number(photo.id), size))
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=LARGE_QUALITY)
    return out.getvalue()


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that knows its stand-in and its open connections."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], standin: FlickrStandin) -> None:
        self.standin = standin
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host name (getfqdn), which can stall offline.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: Any, client_address: Any) -> None:
        LOG.debug("error while serving %s", client_address, exc_info=True)

    def drop_connections(self) -> None:
        """Wake keep-alive handler threads blocked on idle connections so they end."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    """HTTP plumbing only: read the request, ask the stand-in, write (or sabotage) the reply."""

    protocol_version = "HTTP/1.1"  # keep-alive, as requests' connection pool expects
    server_version = "FlickrStandin/1.0"
    disable_nagle_algorithm = True
    timeout = 30  # idle keep-alive connections end after this many seconds
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._serve(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = _parse_int(self.headers.get("Content-Length"), 0)
        self._serve(self.rfile.read(length) if length > 0 else b"")

    def _serve(self, body: bytes) -> None:
        url = urlsplit(self.path)
        params = _params(url.query, body, self.headers.get("Content-Type", ""))
        reply = self.server.standin._respond(url.path, params, self.headers.get("Authorization", ""))
        try:
            self._send(reply)
        except OSError:  # the client went away; nothing to answer
            self.close_connection = True

    def _send(self, reply: _Reply) -> None:
        if reply.reset:
            self._reset()
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(reply.declared_length or len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)
        if reply.declared_length is not None:
            self.close_connection = True  # the body is short: end the transfer here

    def _reset(self) -> None:
        """Close without answering, with a TCP reset (SO_LINGER 0) rather than a clean FIN."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        LOG.debug("%s - %s", self.address_string(), format % args)


def _params(query: str, body: bytes, content_type: str) -> dict[str, str]:
    """Query-string and form-body parameters (the body wins), first value of each."""
    params = {name: values[0] for name, values in parse_qs(query, keep_blank_values=True).items()}
    if body and "multipart/" not in content_type:
        form = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        params.update({name: values[0] for name, values in form.items()})
    return params


# === a generated photo population ===========================================================

_PLACEHOLDER_DATE = "1999:12:31 23:59:58"  # same length as every Exif date: replaced in place
_SAMPLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".heic", ".heif"})
DEFAULT_PHOTO_SIZE = (96, 64)  # small: tests generate thousands of photos
_DATE_TAGS = {"DateTimeOriginal", "CreateDate", "ModifyDate"}

_WORDS = ("sunset", "harbour", "street", "market", "mountain", "lake", "forest", "bridge", "cathedral",
          "portrait", "dog", "cat", "flowers", "beach", "snow", "train", "night", "festival", "river",
          "garden", "city", "old town", "museum", "birds", "autumn", "spring", "fog", "desert", "café", "rain")
_TITLE_FORMS = ("{a} and {b}", "{a}", "{a} at dusk", "IMG_{n:04d}", "DSC{n:05d}", "{a} in {year}", "Untitled")
_FIRST_NAMES = ("Anna", "Ben", "Chiara", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas",
                "Kofi", "Lena", "Marta", "Noor", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomás")
_PERMISSIVE_WEIGHTS = {4: 35, 5: 20, 7: 5, 8: 5, 9: 10, 10: 8, 11: 12, 12: 5}
_NONPERMISSIVE_WEIGHTS = {0: 40, 1: 15, 2: 15, 3: 10, 6: 5, 13: 5, 14: 4, 15: 3, 16: 3}

# Built-in cameras: (make, model, software, lens, serial, fixed f-number, fixed focal mm, crop, GPS)
_BUILTIN_CAMERAS = (
    ("Canon", "Canon EOS 5D Mark II", "Adobe Photoshop Lightroom 4.3 (Windows)", "EF24-105mm f/4L IS USM",
     "0123456789", None, None, 1.0, None),
    ("NIKON CORPORATION", "NIKON D750", "Ver.1.10", "24.0-120.0 mm f/4.0", "6012345", None, None, 1.0, None),
    ("SONY", "ILCE-7M3", "ILCE-7M3 v3.01", "FE 28-70mm F3.5-5.6 OSS", "", None, None, 1.0, None),
    ("FUJIFILM", "X-T3", "Digital Camera X-T3 Ver3.00", "XF18-55mmF2.8-4 R LM OIS", "", None, None, 1.5, None),
    ("OLYMPUS IMAGING CORP.", "E-M10", "Version 1.0", "OLYMPUS M.14-42mm F3.5-5.6 II R", "", None, None, 2.0, None),
    ("Apple", "iPhone 12", "14.4", "iPhone 12 back dual wide camera 4.2mm f/1.6", "", 1.6, 4.2, 6.19,
     ((51, 1), (30, 1), (2646, 100), "N", (0, 1), (7, 1), (3900, 100), "W")),
    ("samsung", "SM-G991B", "G991BXXU3AUE1", "", "", 1.8, 5.4, 4.8,
     ((48, 1), (51, 1), (2400, 100), "N", (2, 1), (21, 1), (700, 100), "E")),
    ("Google", "Pixel 4a", "HDR+ 1.0.345", "", "", 1.7, 4.4, 6.4, None),
)
# Built-in settings: (exposure (num, den), f-number, ISO, focal mm, Exif flash value, program)
_BUILTIN_SETTINGS = (
    ((1, 160), 7.1, 100, 135.0, 16, 3),
    ((1, 60), 4.0, 400, 35.0, 9, 2),
    ((1, 1000), 2.8, 200, 85.0, 16, 1),
    ((1, 30), 5.6, 1600, 24.0, 24, 2),
    ((1, 250), 8.0, 100, 50.0, 0, 3),
    ((2, 1), 11.0, 100, 18.0, 16, 1),
)


@dataclass(frozen=True)
class Rendering:
    """How a profile's "camera" turns a scene into a JPEG: the acquisition traces it leaves.

    Applied in the order of a camera pipeline: tone curve (``gamma``) and colour cast (``tint``,
    per-channel gains), Gaussian sensor noise (``noise``, standard deviation in 8-bit levels),
    noise reduction (``blur``, a Gaussian blur radius), sharpening (``sharpen_percent`` and
    ``sharpen_radius`` of an unsharp mask), then JPEG at ``quality`` (IJG tables) with
    ``subsampling`` ("4:4:4", "4:2:2" or "4:2:0").
    """

    quality: int = 92
    subsampling: str = "4:2:0"
    sharpen_percent: int = 0
    sharpen_radius: float = 1.0
    blur: float = 0.0
    noise: float = 2.0
    gamma: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)


_SUBSAMPLING_CODES = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}  # Pillow's ``subsampling=``

# Per built-in model: phones sharpen hard after noise reduction and keep 4:2:0; interchangeable-lens
# cameras sharpen lightly, keep 4:2:2 (the Fujifilm 4:4:4) and more of the sensor's noise.
_BUILTIN_RENDERING = {
    "Canon EOS 5D Mark II": Rendering(quality=97, subsampling="4:2:2", sharpen_percent=40, sharpen_radius=1.0,
                                      noise=4.0, gamma=1.0, tint=(1.03, 1.0, 0.96)),
    "NIKON D750": Rendering(quality=96, subsampling="4:2:2", sharpen_percent=50, sharpen_radius=0.8,
                            noise=2.5, gamma=0.98, tint=(1.0, 1.02, 0.99)),
    "ILCE-7M3": Rendering(quality=94, subsampling="4:2:2", sharpen_percent=30, sharpen_radius=0.8,
                          noise=2.5, gamma=1.03, tint=(0.99, 1.0, 1.01)),
    "X-T3": Rendering(quality=93, subsampling="4:4:4", sharpen_percent=45, sharpen_radius=1.2,
                      noise=3.0, gamma=1.05, tint=(1.02, 1.0, 0.98)),
    "E-M10": Rendering(quality=90, subsampling="4:2:2", sharpen_percent=60, sharpen_radius=0.9,
                       noise=4.5, gamma=0.97, tint=(1.0, 0.99, 1.03)),
    "iPhone 12": Rendering(quality=91, subsampling="4:2:0", sharpen_percent=140, sharpen_radius=1.2,
                           blur=0.6, noise=2.0, gamma=0.9, tint=(1.0, 1.0, 1.03)),
    "SM-G991B": Rendering(quality=95, subsampling="4:2:0", sharpen_percent=170, sharpen_radius=1.0,
                          blur=0.7, noise=2.5, gamma=0.88, tint=(1.03, 1.02, 0.97)),
    "Pixel 4a": Rendering(quality=88, subsampling="4:2:0", sharpen_percent=120, sharpen_radius=1.5,
                          blur=0.5, noise=2.0, gamma=0.93, tint=(0.98, 1.0, 1.02)),
}


def _iso_noise(base: float, iso: Any) -> float:
    """Sensor noise grows with ISO (base at ISO 100)."""
    value = _number(iso)
    return round(base * (max(50.0, value) / 100) ** 0.35, 2) if value else base


@dataclass(frozen=True)
class CameraProfile:
    """A camera for generated photos: the Exif tags its files carry and how it renders pixels.

    ``ifd0``, ``exif`` and ``gps`` hold IFD0, Exif sub-IFD and GPS tags by number (dates are a
    placeholder replaced per photo); ``rendering`` is its processing; ``source`` tells
    same-named profiles from different sample folders apart in the template cache.
    """

    name: str
    ifd0: Mapping[int, Any]
    exif: Mapping[int, Any]
    gps: Mapping[int, Any]
    source: str = "builtin"
    rendering: Rendering = Rendering()

    @property
    def make(self) -> str | None:
        return clean_text(self.ifd0.get(0x010F))

    @property
    def model(self) -> str | None:
        return clean_text(self.ifd0.get(0x0110))

    @property
    def is_smartphone(self) -> bool | None:
        return is_smartphone(self.make, self.model)


@dataclass(frozen=True)
class _Template:
    """What every photo of one profile and size shares: its Exif block (placeholder dates) and items."""

    exif: bytes
    items: tuple[dict, ...]
    width: int
    height: int


def _rational(numerator: float, denominator: int = 1) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(numerator, denominator)


def _builtin_profile(camera: tuple, settings: tuple) -> CameraProfile:
    make, model, software, lens, serial, fixed_f, fixed_focal, crop, gps = camera
    (exp_num, exp_den), f_number, iso, focal, flash, program = settings
    f_number, focal = fixed_f or f_number, fixed_focal or focal
    exif = {
        0x829A: _rational(exp_num, exp_den),
        0x829D: _rational(round(f_number * 10), 10),
        0x8822: program,
        0x8827: iso,
        0x9003: _PLACEHOLDER_DATE,
        0x9004: _PLACEHOLDER_DATE,
        0x9209: flash,
        0x920A: _rational(round(focal * 10), 10),
        0xA405: round(focal * crop),
    }
    if lens:
        exif[0xA434] = lens
    if serial:
        exif[0xA431] = serial
    gps_ifd = {}
    if gps:
        lat_d, lat_m, lat_s, lat_ref, lon_d, lon_m, lon_s, lon_ref = gps
        gps_ifd = {0: b"\x02\x02\x00\x00", 1: lat_ref, 2: tuple(_rational(*part) for part in (lat_d, lat_m, lat_s)),
                   3: lon_ref, 4: tuple(_rational(*part) for part in (lon_d, lon_m, lon_s))}
    ifd0 = {0x010F: make, 0x0110: model, 0x0112: 1, 0x0131: software, 0x0132: _PLACEHOLDER_DATE}
    base = _BUILTIN_RENDERING[model]
    rendering = replace(base, noise=_iso_noise(base.noise, iso))
    return CameraProfile(f"{model} {settings}", ifd0, exif, gps_ifd, rendering=rendering)


@lru_cache(maxsize=1)
def _builtin_profiles() -> tuple[CameraProfile, ...]:
    return tuple(_builtin_profile(camera, settings) for camera in _BUILTIN_CAMERAS for settings in _BUILTIN_SETTINGS)


def builtin_profiles() -> list[CameraProfile]:
    """The built-in profiles (each built-in camera with each of a few exposure settings).

    Each has ``name``, ``make``, ``model``, ``is_smartphone`` and ``rendering``; pass one (or
    its name) to :func:`render_photo`.
    """
    return list(_builtin_profiles())


def _hashed_unit(*parts: object) -> float:
    """A stable number in [0, 1) from ``parts`` (independent of Python's hash randomisation)."""
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _sample_rendering(path: Path, make: str | None, model: str | None, iso: Any) -> Rendering:
    """A sample file's rendering: its own JPEG quality and subsampling, the rest from make+model."""
    try:
        record = read_exif(path)
        quality, subsampling = record.jpeg_quality, record.chroma_subsampling
    except Exception:  # noqa: BLE001 - an unreadable sample still gets a rendering
        quality, subsampling = None, None
    phone = bool(is_smartphone(make, model))

    def unit(what: str) -> float:
        return _hashed_unit(what, make, model)

    if quality is None:
        quality = round((86 if phone else 88) + 10 * unit("quality"))
    if subsampling not in _SUBSAMPLING_CODES:
        subsampling = "4:2:0" if phone else "4:2:2"
    if phone:
        sharpen, blur, noise, gamma = 100 + 80 * unit("sharpen"), 0.4 + 0.4 * unit("blur"), 1.5 + unit("noise"), 0.88
    else:
        sharpen, blur, noise, gamma = 20 + 50 * unit("sharpen"), 0.0, 2.5 + 2.5 * unit("noise"), 1.0
    tint = tuple(round(0.97 + 0.06 * unit(f"tint{channel}"), 3) for channel in range(3))
    return Rendering(quality=max(30, min(100, quality)), subsampling=subsampling, sharpen_percent=round(sharpen),
                     sharpen_radius=round(0.8 + 0.8 * unit("radius"), 2), blur=round(blur, 2),
                     noise=_iso_noise(round(noise, 2), iso), gamma=round(gamma + 0.12 * unit("gamma"), 3),
                     tint=tint)  # type: ignore[arg-type]


@lru_cache(maxsize=8)
def _sample_profiles(root: str) -> tuple[CameraProfile, ...]:
    """Profiles from the real sample files under ``root`` that have a Make (sorted by path)."""
    profiles = []
    for path in sorted(Path(root).rglob("*")):
        if path.suffix.lower() not in _SAMPLE_SUFFIXES or not path.is_file():
            continue
        ifds = _read_ifds(path)
        if not clean_text(ifds["IFD0"].get(0x010F)):
            continue
        wanted = {space: {spec.number for spec in _TAG_SPECS if spec.space == space} for space in ifds}
        picked = {space: {n: v for n, v in ifds[space].items() if n in wanted[space]} for space in ifds}
        picked["ExifIFD"][0x9003] = _PLACEHOLDER_DATE
        for space, number in (("ExifIFD", 0x9004), ("IFD0", 0x0132)):
            if number in picked[space]:
                picked[space][number] = _PLACEHOLDER_DATE
        name = str(path.relative_to(root))
        rendering = _sample_rendering(path, clean_text(ifds["IFD0"].get(0x010F)),
                                      clean_text(ifds["IFD0"].get(0x0110)), ifds["ExifIFD"].get(0x8827))
        profiles.append(CameraProfile(name, picked["IFD0"], picked["ExifIFD"], picked["GPS"], source=str(path),
                                      rendering=rendering))
    return tuple(profiles)


_SCENE_MARGIN = 0.03  # share of the short side a render may shift its view by, each way
_NOISE_SIDE = 200  # unit Gaussian noise is cut from a seeded bank, much faster than drawing it per photo


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """Read-only unit Gaussian noise, (_NOISE_SIDE, _NOISE_SIDE, 3) float32, the same on every machine."""
    bank = np.random.default_rng(20240607).standard_normal((_NOISE_SIDE, _NOISE_SIDE, 3), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def _unit_noise(rng: np.random.Generator, height: int, width: int, channels: int) -> np.ndarray:
    """Unit Gaussian noise of shape (height, width, channels): a seeded window of the bank when it fits."""
    if height > _NOISE_SIDE or width > _NOISE_SIDE:
        return rng.standard_normal((height, width, channels), dtype=np.float32)
    top, left = (int(v) for v in rng.integers(0, (_NOISE_SIDE - height + 1, _NOISE_SIDE - width + 1)))
    flip = rng.integers(0, 4)  # four orientations of each window
    window = _noise_bank()[top:top + height, left:left + width, :channels]
    return window[:: 1 if flip & 1 else -1, :: 1 if flip & 2 else -1]


def _scene(seed: int, size: tuple[int, int]) -> Image.Image:
    """A procedurally generated RGB scene seeded by ``seed``: gradients, soft texture, shapes, lines."""
    rng = np.random.default_rng(seed)
    width, height = size
    # The smooth part (two gradients and blobs of colour) is made at a quarter of the size and
    # scaled up; channels first, so numpy's inner loops run along rows rather than over 3 channels.
    small_w, small_h = max(2, -(-width // 4)), max(2, -(-height // 4))
    xs = np.linspace(0, 1, small_w, dtype=np.float32)[None, None, :]
    ys = np.linspace(0, 1, small_h, dtype=np.float32)[None, :, None]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.float32(np.cos(angle)) * xs + np.float32(np.sin(angle)) * ys
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    top, bottom, second = (rng.uniform(20, 235, (3, 1, 1)).astype(np.float32) for _ in range(3))
    image = (top + (bottom - top) * ys) * np.float32(0.6)  # a sky-to-ground gradient...
    image = image + (top + (second - top) * ramp) * np.float32(0.4)  # ...and one in a random direction
    coarse = rng.normal(0, 1, (4, 5)).astype(np.float32)
    blobs = np.asarray(Image.fromarray(coarse).resize((small_w, small_h), Image.Resampling.BILINEAR))[None]
    image = image + (18 * rng.uniform(0.5, 1.5, (3, 1, 1))).astype(np.float32) * blobs
    smooth = Image.fromarray(np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8).transpose(1, 2, 0)))
    pixels = np.asarray(smooth.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    pixels += _unit_noise(rng, height, width, 3) * np.float32(4)  # fine grain, as grass or sand
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    shapes, lines = int(rng.integers(3, 7)), int(rng.integers(1, 4))
    colours = [tuple(colour) for colour in rng.integers(0, 256, (shapes + lines, 3)).tolist()]
    corners = (rng.uniform(-0.1, 1.0, (shapes, 2)) * (width, height)).tolist()
    extents = (rng.uniform(0.1, 0.5, (shapes, 2)) * min(width, height)).tolist()
    for (x, y), (w, h), kind, colour in zip(corners, extents, rng.integers(0, 3, shapes).tolist(), colours):
        if kind == 0:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        elif kind == 1:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        else:
            draw.polygon([(x, y + h), (x + w / 2, y), (x + w, y + h)], fill=colour)
    ends = (rng.uniform(0, 1, (lines, 4)) * (width, height, width, height)).tolist()
    for points, thickness, colour in zip(ends, rng.integers(1, 4, lines).tolist(), colours[shapes:]):
        draw.line(points, fill=colour, width=thickness)
    return picture


@lru_cache(maxsize=256)
def _tone_table(gamma: float, tint: tuple[float, float, float]) -> tuple[int, ...]:
    """A per-channel lookup table for ``Image.point`` applying the tone curve and colour cast."""
    levels = (np.arange(256) / 255) ** gamma * 255
    return tuple(np.clip(np.rint(np.asarray(tint)[:, None] * levels), 0, 255).astype(int).ravel().tolist())


def _rendered(scene_seed: int, rendering: Rendering, view_seed: int, size: tuple[int, int]) -> Image.Image:
    """The scene seen through a camera: a seeded small shift of the view, then the rendering's pipeline."""
    width, height = size
    margin = max(1, round(_SCENE_MARGIN * min(size)))
    scene = _scene(scene_seed, (width + 2 * margin, height + 2 * margin))
    rng = np.random.default_rng(view_seed)
    left, top = (int(v) for v in rng.integers(0, 2 * margin + 1, 2))
    image = scene.crop((left, top, left + width, top + height)).point(_tone_table(rendering.gamma, rendering.tint))
    if rendering.noise:
        pixels = np.asarray(image)
        noisy = _unit_noise(rng, height, width, 3) * np.float32(rendering.noise)
        noisy += pixels
        noisy += np.float32(0.5)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if rendering.blur:
        image = image.filter(ImageFilter.GaussianBlur(rendering.blur))
    if rendering.sharpen_percent:
        image = image.filter(ImageFilter.UnsharpMask(rendering.sharpen_radius, rendering.sharpen_percent, 0))
    return image


def _jpeg(image: Image.Image, rendering: Rendering, exif: bytes | None) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=rendering.quality, subsampling=_SUBSAMPLING_CODES[rendering.subsampling],
               **({"exif": exif} if exif is not None else {}))
    return out.getvalue()


def _pixels(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A seeded scene as uint8 RGB (height, width, 3): what a photo without an original shows."""
    return np.asarray(_scene(seed, size))


def _exif_block(ifd0: Mapping[int, Any], exif_ifd: Mapping[int, Any], gps: Mapping[int, Any]) -> Image.Exif:
    """Pillow Exif from the three IFDs (sub-IFDs only when not empty)."""
    block = Image.Exif()
    for number, value in ifd0.items():
        block[number] = value
    if exif_ifd:
        block[_EXIF_IFD] = dict(exif_ifd)
    if gps:
        block[_GPS_IFD] = dict(gps)
    return block


def _writable(ifds: tuple[Mapping[int, Any], ...]) -> bool:
    try:
        _exif_block(*ifds).tobytes()
    except Exception:  # noqa: BLE001 - Pillow rejects some odd value types found in samples
        return False
    return True


def _writable_alone(position: int, number: int, value: Any) -> bool:
    """Whether Pillow can write this one tag, alone in its IFD (0 IFD0, 1 Exif, 2 GPS)."""
    ifds: list[Mapping[int, Any]] = [{}, {}, {}]
    ifds[position] = {number: value}
    return _writable(tuple(ifds))


def _profile_exif(profile: CameraProfile, size: tuple[int, int]) -> Image.Exif:
    """Pillow Exif for a profile and file size; tags Pillow cannot write are left out."""
    ifds = (dict(profile.ifd0), {**profile.exif, 0xA002: size[0], 0xA003: size[1]}, dict(profile.gps))
    if not _writable(ifds):
        LOG.debug("leaving unwritable tags of %s out", profile.name)
        ifds = tuple(
            {number: value for number, value in ifd.items() if _writable_alone(position, number, value)}
            for position, ifd in enumerate(ifds)
        )
    return _exif_block(*ifds)


_template_cache: dict[tuple[str, str, tuple[int, int]], _Template] = {}
_template_lock = threading.Lock()


def _template(profile: CameraProfile, size: tuple[int, int]) -> _Template:
    key = (profile.source, profile.name, size)
    with _template_lock:
        cached = _template_cache.get(key)
    if cached is not None:
        return cached
    exif = _profile_exif(profile, size).tobytes()
    data = _jpeg(Image.new("RGB", size), profile.rendering, exif)
    template = _Template(exif, tuple(exif_items_from_file(data)), *size)
    with _template_lock:
        _template_cache[key] = template
    return template


def _date_text(taken: datetime) -> str:
    return taken.strftime("%Y:%m:%d %H:%M:%S")


def _dated(template: _Template, taken: datetime) -> tuple[bytes, list[dict]]:
    """The template's Exif block and items with every placeholder date set to ``taken``."""
    text = _date_text(taken)
    exif = template.exif.replace(_PLACEHOLDER_DATE.encode(), text.encode())
    items = []
    for item in template.items:
        copy = {key: (dict(value) if isinstance(value, dict) else value) for key, value in item.items()}
        if copy["raw"]["_content"] == _PLACEHOLDER_DATE:
            copy["raw"]["_content"] = text
        items.append(copy)
    return exif, items


def _view_seed(scene_seed: int, profile: CameraProfile, taken: datetime) -> int:
    """Seeds a render's view shift and noise: one scene shot by two cameras is seen a little differently."""
    return int(_hashed_unit("view", scene_seed, profile.source, profile.name, _date_text(taken)) * 2**32)


def _photo_file(scene_seed: int, profile: CameraProfile, taken: datetime, size: tuple[int, int],
                with_exif: bool = True) -> tuple[bytes, list[dict]]:
    """One photo's JPEG (the scene through the profile) and its getExif items (``[]`` without Exif)."""
    image = _rendered(scene_seed, profile.rendering, _view_seed(scene_seed, profile, taken), size)
    if not with_exif:
        return _jpeg(image, profile.rendering, None), []
    exif, items = _dated(_template(profile, size), taken)
    return _jpeg(image, profile.rendering, exif), items


def render_photo(
    scene_seed: int,
    profile: CameraProfile | str,
    taken: datetime,
    size: tuple[int, int] = DEFAULT_PHOTO_SIZE,
) -> bytes:
    """The scene ``scene_seed`` shot with ``profile`` at ``taken``, as JPEG bytes with the profile's Exif.

    ``profile`` is a :class:`CameraProfile` (see :func:`builtin_profiles`) or a built-in
    profile's name.  The same scene through two profiles shows the same subject, from a
    slightly shifted view, with each profile's processing (tone, noise, noise reduction,
    sharpening, JPEG quality and subsampling) and its Make, Model and DateTimeOriginal = ``taken``.
    Deterministic: the same arguments give the same bytes.
    """
    if isinstance(profile, str):
        named = {candidate.name: candidate for candidate in _builtin_profiles()}
        if profile not in named:
            raise ValueError(f"no built-in profile named {profile!r}")
        profile = named[profile]
    return _photo_file(scene_seed, profile, taken, (int(size[0]), int(size[1])))[0]


def _weighted(rng: random.Random, weights: Mapping[int, int]) -> int:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _owner_dates(rng: random.Random, count: int, start: datetime, span: float) -> list[datetime]:
    """Dates for one owner's photos: mostly bursts (outings of a few days), some spread evenly."""
    outings = [start + timedelta(seconds=rng.uniform(0, span)) for _ in range(max(1, count // 12))]
    dates = []
    for _ in range(count):
        if rng.random() < 0.8:
            offset = rng.choice(outings) - start + timedelta(seconds=rng.uniform(0, 3 * 86400))
            dates.append(start + timedelta(seconds=min(span - 1, offset.total_seconds())))
        else:
            dates.append(start + timedelta(seconds=rng.uniform(0, span)))
    return [date.replace(microsecond=0) for date in dates]


def _title(rng: random.Random, taken: datetime) -> str:
    form = rng.choice(_TITLE_FORMS)
    a, b = rng.sample(_WORDS, 2)
    return form.format(a=a.capitalize(), b=b, n=rng.randrange(10000), year=taken.year)


def generate_photos(
    n: int,
    *,
    seed: int = 0,
    samples: str | Path | None = None,
    owners: int | None = None,
    start: datetime = datetime(2010, 1, 1),
    end: datetime = datetime(2024, 1, 1),
    hidden_exif_rate: float = 0.05,
    missing_exif_rate: float = 0.02,
    no_original_rate: float = 0.05,
    nonpermissive_rate: float = 0.1,
    unsafe_rate: float = 0.02,
    video_rate: float = 0.01,
    size: tuple[int, int] = DEFAULT_PHOTO_SIZE,
) -> list[StandinPhoto]:
    """A deterministic, realistic photo population for the stand-in (same seed → same photos).

    Owners (``owners``, default ``n // 20``) are drawn Zipf-like, and an owner's photos cluster
    in short outings, so some owners have many photos in one month.  Ids are unique 11-digit
    numbers increasing with upload time.  Exif comes from the real files under ``samples``
    (those with a Make, cycled per owner) or from built-in camera profiles; each photo's file is
    a small real JPEG whose embedded Exif matches its items, with DateTimeOriginal = date_taken,
    showing its own scene (seeded by the photo id) rendered through its profile's processing
    (see :class:`Rendering` and :func:`render_photo`).
    ``missing_exif_rate`` photos have no Exif at all (empty items, file without Exif);
    ``hidden_exif_rate`` photos answer getExif with code 2.  Photos are ``size`` (width, height)
    pixels, one in five turned to portrait; larger sizes keep more of each profile's traces
    through a benchmark's resize but take longer to render.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if end <= start:
        raise ValueError("end must be after start")
    if len(size) != 2 or min(size) < 8:
        raise ValueError(f"size must be (width, height) of at least 8 pixels each, got {size!r}")
    landscape, portrait = (int(size[0]), int(size[1])), (int(size[1]), int(size[0]))
    rng = random.Random(seed)
    if samples is not None:
        profiles = list(_sample_profiles(str(Path(samples).resolve())))
        if not profiles:
            raise ValueError(f"no JPEG/HEIC file with a camera Make under {samples}")
    else:
        profiles = list(_builtin_profiles())
    owner_count = max(1, owners if owners is not None else n // 20)
    owner_numbers = rng.sample(range(10_000_000, 100_000_000), owner_count)  # unique NSIDs
    owner_ids = [f"{number}@N{rng.randrange(0, 8):02d}" for number in owner_numbers]
    owner_names = [f"{rng.choice(_FIRST_NAMES)} {rng.choice(_WORDS).title()}{i}" for i in range(owner_count)]
    zipf = [1 / (rank + 1) ** 1.1 for rank in range(owner_count)]
    drawn = rng.choices(range(owner_count), weights=zipf, k=n)
    per_owner = Counter(drawn)
    span = (end - start).total_seconds()
    dates = {owner: iter(_owner_dates(rng, count, start, span)) for owner, count in sorted(per_owner.items())}
    cameras_per_owner = 1 if samples is not None else len(_BUILTIN_SETTINGS)

    rows = []
    for owner in drawn:
        taken = next(dates[owner])
        uploaded = taken + timedelta(seconds=int(rng.expovariate(1 / (20 * 86400))) + 60)
        # An owner keeps one camera (a few settings of it); one photo in five is shot on another.
        base = (owner * cameras_per_owner) % len(profiles)
        if rng.random() < 0.2:
            base = rng.randrange(len(profiles))
        profile = profiles[(base + rng.randrange(cameras_per_owner)) % len(profiles)]
        rows.append((uploaded, owner, taken, profile))
    rows.sort(key=lambda row: row[0])

    photos = []
    photo_id = 10_000_000_000 + rng.randrange(10**9)
    for uploaded, owner, taken, profile in rows:
        photo_id += rng.randint(1, 2000)
        shape = portrait if rng.random() < 0.2 else landscape
        exif_error = None
        licenses = _NONPERMISSIVE_WEIGHTS if rng.random() < nonpermissive_rate else _PERMISSIVE_WEIGHTS
        exif_draw = rng.random()
        data, items = _photo_file(photo_id, profile, taken, shape, with_exif=exif_draw >= missing_exif_rate)
        if missing_exif_rate <= exif_draw < missing_exif_rate + hidden_exif_rate:
            items, exif_error = None, 2
        photos.append(
            StandinPhoto(
                id=str(photo_id),
                owner=owner_ids[owner],
                ownername=owner_names[owner],
                title=_title(rng, taken),
                description=rng.choice(("", "", f"Shot in {taken:%B %Y}.", "Taken on a walk.")),
                tags=rng.sample(_WORDS, rng.randint(0, 5)),
                license=_weighted(rng, licenses),
                date_taken=taken,
                date_upload=uploaded,
                safety_level=rng.choice((1, 2)) if rng.random() < unsafe_rate else 0,
                media="video" if rng.random() < video_rate else "photo",
                exif_items=items,
                exif_error=exif_error,
                original=None if rng.random() < no_original_rate else data,
                width=shape[0],
                height=shape[1],
            )
        )
    return photos


# === command line ============================================================================


def _size_argument(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}")
    return int(width), int(height)


def main(argv: list[str] | None = None) -> None:
    """Serve a generated population in the foreground until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m flickrexif.testing.standin", description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="number of generated photos")
    parser.add_argument("--samples", type=Path, default=None, help="folder of real JPEG/HEIC files to take Exif from")
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="probability of a transient fault per request")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--api-key", default="test-key", help="the API key the server accepts")
    parser.add_argument("--max-results", type=int, default=4000, help="search results reachable per query")
    parser.add_argument("--size", type=_size_argument, default=DEFAULT_PHOTO_SIZE, metavar="WxH",
                        help="pixel size of the generated photos (landscape; some are turned to portrait)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    photos = generate_photos(args.photos, seed=args.seed, samples=args.samples, size=args.size)
    standin = FlickrStandin(photos, api_keys={args.api_key}, latency_s=args.latency, fault_rate=args.fault_rate,
                            seed=args.seed, max_results=args.max_results, port=args.port)
    print(standin.api_url, flush=True)
    LOG.info("serving %d photos with API key %r; Ctrl-C stops", len(photos), args.api_key)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # a plain kill also closes cleanly
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        standin.close()
        LOG.info("calls: %s; faults: %s", dict(standin.calls), dict(standin.faults))


if __name__ == "__main__":
    main()
