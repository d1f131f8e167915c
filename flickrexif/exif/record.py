"""The typed Exif record every reader produces (files, bytes, Flickr's getExif answer)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from fractions import Fraction
from typing import Any


@dataclass(frozen=True)
class ExifRecord:
    """Camera settings and file facts of one photo; ``None`` means unknown.

    Strings are cleaned of NUL padding and surrounding spaces but otherwise raw, so the label
    functions can be re-run on them later.  No GPS position or serial number is ever kept here.
    """

    make: str | None = None
    model: str | None = None
    lens: str | None = None
    datetime_original: str | None = None  # ISO 8601 "YYYY-MM-DDTHH:MM:SS", no timezone
    exposure_time: Fraction | None = None  # seconds, exact
    f_number: float | None = None
    iso: int | None = None
    focal_length_mm: float | None = None
    focal_length_35mm: float | None = None
    flash_fired: bool | None = None
    orientation: int | None = None
    software: str | None = None
    width: int | None = None
    height: int | None = None
    image_format: str | None = None  # "JPEG", "HEIF", "TIFF"; None for Flickr answers
    jpeg_quality: int | None = None  # estimated from the quantization tables
    chroma_subsampling: str | None = None  # "4:4:4", "4:2:2", "4:2:0", "4:1:1", "gray", ...

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict; the exposure time becomes a string like ``"1/125"``."""
        out = asdict(self)
        out["exposure_time"] = format_exposure(self.exposure_time)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ExifRecord:
        """Inverse of :meth:`to_json` (unknown keys are ignored)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if values.get("exposure_time") is not None:
            values["exposure_time"] = Fraction(values["exposure_time"])
        return cls(**values)


def format_exposure(value: Fraction | None) -> str | None:
    """``Fraction(1, 125)`` → ``"1/125"``, ``Fraction(2)`` → ``"2"``, ``Fraction(5, 2)`` → ``"5/2"``."""
    if value is None:
        return None
    return str(value)
