"""The acquisition-probe mask: black out the image centre so only the borders remain.

Camera traces (make, model, ISO...) must be read from how the pixels were made, not from what
they show, so the centre of each image is set to black (pixel value 0). The mask is applied
after the encoder's resize and centre crop, on pixel values before normalisation.

The masked rectangle covers ``ratio`` of the image area and keeps the image's aspect ratio: each
side is scaled by ``sqrt(ratio)``. Rounding is to whole pixels and symmetric: the margin on each
side is ``floor(side * (1 - sqrt(ratio)) / 2 + 0.5)``, so the rectangle is exactly centred and
each masked side is within one pixel of ``side * sqrt(ratio)`` (it has the same parity as the
side). The paper masks 90% of the area (:data:`DEFAULT_MASK_RATIO`); its released code 95%
(:data:`RELEASED_CODE_MASK_RATIO`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image

from benchmark.errors import UsageError

DEFAULT_MASK_RATIO = 0.9
RELEASED_CODE_MASK_RATIO = 0.95

T = TypeVar("T")


@dataclass(frozen=True)
class MaskBox:
    """The masked rectangle in pixels (rows ``top:top+height``, columns ``left:left+width``)."""

    top: int
    left: int
    height: int
    width: int

    @property
    def area(self) -> int:
        return self.height * self.width


def check_ratio(ratio: float) -> float:
    """``ratio`` as a float, or a ``UsageError`` when it is outside [0, 1)."""
    ratio = float(ratio)
    if not 0.0 <= ratio < 1.0:  # also rejects NaN
        raise UsageError(f"mask ratio must be in [0, 1) (fraction of the image area), got {ratio!r}")
    return ratio


def _masked_side(side: int, scale: float) -> tuple[int, int]:
    """``(margin, length)`` of the masked span along one side of ``side`` pixels."""
    margin = math.floor(side * (1.0 - scale) / 2.0 + 0.5)
    return margin, max(side - 2 * margin, 0)


def mask_box(height: int, width: int, ratio: float = DEFAULT_MASK_RATIO) -> MaskBox:
    """The centred rectangle covering ``ratio`` of a ``height`` x ``width`` image."""
    scale = math.sqrt(check_ratio(ratio))
    top, box_height = _masked_side(height, scale)
    left, box_width = _masked_side(width, scale)
    if box_height == 0 or box_width == 0:
        return MaskBox(0, 0, 0, 0)
    return MaskBox(top, left, box_height, box_width)


def center_mask(image: T, ratio: float = DEFAULT_MASK_RATIO) -> T:
    """A copy of ``image`` with its centred ``ratio`` of the area set to 0 (black).

    Accepts a PIL image (any mode; 0 is black except for palette images, where it is index 0)
    or a torch tensor shaped CHW or BCHW of any dtype. ``ratio`` 0 returns an unchanged copy.
    """
    if isinstance(image, Image.Image):
        return _mask_pil(image, ratio)  # type: ignore[return-value]
    if hasattr(image, "clone") and hasattr(image, "shape"):
        return _mask_tensor(image, ratio)
    raise TypeError(f"center_mask takes a PIL image or a CHW/BCHW tensor, not {type(image).__name__}")


def _mask_pil(image: Image.Image, ratio: float) -> Image.Image:
    box = mask_box(image.height, image.width, ratio)
    out = image.copy()
    if box.area:
        out.paste(Image.new(out.mode, (box.width, box.height)), (box.left, box.top))
    return out


def _mask_tensor(tensor: Any, ratio: float) -> Any:
    if tensor.ndim not in (3, 4):
        raise ValueError(f"center_mask expects a CHW or BCHW tensor, got shape {tuple(tensor.shape)}")
    box = mask_box(tensor.shape[-2], tensor.shape[-1], ratio)
    out = tensor.clone()
    if box.area:
        out[..., box.top : box.top + box.height, box.left : box.left + box.width] = 0
    return out
