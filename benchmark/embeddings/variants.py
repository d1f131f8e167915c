"""What the encoder sees of an image: a :class:`Variant` is the source, optionally processed (a class of
a processing family, see :mod:`benchmark.imaging.processing`), optionally centre-masked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image

from benchmark.errors import UsageError
from benchmark.imaging.masking import center_mask, check_ratio
from benchmark.imaging.preprocess import Preprocess
from benchmark.imaging.processing import FAMILIES, assign_train_classes, process, processing_operation


@dataclass(frozen=True)
class Variant:
    """What the encoder sees: a processing class (or none) and a mask ratio (0 = unmasked).

    ``assigned=True`` gives every image its own class of ``family``, drawn uniformly from a hash
    of (seed, image id): the probes' training images (the test images get every class).  The
    mask is the variant's, not the encoder's: :meth:`encoder_input` puts it on the encoder's crop.
    ``crop_encoding`` (a ``jpeg`` class such as ``q95-444``) re-encodes that crop before the mask, as
    the released code's ``MASK_95`` does (resize, centre crop, JPEG, mask).
    """

    family: str | None = None
    class_name: str | None = None
    mask_ratio: float = 0.0
    assigned: bool = False
    crop_encoding: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask_ratio", check_ratio(self.mask_ratio))
        if self.crop_encoding is not None and self.crop_encoding not in FAMILIES["jpeg"]:
            raise ValueError(f"unknown crop encoding {self.crop_encoding!r}; choose from {FAMILIES['jpeg']}")
        if self.assigned:
            if self.family not in FAMILIES or self.class_name is not None:
                raise ValueError("an assigned variant names a processing family and no class")
            return
        if (self.family is None) != (self.class_name is None):
            raise ValueError("a variant names both a processing family and class, or neither")
        if self.family is not None and self.class_name not in FAMILIES.get(self.family, ()):
            raise UsageError(f"unknown processing {self.family}/{self.class_name}; families: {FAMILIES}")

    @property
    def name(self) -> str:
        base = f"{self.family}-{'assigned' if self.assigned else self.class_name}" if self.family else "source"
        base += f"-crop-jpeg-{self.crop_encoding}" if self.crop_encoding else ""
        return base + (f"-mask{self.mask_ratio:g}" if self.mask_ratio else "")

    @property
    def uses_seed(self) -> bool:
        return self.assigned or self.family == "interpolation"

    def class_for(self, image_id: str, seed: int) -> str | None:
        if self.assigned:
            return assign_train_classes([image_id], self.family, seed)[0]
        return self.class_name

    def input_key(self) -> tuple:
        """Equal for variants that give the encoder the same pixels for every image (a family's ``none``
        is ``jpeg/q95-444``): the extraction computes their embeddings once."""
        if self.assigned:
            return (self,)
        operation = processing_operation(self.family, self.class_name) if self.family else None
        return operation, self.mask_ratio, self.crop_encoding

    def describe(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "class": self.class_name,
            "mask_ratio": self.mask_ratio,
            "assigned": self.assigned,
            "crop_encoding": self.crop_encoding,
        }

    def encoder_pixels(self, image: Image.Image, preprocess: Preprocess) -> np.ndarray:
        """``image`` (already processed) as the encoder's uint8 crop ``(H, W, 3)``: resize and crop,
        encode, mask.  The mask goes on the uint8 crop, so masked pixels are 0 before normalisation."""
        pixels = preprocess.pixels(image)
        if self.crop_encoding:
            pixels = process(pixels, "jpeg", self.crop_encoding)
        return np.array(center_mask(pixels, self.mask_ratio) if self.mask_ratio else pixels, dtype=np.uint8)

    def encoder_input(self, image: Image.Image, preprocess: Preprocess) -> torch.Tensor:
        """``image`` (already processed) as the encoder gets it: :meth:`encoder_pixels`, normalised."""
        return preprocess.normalise_batch(torch.from_numpy(self.encoder_pixels(image, preprocess))[None])[0]
