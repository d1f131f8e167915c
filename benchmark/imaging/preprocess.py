"""The encoder's eval transform, under the paper's rule: shorter side to the crop size, centre crop.

Encoders ship their own eval transform (timm: ``crop_pct``; open_clip: resize modes). The paper
instead resizes every image's shorter side to the crop size and takes the centre crop, so the
crop sees the whole short side for every encoder; :class:`Preprocess` does that unless
``resize_size`` is given. The steps and their rounding match torchvision's PIL path
(``Resize(int)`` + ``CenterCrop`` + ``ToTensor`` + ``Normalize``), so features agree with code
built on it:

1. optional Exif orientation (off by default, like the paper's loader), then RGB
   (:func:`benchmark.imaging.processing.to_rgb`: alpha on white, 16-bit scaled);
2. shorter side to ``resize_size or crop_size`` with Pillow (antialiased) and ``interpolation``;
   the longer side is ``int(size * long / short)`` (truncated, as torchvision does);
3. centre crop ``crop_size`` x ``crop_size``, offsets ``int(round((side - crop) / 2))``;
4. to float in [0, 1], then ``(x - mean) / std``.

:meth:`Preprocess.pixels` does steps 1-3 and :meth:`Preprocess.normalise` step 4, so a processing
variant can mask the uint8 crop between them (:meth:`benchmark.embeddings.extract.Variant.encoder_input`):
the mask belongs to what is measured, not to the encoder.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from benchmark.errors import UsageError
from benchmark.imaging.processing import to_rgb

INTERPOLATIONS: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}
# Defaults of each library when a config leaves mean/std out.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class Preprocess:
    """PIL image -> normalised float tensor ``(3, crop_size, crop_size)``; see the module notes."""

    crop_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    interpolation: str = "bicubic"
    resize_size: int | None = None  # None: the paper's rule, shorter side = crop_size
    exif_transpose: bool = False

    def __post_init__(self) -> None:
        # Normalise (lists from JSON, numpy floats) so equal settings compare and hash equal.
        object.__setattr__(self, "mean", _triple("mean", self.mean))
        object.__setattr__(self, "std", _triple("std", self.std))
        if int(self.crop_size) != self.crop_size or self.crop_size < 1:
            raise ValueError(f"crop_size must be a positive integer, got {self.crop_size!r}")
        object.__setattr__(self, "crop_size", int(self.crop_size))
        if self.resize_size is not None:
            if int(self.resize_size) != self.resize_size or self.resize_size < self.crop_size:
                raise ValueError(
                    f"resize_size must be an integer >= crop_size ({self.crop_size}), got {self.resize_size!r}"
                )
            object.__setattr__(self, "resize_size", int(self.resize_size))
        if any(s == 0 for s in self.std):
            raise ValueError(f"std must not contain 0, got {self.std}")
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"unknown interpolation {self.interpolation!r}; valid: {', '.join(INTERPOLATIONS)}")

    @property
    def shorter_side(self) -> int:
        """The size the shorter side is resized to."""
        return self.resize_size or self.crop_size

    @property
    def geometry(self) -> tuple[int, int, str, bool]:
        """What decides the uint8 crop (:meth:`pixels`): encoders whose geometry is equal see the same crop of
        an image, whatever their normalisation, so a sweep prepares it once for all of them."""
        return self.shorter_side, self.crop_size, self.interpolation, self.exif_transpose

    def resized_size(self, width: int, height: int) -> tuple[int, int]:
        """``(width, height)`` after the shorter-side resize (torchvision's rounding)."""
        short, long = (width, height) if width <= height else (height, width)
        new_short, new_long = self.shorter_side, int(self.shorter_side * long / short)
        return (new_short, new_long) if width <= height else (new_long, new_short)

    def pixels(self, image: Image.Image) -> Image.Image:
        """Steps 1-3: the uint8 RGB crop the encoder sees."""
        if self.exif_transpose:
            image = ImageOps.exif_transpose(image)
        image = to_rgb(image)
        size = self.resized_size(*image.size)
        if size != image.size:
            image = image.resize(size, INTERPOLATIONS[self.interpolation])
        crop = self.crop_size
        left = int(round((image.width - crop) / 2.0))
        top = int(round((image.height - crop) / 2.0))
        return image.crop((left, top, left + crop, top + crop))

    def normalise(self, pixels: Image.Image) -> torch.Tensor:
        """Step 4: the uint8 RGB crop as a float tensor ``(3, H, W)``, ``(x / 255 - mean) / std``."""
        return self.normalise_batch(torch.from_numpy(np.array(pixels, dtype=np.uint8))[None])[0]

    def normalise_batch(self, pixels: torch.Tensor) -> torch.Tensor:
        """Step 4 for a batch of uint8 crops ``(B, H, W, 3)``, on their device: float ``(B, 3, H, W)``.

        The same operations per element as one crop at a time, so the same values bit for bit.
        """
        # contiguous CHW before the float ops: on the permuted (channels-last) view each small op ran
        # ~10x slower with 2 threads and the batches reached the model channels-last; same values
        tensor = pixels.permute(0, 3, 1, 2).contiguous().float().div_(255.0)
        mean = torch.tensor(self.mean, dtype=tensor.dtype, device=tensor.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, dtype=tensor.dtype, device=tensor.device).view(1, 3, 1, 1)
        return tensor.sub_(mean).div_(std)

    def __call__(self, image: Image.Image) -> torch.Tensor:
        return self.normalise(self.pixels(image))

    def describe(self) -> dict[str, Any]:
        """Every parameter, JSON-ready; ``Preprocess(**p.describe()) == p``."""
        described = dataclasses.asdict(self)
        described["mean"], described["std"] = list(self.mean), list(self.std)
        return described

    @classmethod
    def from_timm_config(cls, config: Mapping[str, Any], *, paper_rule: bool = True, **overrides: Any) -> Preprocess:
        """From a timm ``pretrained_cfg`` or ``resolve_data_config`` dict.

        Reads ``input_size`` (C, H, W; square only), ``mean``, ``std``, ``interpolation``.
        ``crop_pct`` is ignored under the paper's rule; ``paper_rule=False`` uses timm's own
        ``resize_size = floor(crop_size / crop_pct)`` instead. ``overrides`` win over both.
        """
        if "input_size" not in config:
            raise UsageError(f"timm config has no input_size (keys: {', '.join(map(str, config))})")
        crop_size = _square_side(config["input_size"][-2:], "input_size")
        settings: dict[str, Any] = {
            "crop_size": crop_size,
            "mean": config.get("mean", IMAGENET_MEAN),
            "std": config.get("std", IMAGENET_STD),
            "interpolation": config.get("interpolation", "bicubic"),
        }
        crop_pct = config.get("crop_pct")
        if not paper_rule and crop_pct:
            settings["resize_size"] = max(crop_size, int(crop_size / crop_pct))
        return cls(**{**settings, **overrides})

    @classmethod
    def from_open_clip(cls, preprocess_cfg: Any, **overrides: Any) -> Preprocess:
        """From open_clip's ``PreprocessCfg`` (dataclass) or ``model.visual.preprocess_cfg`` dict.

        Reads ``size`` (int or square pair), ``mean``, ``std``, ``interpolation``; ``resize_mode``
        is ignored, the paper's shorter-side rule applies (it equals open_clip's ``shortest``).
        """
        config = (
            dataclasses.asdict(preprocess_cfg) if dataclasses.is_dataclass(preprocess_cfg) else dict(preprocess_cfg)
        )
        size = config.get("size")
        if size is None:
            raise UsageError(f"open_clip preprocess config has no size (keys: {', '.join(map(str, config))})")
        settings: dict[str, Any] = {
            "crop_size": size if isinstance(size, int) else _square_side(size, "size"),
            "mean": config.get("mean") or OPENAI_CLIP_MEAN,
            "std": config.get("std") or OPENAI_CLIP_STD,
            "interpolation": config.get("interpolation") or "bicubic",
        }
        return cls(**{**settings, **overrides})


def _triple(name: str, values: Any) -> tuple[float, float, float]:
    values = tuple(float(v) for v in values)
    if len(values) != 3:
        raise ValueError(f"{name} needs 3 values (R, G, B), got {values}")
    return values  # type: ignore[return-value]


def _square_side(size: Any, name: str) -> int:
    height, width = (int(v) for v in size)
    if height != width:
        raise UsageError(f"{name} {tuple(size)} is not square; the paper's centre crop is square")
    return height
