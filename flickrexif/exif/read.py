"""Read a photo file's Exif into an :class:`ExifRecord`, from a path or from bytes.

Files are opened lazily with Pillow (plus pillow-heif for HEIC/HEIF): only headers and metadata
segments are read, never pixels, so reading stays fast and a decompression bomb costs nothing
but is still refused.  Values are cleaned by :mod:`flickrexif.exif.tags`, which also maps Flickr's
``photos.getExif`` answer onto the same record.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PIL import Image, JpegImagePlugin, TiffImagePlugin, UnidentifiedImageError

from flickrexif.exif.jpeg import chroma_subsampling, estimate_quality
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.tags import clean_text, orientation_number, to_float, to_fraction, to_int, to_iso_datetime

# Pillow's own hard limit is 2 × MAX_IMAGE_PIXELS (~179 MP); 2**28 pixels (268 MP) admits every
# camera sold today (largest ~150–200 MP) while refusing headers that claim absurd sizes.
DEFAULT_MAX_PIXELS = 2**28

# Files bigger than this are refused by callers that read a whole file (``paircams ingest`` hashes,
# decodes and copies its photos): the largest camera JPEG or HEIC is well under 100 MB.
DEFAULT_MAX_FILE_BYTES = 200_000_000

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


# --- files ---------------------------------------------------------------------------------

_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def printable_name(name: str | os.PathLike[str]) -> str:
    """``name`` as valid UTF-8 text: bytes that are not UTF-8 (kept by Python as lone surrogates) are
    written as ``\\xff`` escapes, so rows, JSON and terminals never fail on a file's name."""
    text = os.fspath(name)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate no undecodable byte gives; escape it as a code point
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def is_utf8_name(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` is valid UTF-8 text, i.e. has no undecodable bytes from the file system."""
    try:
        os.fspath(name).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_regular_file(path: str | Path, *, max_bytes: int | None = None) -> os.stat_result:
    """The ``os.stat`` of ``path`` (symbolic links followed) when it is a regular file to read.

    Nothing is opened: a FIFO would block the opener and a device (``/dev/zero`` behind a
    ``photo.jpg`` link) never ends.  Raises :class:`ExifReadError` saying why the file is not
    read: missing, a broken link or a link loop, a folder, not a regular file, or (with
    ``max_bytes``) larger than that.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ExifReadError("broken symbolic link" if os.path.islink(path) else "file not found") from None
    except PermissionError:
        raise ExifReadError("permission denied") from None
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ExifReadError("symbolic link loop") from None
        raise ExifReadError(f"cannot be read: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise ExifReadError("is a directory")
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _SPECIAL_FILES if test(info.st_mode)), "a special file")
        raise ExifReadError(f"not a regular file ({kind}); skipped without opening it")
    if max_bytes is not None and info.st_size > max_bytes:
        raise ExifReadError(
            f"too large: {info.st_size / 1e6:.0f} MB, over the {max_bytes / 1e6:.0f} MB limit for a photo file"
        )
    return info


def read_exif(source: str | Path | bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> ExifRecord:
    """Read the Exif and JPEG header facts of one photo file (path) or its bytes.

    Raises :class:`ExifReadError` with a readable message for anything that is not a
    JPEG/HEIF/TIFF image or whose header claims more than ``max_pixels`` pixels.  A path that is
    not a regular file (a FIFO, a device, a link loop) is refused before it is opened.
    """
    stream = io.BytesIO(source) if isinstance(source, bytes) else None
    if stream is None:
        check_regular_file(source)
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
            raise ExifReadError(
                f"truncated {_sniff_format(source) or 'image'} file: it ends inside its header"
            ) from None
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
        datetime_original=to_iso_datetime(sub.get(_DATETIME_ORIGINAL)) or to_iso_datetime(sub.get(_DATETIME_DIGITIZED)),
        exposure_time=to_fraction(sub.get(_EXPOSURE_TIME)),
        f_number=to_float(sub.get(_F_NUMBER)),
        iso=to_int(sub.get(_ISO)),
        focal_length_mm=to_float(sub.get(_FOCAL_LENGTH)),
        focal_length_35mm=to_float(sub.get(_FOCAL_LENGTH_35MM)),
        flash_fired=_flash_fired(sub.get(_FLASH)),
        orientation=orientation_number(stored_orientation or ifd0.get(_ORIENTATION)),
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
