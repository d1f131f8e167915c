"""Processing labels: the image processings whose traces the probes look for (paper protocol).

Four families, each a list of classes in label order (:data:`FAMILIES`):

* ``jpeg``: quality {75, 85, 95} x chroma {4:2:0, 4:4:4}, e.g. ``q75-420``; the class *is* the
  final encode.
* ``sharpening``: ``none``, ``sharpness-x2``, ``sharpness-x4`` (``PIL.ImageEnhance.Sharpness``).
* ``resizing``: ``none``, ``resize-x0.5``, ``resize-x2`` (bilinear, as the released code's ``Rescale``).
* ``interpolation``: ``bilinear``, ``bicubic``, ``lanczos``, ``box``: a resize by a factor drawn
  uniformly in [0.8, 1.2] with that kernel.

Every non-JPEG class ends with a JPEG re-encode at quality 95, 4:4:4, so all classes of a family
share their last compression and only the processing differs; ``none`` is that re-encode alone.
The result is decoded back to RGB, which is what an encoder sees.

Decisions (recorded here because results depend on them):

* Modes: input in any mode is made RGB by :func:`to_rgb`. Alpha is composited on **white** (how
  a viewer shows a transparent photo on a page); 16-bit grey (``I;16``, ``I``) is scaled to 8 bits
  (``v / 257``) rather than clipped; CMYK uses Pillow's plain conversion (no ICC profile).
* Orientation: nothing here applies the Exif orientation; the re-encoded JPEG carries no Exif, so
  the caller decides once, on the source (:func:`open_rgb` ``exif_transpose``, default off like
  the paper's loader, which opens with PIL and converts to RGB).
* Sizes: a resize by ``f`` gives ``max(1, int(side * f))`` pixels per side, truncated as the released
  code's ``Rescale`` does (``int(W * scale)``); the processed image keeps its new size (the encoder's
  own resize follows anyway).
* Randomness: the interpolation factor is a hash of ``(seed, image id)``, so it is reproducible
  and independent of processing order; all four interpolation classes of one image share it, so
  the only difference between them is the kernel.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from benchmark.choices import Family
from benchmark.errors import UsageError

register_heif_opener()  # PairCams and phone photos are often HEIC

RngKey = tuple[int, str] | int
Resampling = Image.Resampling

INTERPOLATION_SCALE_RANGE = (0.8, 1.2)
RESIZE_INTERPOLATION = Resampling.BILINEAR  # the released code's Rescale default
ALPHA_BACKGROUND = (255, 255, 255)


@dataclass(frozen=True)
class JpegEncoding:
    """One JPEG encode: IJG quality (libjpeg tables, as Pillow writes them) and chroma layout."""

    quality: int
    subsampling: str  # "4:2:0" or "4:4:4", as flickrexif.exif.jpeg.chroma_subsampling names them

    def encode(self, image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=self.quality, subsampling=_PILLOW_SUBSAMPLING[self.subsampling])
        return buffer.getvalue()


_PILLOW_SUBSAMPLING = {"4:4:4": 0, "4:2:0": 2}
FINAL_ENCODING = JpegEncoding(95, "4:4:4")
"""The re-encode after every non-JPEG processing ("none" is this alone)."""

Transform = Callable[[Image.Image, tuple[int, str], dict], Image.Image]
"""(source RGB, (seed, image id), work shared by the classes made from this source) -> pixels."""


@dataclass(frozen=True)
class ProcessingClass:
    """A class of a family: a pixel transform, then one JPEG encode."""

    family: str
    name: str
    transform: Transform
    encoding: JpegEncoding


@dataclass(frozen=True)
class Processed:
    """A processed image: decoded RGB pixels plus the JPEG bytes they came from."""

    image: Image.Image
    data: bytes
    family: str
    class_name: str


# ---------------------------------------------------------------------------------------------
# Seeded draws: a hash of (purpose, seed, id), so a draw depends on nothing else.


def _normalise_key(rng_key: RngKey) -> tuple[int, str]:
    """``(seed, image_id)``; a bare int ``n`` means ``(n, "")``."""
    if isinstance(rng_key, tuple):
        seed, image_id = rng_key
        return int(seed), str(image_id)
    return int(rng_key), ""


def _unit_draw(purpose: str, seed: int, image_id: str) -> float:
    """A uniform number in [0, 1) from a 64-bit hash; different purposes give independent draws."""
    digest = hashlib.blake2b(f"{purpose}\0{seed}\0{image_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def interpolation_scale(rng_key: RngKey) -> float:
    """The resize factor of the interpolation family for one image, uniform in [0.8, 1.2]."""
    seed, image_id = _normalise_key(rng_key)
    low, high = INTERPOLATION_SCALE_RANGE
    return low + (high - low) * _unit_draw("interpolation-scale", seed, image_id)


def scaled_size(size: tuple[int, int], factor: float) -> tuple[int, int]:
    """``(width, height)`` times ``factor``, truncated (the released code's ``int()``), at least one pixel."""
    return tuple(max(1, int(side * factor)) for side in size)  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# The transforms, one small function each.


def _identity(image: Image.Image, _key: tuple[int, str], _shared: dict) -> Image.Image:
    return image


def _sharpen(factor: float) -> Transform:
    def sharpen(image: Image.Image, _key: tuple[int, str], shared: dict) -> Image.Image:
        # the enhancer holds the source's blur: both sharpness classes of one source share it
        if "sharpness" not in shared:
            shared["sharpness"] = ImageEnhance.Sharpness(image)
        return shared["sharpness"].enhance(factor)

    return sharpen


def _rescale(factor: float, resample: Resampling) -> Transform:
    return lambda image, _key, _shared: image.resize(scaled_size(image.size, factor), resample)


def _random_rescale(resample: Resampling) -> Transform:
    return lambda image, key, _shared: image.resize(scaled_size(image.size, interpolation_scale(key)), resample)


def _family(family: str, steps: Mapping[str, tuple[Transform, JpegEncoding]]) -> dict[str, ProcessingClass]:
    return {name: ProcessingClass(family, name, transform, encoding) for name, (transform, encoding) in steps.items()}


_CLASSES: dict[str, dict[str, ProcessingClass]] = {
    "jpeg": _family(
        "jpeg",
        {
            f"q{quality}-{chroma.replace(':', '')}": (_identity, JpegEncoding(quality, chroma))
            for quality in (75, 85, 95)
            for chroma in ("4:2:0", "4:4:4")
        },
    ),
    "sharpening": _family(
        "sharpening",
        {
            "none": (_identity, FINAL_ENCODING),
            "sharpness-x2": (_sharpen(2.0), FINAL_ENCODING),
            "sharpness-x4": (_sharpen(4.0), FINAL_ENCODING),
        },
    ),
    "resizing": _family(
        "resizing",
        {
            "none": (_identity, FINAL_ENCODING),
            "resize-x0.5": (_rescale(0.5, RESIZE_INTERPOLATION), FINAL_ENCODING),
            "resize-x2": (_rescale(2.0, RESIZE_INTERPOLATION), FINAL_ENCODING),
        },
    ),
    "interpolation": _family(
        "interpolation",
        {
            "bilinear": (_random_rescale(Resampling.BILINEAR), FINAL_ENCODING),
            "bicubic": (_random_rescale(Resampling.BICUBIC), FINAL_ENCODING),
            "lanczos": (_random_rescale(Resampling.LANCZOS), FINAL_ENCODING),
            "box": (_random_rescale(Resampling.BOX), FINAL_ENCODING),
        },
    ),
}

FAMILIES: dict[str, tuple[str, ...]] = {family: tuple(classes) for family, classes in _CLASSES.items()}
"""Family name -> class names in label order (the label index is the position)."""


assert tuple(Family) == tuple(FAMILIES), "every family is a choice"


def processing_class(family: str, class_name: str) -> ProcessingClass:
    """Look a class up; unknown names raise a ``UsageError`` listing the valid ones."""
    classes = _family_classes(family)
    if class_name not in classes:
        raise UsageError(f"unknown {family} class {class_name!r}; valid: {', '.join(classes)}")
    return classes[class_name]


def processing_operation(family: str, class_name: str) -> tuple[Transform, JpegEncoding]:
    """What a class does to the pixels: equal for classes that give the same image (each family's
    ``none`` and ``jpeg/q95-444`` are the same re-encode)."""
    step = processing_class(family, class_name)
    return step.transform, step.encoding


def _family_classes(family: str) -> dict[str, ProcessingClass]:
    if family not in _CLASSES:
        raise UsageError(f"unknown processing family {family!r}; valid: {', '.join(_CLASSES)}")
    return _CLASSES[family]


# ---------------------------------------------------------------------------------------------
# Colour modes and loading.


def to_rgb(image: Image.Image) -> Image.Image:
    """The image as 8-bit RGB (returned unchanged when it already is); see the module notes."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        grey = np.asarray(image, dtype=np.float64) / 257.0  # 0..65535 -> 0..255
        return Image.fromarray(np.clip(np.rint(grey), 0, 255).astype(np.uint8), "L").convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "La", "RGBa", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*ALPHA_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


# Pillow refuses images above twice its MAX_IMAGE_PIXELS (89.5 MP) as decompression bombs and warns
# between the two; trace-bench decodes up to that refusal, without the warning, and also refuses
# extreme aspect ratios: the encoder's resize sets the *shorter* side, so a 150000 x 1 PNG of 500 bytes
# would become 224 x 33.6 million pixels.  Both are checked from the header, before any pixel is decoded.
MAX_PIXELS = 2 * Image.MAX_IMAGE_PIXELS
MAX_ASPECT = 100
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class UnreadableImage(UsageError):
    """An image that cannot be decoded or is refused; extraction records it on the item and goes on."""


def check_size(width: int, height: int) -> None:
    """Refuse sizes whose decoding or resizing would take unbounded memory (see :data:`MAX_PIXELS`)."""
    if width < 1 or height < 1:
        raise UnreadableImage(f"an empty image ({width}x{height} pixels)")
    if width * height > MAX_PIXELS:
        raise UnreadableImage(
            f"{width}x{height} pixels ({width * height / 1e6:.0f} MP) is above the {MAX_PIXELS / 1e6:.0f} MP "
            "decompression-bomb limit"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise UnreadableImage(
            f"{width}x{height} pixels: an aspect ratio above {MAX_ASPECT}:1, which the encoder's resize of the "
            "shorter side would blow up"
        )


def open_rgb(source: str | Path | bytes, *, exif_transpose: bool = False) -> Image.Image:
    """Decode a file (path or bytes) to RGB pixels, optionally applying its Exif orientation.

    What cannot be decoded (not an image, truncated, a decompression bomb, an extreme aspect ratio)
    raises :class:`UnreadableImage` with the reason.
    """
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            check_size(*image.size)
            image.load()
            if exif_transpose:
                image = ImageOps.exif_transpose(image)
            rgb = to_rgb(image)
            return rgb.copy() if rgb is image else rgb
    except UnreadableImage:
        raise
    except UnidentifiedImageError:
        raise UnreadableImage("not an image Pillow can read") from None
    except Image.DecompressionBombError as error:  # Pillow's own check, in Image.open, above MAX_PIXELS
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(claimed[1]) / 1e6:.0f} MP" if claimed else "its size"
        raise UnreadableImage(f"{size} is above the {MAX_PIXELS / 1e6:.0f} MP decompression-bomb limit") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise UnreadableImage(_first_line(error)) from None


def _first_line(error: BaseException) -> str:
    return (str(error) or type(error).__name__).splitlines()[0]


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image if image.mode == "RGB" else image.convert("RGB")


# ---------------------------------------------------------------------------------------------
# The public entry points.


def _apply(rgb: Image.Image, step: ProcessingClass, key: tuple[int, str], shared: dict | None = None) -> Processed:
    data = step.encoding.encode(step.transform(rgb, key, {} if shared is None else shared))
    return Processed(_decode(data), data, step.family, step.name)


def process_encoded(image: Image.Image, family: str, class_name: str, *, rng_key: RngKey = 0) -> Processed:
    """Apply one class and keep the JPEG bytes as well as the decoded pixels."""
    step = processing_class(family, class_name)
    return _apply(to_rgb(image), step, _normalise_key(rng_key))


def process(image: Image.Image, family: str, class_name: str, *, rng_key: RngKey = 0) -> Image.Image:
    """Apply one class of ``family`` to ``image``; returns the decoded RGB result.

    ``rng_key`` is ``(seed, image_id)`` (or a bare seed) and only matters for random classes.
    """
    return process_encoded(image, family, class_name, rng_key=rng_key).image


def process_all_encoded(image: Image.Image, family: str, *, rng_key: RngKey = 0) -> dict[str, Processed]:
    """Every class of ``family`` from one decoded source, bytes included."""
    classes = _family_classes(family)
    rgb, key, shared = to_rgb(image), _normalise_key(rng_key), {}
    return {name: _apply(rgb, step, key, shared) for name, step in classes.items()}


def process_all(image: Image.Image, family: str, *, rng_key: RngKey = 0) -> dict[str, Image.Image]:
    """Every class of ``family`` (label order) from one decoded source: decode once, make all."""
    return {name: result.image for name, result in process_all_encoded(image, family, rng_key=rng_key).items()}


def process_many(
    image: Image.Image, classes: Iterable[tuple[str, str]], *, rng_key: RngKey = 0
) -> dict[tuple[str, str], Image.Image]:
    """``(family, class)`` -> :func:`process` of each, every distinct processing made once.

    Classes that are the same operation share one result (``jpeg/q95-444``, ``sharpening/none`` and
    ``resizing/none`` are all the final re-encode alone), and both sharpness classes one blur.
    """
    rgb, key, shared = to_rgb(image), _normalise_key(rng_key), {}
    made: dict[tuple[Transform, JpegEncoding], Image.Image] = {}
    out = {}
    for family, class_name in classes:
        operation = processing_operation(family, class_name)
        if operation not in made:
            made[operation] = _apply(rgb, processing_class(family, class_name), key, shared).image
        out[(family, class_name)] = made[operation]
    return out


def assign_train_classes(image_ids: Sequence[str], family: str, seed: int) -> list[str]:
    """One class per training image, uniform over the family, from a hash of ``(seed, id)``.

    The draw of an image depends only on its id and the seed, never on list order or length,
    so adding images to a split leaves the others' classes unchanged.
    """
    names = tuple(_family_classes(family))
    draws = (_unit_draw(f"train-class/{family}", int(seed), str(image_id)) for image_id in image_ids)
    return [names[int(draw * len(names))] for draw in draws]
