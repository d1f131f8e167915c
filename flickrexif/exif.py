"""Read a photo's Exif into an :class:`ExifRecord`, from a file, from bytes, or from Flickr.

Files are opened lazily with Pillow (plus pillow-heif for HEIC/HEIF): only headers and metadata
segments are read, never pixels, so reading stays fast and a decompression bomb costs nothing
but is still refused.  Flickr's ``photos.getExif`` answer carries ExifTool-style tag names and
printed values; :func:`exif_from_flickr` maps them onto the same record.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from collections.abc import Iterable, Mapping
from fractions import Fraction
from pathlib import Path
from typing import Any

from PIL import Image, JpegImagePlugin, TiffImagePlugin, UnidentifiedImageError

from flickrexif.jpeg import chroma_subsampling, estimate_quality
from flickrexif.record import ExifRecord

# Pillow's own hard limit is 2 × MAX_IMAGE_PIXELS (~179 MP); 2**28 pixels (268 MP) admits every
# camera sold today (largest ~150–200 MP) while refusing headers that claim absurd sizes.
DEFAULT_MAX_PIXELS = 2**28

# Importing the plugins registers them, so ``Image.open(..., formats=...)`` can name them.
# Multi-picture JPEGs (MPO) open through the JPEG entry and are reported as JPEG.
_PLUGINS = (JpegImagePlugin, TiffImagePlugin)
_FORMATS = ("JPEG", "HEIF", "TIFF")

# Exif tag numbers (Exif 2.32 / TIFF 6.0).
_EXIF_IFD = 0x8769
_MAKE, _MODEL, _ORIENTATION, _SOFTWARE = 0x010F, 0x0110, 0x0112, 0x0131
_EXPOSURE_TIME, _F_NUMBER, _ISO = 0x829A, 0x829D, 0x8827
_DATETIME_ORIGINAL, _DATETIME_DIGITIZED = 0x9003, 0x9004
_FLASH, _FOCAL_LENGTH, _FOCAL_LENGTH_35MM = 0x9209, 0x920A, 0xA405
_LENS_MODEL = 0xA434


class ExifReadError(ValueError):
    """A file that cannot be read as a photo; the message says why, for the row's ``error``."""


def _register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # pragma: no cover - pillow-heif is a dependency; degrade to no HEIF
        return
    register_heif_opener()


_register_heif()


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


# --- files ---------------------------------------------------------------------------------


def read_exif(source: str | Path | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ExifRecord:
    """Read the Exif and JPEG header facts of one photo file (path) or its bytes.

    Raises :class:`ExifReadError` with a readable message for anything that is not a
    JPEG/HEIF/TIFF image or whose header claims more than ``max_pixels`` pixels.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else None
    try:
        with warnings.catch_warnings():
            # Pillow warns about corrupt Exif and large images; both are handled as data here.
            warnings.simplefilter("ignore")
            with Image.open(stream or source, formats=_FORMATS) as image:
                return _record_from_image(image, max_pixels)
    except ExifReadError:
        raise
    except Image.DecompressionBombError as error:
        raise ExifReadError(f"refused as a possible decompression bomb: {error}") from None
    except UnidentifiedImageError:
        kind = _sniff_format(source)
        message = f"corrupt {kind} file: its header cannot be parsed" if kind else "not a JPEG, HEIF or TIFF image"
        raise ExifReadError(message) from None
    except FileNotFoundError:
        raise ExifReadError("file not found") from None
    except IsADirectoryError:
        raise ExifReadError("is a directory") from None
    except PermissionError:
        raise ExifReadError("permission denied") from None
    except Exception as error:  # noqa: BLE001 - any parser failure on hostile input is a row error
        if "truncated" in str(error).lower():
            raise ExifReadError(f"truncated {_sniff_format(source) or 'image'} file: it ends inside its header") from None
        raise ExifReadError(f"unreadable image: {type(error).__name__}: {error}") from None


_MAGIC = ((b"\xff\xd8", "JPEG"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _sniff_format(source: str | Path | bytes) -> str | None:
    """Name the format a file claims by its first bytes, to tell corrupt photos from non-photos."""
    if isinstance(source, bytes):
        head = source[:16]
    else:
        try:
            with Path(source).open("rb") as file:
                head = file.read(16)
        except OSError:
            return None
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"heim", b"heis", b"hevc"):
        return "HEIF"
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def _record_from_image(image: Image.Image, max_pixels: int) -> ExifRecord:
    width, height = image.size
    # pillow-heif applies the HEIF rotation on open and rewrites Orientation to 1; report the
    # stored orientation and size, as for JPEG and TIFF (and as ExifTool does).
    stored_orientation = image.info.get("original_orientation")
    if stored_orientation in (5, 6, 7, 8):
        width, height = height, width
    if width * height > max_pixels:
        raise ExifReadError(
            f"refused as a possible decompression bomb: {width}x{height} = "
            f"{width * height / 1e6:.0f} megapixels, over the {max_pixels / 1e6:.0f} MP limit"
        )
    ifd0, sub = _exif_dicts(image)
    image_format = "HEIF" if image.format in ("HEIF", "AVIF") else image.format
    image_format = "JPEG" if image_format == "MPO" else image_format
    is_jpeg = image_format == "JPEG"
    return ExifRecord(
        make=clean_text(ifd0.get(_MAKE)),
        model=clean_text(ifd0.get(_MODEL)),
        lens=clean_text(sub.get(_LENS_MODEL)),
        datetime_original=to_iso_datetime(sub.get(_DATETIME_ORIGINAL))
        or to_iso_datetime(sub.get(_DATETIME_DIGITIZED)),
        exposure_time=to_fraction(sub.get(_EXPOSURE_TIME)),
        f_number=to_float(sub.get(_F_NUMBER)),
        iso=to_int(sub.get(_ISO)),
        focal_length_mm=to_float(sub.get(_FOCAL_LENGTH)),
        focal_length_35mm=to_float(sub.get(_FOCAL_LENGTH_35MM)),
        flash_fired=_flash_fired(sub.get(_FLASH)),
        orientation=_orientation(stored_orientation or ifd0.get(_ORIENTATION)),
        software=clean_text(ifd0.get(_SOFTWARE)),
        width=width,
        height=height,
        image_format=image_format,
        jpeg_quality=estimate_quality(getattr(image, "quantization", None) or {}) if is_jpeg else None,
        chroma_subsampling=chroma_subsampling(getattr(image, "layer", None) or []) if is_jpeg else None,
    )


def _exif_dicts(image: Image.Image) -> tuple[Mapping[int, Any], Mapping[int, Any]]:
    """IFD0 and the Exif sub-IFD; a broken Exif block yields empty dicts, not an error."""
    try:
        exif = image.getexif()
    except Exception:  # noqa: BLE001 - broken metadata is the same as no metadata
        return {}, {}
    try:
        sub = dict(exif.get_ifd(_EXIF_IFD))
    except Exception:  # noqa: BLE001
        sub = {}
    # Some writers put Exif tags straight into IFD0; fall back to them.  IFD0's DateTime is the
    # last edit, not the capture, so it is deliberately not used as a capture date.
    for tag in (_EXPOSURE_TIME, _F_NUMBER, _ISO, _DATETIME_ORIGINAL, _FLASH, _FOCAL_LENGTH):
        if tag not in sub and tag in exif:
            sub[tag] = exif[tag]
    return exif, sub


def _flash_fired(value: Any) -> bool | None:
    """Bit 0 of the Exif Flash value says whether the flash fired."""
    if isinstance(value, (tuple, list)) and value:
        value = value[0]
    return bool(value & 1) if isinstance(value, int) else None


def _orientation(value: Any) -> int | None:
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
    return _ORIENTATION_NAMES.get(text.casefold()) or _orientation(text)
