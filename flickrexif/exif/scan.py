"""Turn files and folders of photos into rows of parsed Exif and labels (``flickrexif exif``).

A row never raises: a file that cannot be read becomes a row whose ``error`` says why, so one
broken photo in a folder of thousands costs one row, not the run.  That holds for hostile folders
too: FIFOs, sockets and devices named ``*.jpg`` are never opened, symbolic link loops and broken
links are error rows, linked folders are not followed, and a file name that is not valid UTF-8 is
shown with ``\\xff`` escapes in ``path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from flickrexif.exif.labels import label_record
from flickrexif.exif.read import DEFAULT_MAX_PIXELS, ExifReadError, printable_name, read_exif
from flickrexif.exif.record import ExifRecord

# Extensions picked up when walking a folder; files named explicitly are always read.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".heic", ".heif", ".hif", ".tif", ".tiff"})

# Columns of every row, in output order (``labels`` is a nested object, flattened in CSV).
ROW_FIELDS = (
    "path",
    "make",
    "make_raw",
    "model",
    "model_raw",
    "lens",
    "is_smartphone",
    "device_kind",
    "iso",
    "f_number",
    "exposure_time",
    "focal_length_mm",
    "focal_length_35mm",
    "datetime_original",
    "flash_fired",
    "orientation",
    "software",
    "width",
    "height",
    "image_format",
    "jpeg_quality",
    "chroma_subsampling",
    "labels",
    "error",
)


def iter_photo_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files given directly, plus image files found recursively in given folders, sorted.

    Paths that do not exist are yielded too, so they get a row with an error.  Linked folders
    are not followed (a link back up the tree would loop); linked files are, as files named.
    """
    for path in map(Path, paths):
        if path.is_dir():
            found = []
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                found.extend(Path(root, name) for name in files if Path(name).suffix.lower() in IMAGE_SUFFIXES)
            yield from sorted(found)
        else:
            yield path


def record_row(path: str, record: ExifRecord | None, error: str | None = None) -> dict[str, Any]:
    """One output row: the record's fields, the canonical make/model and the binned labels."""
    record = record or ExifRecord()
    labels = label_record(record)
    values = labels.values()
    row = record.to_json()
    row.update(
        path=path,
        make_raw=record.make,
        make=values["make"],
        model_raw=record.model,
        model=values["model"],
        is_smartphone=None if values["is_smartphone"] is None else values["is_smartphone"] == "True",
        device_kind=labels.device_kind,
        labels=values,
        error=error,
    )
    return {name: row.get(name) for name in ROW_FIELDS}


def scan_file(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> dict[str, Any]:
    """Read and label one file; failures land in the row's ``error``.

    The row's ``path`` is :func:`printable_name` of ``path``: the same text for every UTF-8 name.
    """
    name = printable_name(path)
    try:
        record = read_exif(path, max_pixels=max_pixels)
    except ExifReadError as error:
        return record_row(name, None, str(error))
    return record_row(name, record)
