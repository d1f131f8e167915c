"""JPEG encoding traces read from the header alone: quality estimate and chroma subsampling.

Both come from markers Pillow parses when it opens a file (DQT and SOF), so no pixel is decoded.
The quality is the IJG (libjpeg) quality whose scaled standard tables best match the file's
tables: exact for libjpeg-family encoders, the nearest equivalent for cameras' own tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

# ITU-T T.81 Annex K tables, natural (row-major) order, as libjpeg scales them.
_STD_LUMINANCE = (
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
)  # fmt: skip
_STD_CHROMINANCE = (
    17, 18, 24, 47, 99, 99, 99, 99,
    18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99,
)  # fmt: skip

_SUBSAMPLING_NAMES = {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (4, 1): "4:1:1", (1, 2): "4:4:0"}


def ijg_table(standard: Sequence[int], quality: int) -> list[int]:
    """The table libjpeg writes for ``quality`` (1–100), baseline-clamped to 1..255."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(max((value * scale + 50) // 100, 1), 255) for value in standard]


@lru_cache(maxsize=2)
def _all_qualities(standard: tuple[int, ...]) -> np.ndarray:
    """Tables for qualities 100, 99, ..., 1 as a (100, 64) array (highest quality first)."""
    return np.array([ijg_table(standard, q) for q in range(100, 0, -1)], dtype=np.int64)


def estimate_quality(tables: Mapping[int, Sequence[int]]) -> int | None:
    """Estimate the IJG quality (1–100) from quantization tables in natural order.

    Table 0 is compared with the luminance table and table 1 (when present) with the
    chrominance table; ties go to the higher quality.  ``None`` for missing or malformed tables.
    """
    luma = tables.get(0)
    if luma is None or len(luma) != 64:
        return None
    distance = np.abs(_all_qualities(_STD_LUMINANCE) - np.asarray(luma)).sum(axis=1)
    chroma = tables.get(1)
    if chroma is not None and len(chroma) == 64:
        distance += np.abs(_all_qualities(_STD_CHROMINANCE) - np.asarray(chroma)).sum(axis=1)
    return 100 - int(np.argmin(distance))  # argmin takes the first, i.e. highest, quality


def chroma_subsampling(layers: Sequence[tuple[int, int, int, int]]) -> str | None:
    """Name the subsampling from SOF components ``(id, h, v, table)``: ``"4:2:0"``, ``"gray"``...

    Uses the first chroma component; a layout with no common name is written as ``"HxV"``
    factors, e.g. ``"3x1"``, rather than dropped.
    """
    if not layers:
        return None
    if len(layers) == 1:
        return "gray"
    (_, luma_h, luma_v, _), (_, chroma_h, chroma_v, _) = layers[0], layers[1]
    if chroma_h == 0 or chroma_v == 0 or luma_h % chroma_h or luma_v % chroma_v:
        return f"{luma_h}x{luma_v}/{chroma_h}x{chroma_v}"
    ratio = (luma_h // chroma_h, luma_v // chroma_v)
    return _SUBSAMPLING_NAMES.get(ratio, f"{ratio[0]}x{ratio[1]}")
