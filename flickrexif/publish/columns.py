"""The Exif columns both datasets publish: defined once, filled from an :class:`ExifRecord`.

Only fields that describe the capture are published (no GPS position, no serial number: the record
never holds them).  FlickrExif fills them from Flickr's getExif answer, PairCams from the files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flickrexif.exif.record import ExifRecord, format_exposure

#: Exif record field → its ``datasets`` value type, in column order (columns are ``exif_<field>``).
EXIF_FIELDS: dict[str, str] = {
    "make": "string", "model": "string", "lens": "string", "software": "string", "datetime_original": "string",
    "exposure_time": "string", "f_number": "float64", "iso": "int64", "focal_length_mm": "float64",
    "focal_length_35mm": "float64", "flash_fired": "bool", "orientation": "int32",
}  # fmt: skip
EXIF_COLUMNS_DOC = "Exif values as {source} (exposure time as a fraction string)"


def exif_features(exclude: Iterable[str] = ()) -> dict[str, Any]:
    """``{"exif_make": Value("string"), ...}`` for every field not in ``exclude``."""
    from datasets import Value

    skip = set(exclude)
    return {f"exif_{name}": Value(kind) for name, kind in EXIF_FIELDS.items() if name not in skip}


def exif_columns(record: ExifRecord, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """The ``exif_*`` values of one row (the exposure time written as ``"1/125"``)."""
    skip = set(exclude)
    values = {name: getattr(record, name) for name in EXIF_FIELDS if name not in skip}
    if "exposure_time" in values:
        values["exposure_time"] = format_exposure(record.exposure_time)
    return {f"exif_{name}": value for name, value in values.items()}
