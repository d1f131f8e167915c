"""What an image file says about how it was made: the audit's metadata attributes of one image.

Read from the file's header and metadata segments only (:func:`flickrexif.exif.read_exif`: Exif, the
JPEG quantisation tables and chroma layout), never its pixels, so a dataset of any size is read in
seconds per thousand images.  The camera attributes are FlickrExif's own labels
(:func:`flickrexif.exif.label_record`, named as its configurations: ``Make``, ``ISO Speed``, ...); the
file attributes are the JPEG quality estimate and chroma subsampling, the format, and the displayed
size (long side, binned) and aspect ratio.  What a file does not say is ``None`` here and the
category :data:`UNKNOWN` in the audit: a class whose photos were all stripped of Exif is a finding.
"""

from __future__ import annotations

import io
import math
import warnings

from PIL import Image, UnidentifiedImageError

from benchmark.imaging.processing import UnreadableImage, check_size
from flickrexif.exif import ExifReadError, label_record, read_exif
from flickrexif.exif.labels import ATTRIBUTES

UNKNOWN = "unknown"

# FlickrExif's attributes the audit reads (``Smartphone Model`` is ``Model`` again, for phones only).
EXIF_ATTRIBUTES = (
    "Make",
    "Model",
    "Is Smartphone",
    "Exposure",
    "Aperture",
    "ISO Speed",
    "Focal Length",
    "Flash",
    "Year",
)
FILE_ATTRIBUTES = ("JPEG Quality", "Chroma Subsampling", "Format", "Pixel Size", "Aspect Ratio")
AUDIT_ATTRIBUTES = EXIF_ATTRIBUTES + FILE_ATTRIBUTES

# The long side's bins (pixels): a resize that differs between classes shows without one class per size.
LONG_SIDE_EDGES = (128, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192)
NAMED_RATIOS = {"1:1": 1.0, "5:4": 1.25, "4:3": 4 / 3, "3:2": 1.5, "16:9": 16 / 9, "2:1": 2.0}
RATIO_TOLERANCE = 0.03  # relative: 4:3 is 1.293-1.373
_NOT_A_CAMERA_FORMAT = "not a JPEG, HEIF or TIFF image"  # read_exif's words for other formats (PNG, WebP)


def image_metadata(data: bytes) -> dict[str, str | None]:
    """Every audit attribute of one encoded image (``None``: the file does not say).

    Raises :class:`~benchmark.imaging.processing.UnreadableImage` with the reason when the header cannot
    be read (not an image, truncated header, a decompression bomb).
    """
    try:
        record = read_exif(data)
    except ExifReadError as error:
        if str(error) != _NOT_A_CAMERA_FORMAT:
            raise UnreadableImage(str(error)) from None
        return _other_format(data)
    check_size(record.width or 0, record.height or 0)
    labels = label_record(record).values()
    values: dict[str, str | None] = {name: labels[ATTRIBUTES[name]] for name in EXIF_ATTRIBUTES}
    displayed = (record.height, record.width) if record.orientation in (5, 6, 7, 8) else (record.width, record.height)
    values.update(
        {
            "JPEG Quality": None if record.jpeg_quality is None else str(record.jpeg_quality),
            "Chroma Subsampling": record.chroma_subsampling,
            "Format": record.image_format,
            **_size_values(*displayed),  # type: ignore[arg-type]
        }
    )
    return values


def _other_format(data: bytes) -> dict[str, str | None]:
    """A PNG, WebP, BMP, GIF ...: its format and size from Pillow's header parser; no camera Exif read."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height, image_format = *image.size, image.format
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can read") from None
    except Image.DecompressionBombError as error:
        raise UnreadableImage(f"refused as a possible decompression bomb: {error}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnreadableImage((str(error) or type(error).__name__).splitlines()[0]) from None
    check_size(width, height)
    values: dict[str, str | None] = dict.fromkeys(AUDIT_ATTRIBUTES)
    values.update(Format=image_format, **_size_values(width, height))
    return values


def _size_values(width: int, height: int) -> dict[str, str]:
    return {"Pixel Size": long_side_bin(max(width, height)), "Aspect Ratio": aspect_ratio(width, height)}


def long_side_bin(side: int) -> str:
    """``"long side 257-384 px"``: the bin of :data:`LONG_SIDE_EDGES` holding ``side``."""
    low = 1
    for edge in LONG_SIDE_EDGES:
        if side <= edge:
            return f"long side {low}-{edge} px"
        low = edge + 1
    return f"long side > {LONG_SIDE_EDGES[-1]} px"


def aspect_ratio(width: int, height: int) -> str:
    """The named ratio within :data:`RATIO_TOLERANCE` (``"4:3"``, portrait ``"3:4"``), else ``"other
    landscape"`` / ``"other portrait"``."""
    ratio = max(width, height) / min(width, height)
    portrait = height > width
    for name, value in NAMED_RATIOS.items():
        if abs(math.log(ratio / value)) <= math.log1p(RATIO_TOLERANCE):
            long, short = name.split(":")
            return f"{short}:{long}" if portrait and name != "1:1" else name
    return "other portrait" if portrait else "other landscape"
