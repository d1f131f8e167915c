"""Photos made from nothing: a seeded scene shot through a camera profile, with the profile's Exif.

A scene (gradients, texture, shapes and lines, all seeded) is seen through a profile: a small
seeded shift of the view, then the profile's :class:`~flickrexif.testing.profiles.Rendering`
(tone, noise, noise reduction, sharpening), then JPEG at its quality and subsampling with its
Exif; :func:`render_photo` is the public way in.  Each profile's Exif block and getExif items are
made once per size, with placeholder dates, and dated per photo: generating thousands of photos
stays fast.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from flickrexif.testing.getexif import _EXIF_IFD, _GPS_IFD, exif_items_from_file
from flickrexif.testing.profiles import (
    _PLACEHOLDER_DATE,
    _SUBSAMPLING_CODES,
    CameraProfile,
    Rendering,
    _builtin_profiles,
    _hashed_unit,
)

__all__ = ["DEFAULT_PHOTO_SIZE", "render_photo"]

LOG = logging.getLogger(__name__)


DEFAULT_PHOTO_SIZE = (96, 64)  # small: tests generate thousands of photos


@dataclass(frozen=True)
class _Template:
    """What every photo of one profile and size shares: its Exif block (placeholder dates) and items."""

    exif: bytes
    items: tuple[dict, ...]
    width: int
    height: int


_SCENE_MARGIN = 0.03  # share of the short side a render may shift its view by, each way
_NOISE_SIDE = 200  # unit Gaussian noise is cut from a seeded bank, much faster than drawing it per photo


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """Read-only unit Gaussian noise, (_NOISE_SIDE, _NOISE_SIDE, 3) float32, the same on every machine."""
    bank = np.random.default_rng(20240607).standard_normal((_NOISE_SIDE, _NOISE_SIDE, 3), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def _unit_noise(rng: np.random.Generator, height: int, width: int, channels: int) -> np.ndarray:
    """Unit Gaussian noise of shape (height, width, channels): a seeded window of the bank when it fits."""
    if height > _NOISE_SIDE or width > _NOISE_SIDE:
        return rng.standard_normal((height, width, channels), dtype=np.float32)
    top, left = (int(v) for v in rng.integers(0, (_NOISE_SIDE - height + 1, _NOISE_SIDE - width + 1)))
    flip = rng.integers(0, 4)  # four orientations of each window
    window = _noise_bank()[top : top + height, left : left + width, :channels]
    return window[:: 1 if flip & 1 else -1, :: 1 if flip & 2 else -1]


def _scene(seed: int, size: tuple[int, int], subject: int | None = None) -> Image.Image:
    """A procedurally generated RGB scene seeded by ``seed``: gradients, soft texture, shapes, lines, and
    with ``subject`` that subject in front (:func:`_draw_subject`)."""
    rng = np.random.default_rng(seed)
    width, height = size
    # The smooth part (two gradients and blobs of colour) is made at a quarter of the size and
    # scaled up; channels first, so numpy's inner loops run along rows rather than over 3 channels.
    small_w, small_h = max(2, -(-width // 4)), max(2, -(-height // 4))
    xs = np.linspace(0, 1, small_w, dtype=np.float32)[None, None, :]
    ys = np.linspace(0, 1, small_h, dtype=np.float32)[None, :, None]
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.float32(np.cos(angle)) * xs + np.float32(np.sin(angle)) * ys
    ramp = (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    top, bottom, second = (rng.uniform(20, 235, (3, 1, 1)).astype(np.float32) for _ in range(3))
    image = (top + (bottom - top) * ys) * np.float32(0.6)  # a sky-to-ground gradient...
    image = image + (top + (second - top) * ramp) * np.float32(0.4)  # ...and one in a random direction
    coarse = rng.normal(0, 1, (4, 5)).astype(np.float32)
    blobs = np.asarray(Image.fromarray(coarse).resize((small_w, small_h), Image.Resampling.BILINEAR))[None]
    image = image + (18 * rng.uniform(0.5, 1.5, (3, 1, 1))).astype(np.float32) * blobs
    smooth = Image.fromarray(np.ascontiguousarray(np.clip(image, 0, 255).astype(np.uint8).transpose(1, 2, 0)))
    pixels = np.asarray(smooth.resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    pixels += _unit_noise(rng, height, width, 3) * np.float32(4)  # fine grain, as grass or sand
    picture = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(picture)
    shapes, lines = int(rng.integers(3, 7)), int(rng.integers(1, 4))
    colours = [tuple(colour) for colour in rng.integers(0, 256, (shapes + lines, 3)).tolist()]
    corners = (rng.uniform(-0.1, 1.0, (shapes, 2)) * (width, height)).tolist()
    extents = (rng.uniform(0.1, 0.5, (shapes, 2)) * min(width, height)).tolist()
    for (x, y), (w, h), kind, colour in zip(corners, extents, rng.integers(0, 3, shapes).tolist(), colours):
        if kind == 0:
            draw.ellipse((x, y, x + w, y + h), fill=colour)
        elif kind == 1:
            draw.rectangle((x, y, x + w, y + h), fill=colour)
        else:
            draw.polygon([(x, y + h), (x + w / 2, y), (x + w, y + h)], fill=colour)
    ends = (rng.uniform(0, 1, (lines, 4)) * (width, height, width, height)).tolist()
    for points, thickness, colour in zip(ends, rng.integers(1, 4, lines).tolist(), colours[shapes:]):
        draw.line(points, fill=colour, width=thickness)
    if subject is not None:  # drawn last, from the scene's generator: scenes without a subject are unchanged
        _draw_subject(draw, subject, rng, size)
    return picture


def _draw_subject(draw: ImageDraw.ImageDraw, subject: int, rng: np.random.Generator, size: tuple[int, int]) -> None:
    """What a labelled photo is of: a subject whose shape and colours are fixed by ``subject`` (the same
    in every photo of it) and whose place and size vary with the scene, as a class of a labelled set."""
    looks = np.random.default_rng([7919, subject])
    width, height = size
    body, spots = (tuple(int(c) for c in looks.integers(0, 256, 3)) for _ in range(2))
    sides = int(looks.integers(3, 9))  # a polygon of 3..8 sides; 8 reads as a disc
    radius = float(rng.uniform(0.12, 0.2)) * min(width, height)
    cx, cy = (float(rng.uniform(radius, side - radius)) for side in (width, height))
    turn = float(looks.uniform(0, 2 * np.pi))
    corners = [
        (cx + radius * np.cos(turn + 2 * np.pi * i / sides), cy + radius * np.sin(turn + 2 * np.pi * i / sides))
        for i in range(sides)
    ]
    draw.polygon(corners, fill=body)
    stripes = int(looks.integers(1, 4))
    for i in range(stripes):  # a pattern on the subject, as fur or a marking
        offset = radius * (2 * (i + 1) / (stripes + 1) - 1) * 0.7
        draw.line((cx - 0.6 * radius, cy + offset, cx + 0.6 * radius, cy + offset), fill=spots, width=3)


@lru_cache(maxsize=256)
def _tone_table(gamma: float, tint: tuple[float, float, float]) -> tuple[int, ...]:
    """A per-channel lookup table for ``Image.point`` applying the tone curve and colour cast."""
    levels = (np.arange(256) / 255) ** gamma * 255
    return tuple(np.clip(np.rint(np.asarray(tint)[:, None] * levels), 0, 255).astype(int).ravel().tolist())


def _rendered(
    scene_seed: int, rendering: Rendering, view_seed: int, size: tuple[int, int], subject: int | None = None
) -> Image.Image:
    """The scene seen through a camera: a seeded small shift of the view, then the rendering's pipeline."""
    width, height = size
    margin = max(1, round(_SCENE_MARGIN * min(size)))
    scene = _scene(scene_seed, (width + 2 * margin, height + 2 * margin), subject)
    rng = np.random.default_rng(view_seed)
    left, top = (int(v) for v in rng.integers(0, 2 * margin + 1, 2))
    image = scene.crop((left, top, left + width, top + height)).point(_tone_table(rendering.gamma, rendering.tint))
    if rendering.noise:
        pixels = np.asarray(image)
        noisy = _unit_noise(rng, height, width, 3) * np.float32(rendering.noise)
        noisy += pixels
        noisy += np.float32(0.5)
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    if rendering.blur:
        image = image.filter(ImageFilter.GaussianBlur(rendering.blur))
    if rendering.sharpen_percent:
        image = image.filter(ImageFilter.UnsharpMask(rendering.sharpen_radius, rendering.sharpen_percent, 0))
    return image


def _jpeg(image: Image.Image, rendering: Rendering, exif: bytes | None) -> bytes:
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=rendering.quality,
        subsampling=_SUBSAMPLING_CODES[rendering.subsampling],
        **({"exif": exif} if exif is not None else {}),
    )
    return out.getvalue()


def _pixels(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A seeded scene as uint8 RGB (height, width, 3): what a photo without an original shows."""
    return np.asarray(_scene(seed, size))


def _exif_block(ifd0: Mapping[int, Any], exif_ifd: Mapping[int, Any], gps: Mapping[int, Any]) -> Image.Exif:
    """Pillow Exif from the three IFDs (sub-IFDs only when not empty)."""
    block = Image.Exif()
    for number, value in ifd0.items():
        block[number] = value
    if exif_ifd:
        block[_EXIF_IFD] = dict(exif_ifd)
    if gps:
        block[_GPS_IFD] = dict(gps)
    return block


def _writable(ifds: tuple[Mapping[int, Any], ...]) -> bool:
    try:
        _exif_block(*ifds).tobytes()
    except Exception:  # noqa: BLE001 - Pillow rejects some odd value types found in samples
        return False
    return True


def _writable_alone(position: int, number: int, value: Any) -> bool:
    """Whether Pillow can write this one tag, alone in its IFD (0 IFD0, 1 Exif, 2 GPS)."""
    ifds: list[Mapping[int, Any]] = [{}, {}, {}]
    ifds[position] = {number: value}
    return _writable(tuple(ifds))


def _profile_exif(profile: CameraProfile, size: tuple[int, int]) -> Image.Exif:
    """Pillow Exif for a profile and file size; tags Pillow cannot write are left out."""
    ifds = (dict(profile.ifd0), {**profile.exif, 0xA002: size[0], 0xA003: size[1]}, dict(profile.gps))
    if not _writable(ifds):
        LOG.debug("leaving unwritable tags of %s out", profile.name)
        ifds = tuple(
            {number: value for number, value in ifd.items() if _writable_alone(position, number, value)}
            for position, ifd in enumerate(ifds)
        )
    return _exif_block(*ifds)


_template_cache: dict[tuple[str, str, tuple[int, int]], _Template] = {}
_template_lock = threading.Lock()


def _template(profile: CameraProfile, size: tuple[int, int]) -> _Template:
    key = (profile.source, profile.name, size)
    with _template_lock:
        cached = _template_cache.get(key)
    if cached is not None:
        return cached
    exif = _profile_exif(profile, size).tobytes()
    data = _jpeg(Image.new("RGB", size), profile.rendering, exif)
    template = _Template(exif, tuple(exif_items_from_file(data)), *size)
    with _template_lock:
        _template_cache[key] = template
    return template


def _date_text(taken: datetime) -> str:
    return taken.strftime("%Y:%m:%d %H:%M:%S")


def _dated(template: _Template, taken: datetime) -> tuple[bytes, list[dict]]:
    """The template's Exif block and items with every placeholder date set to ``taken``."""
    text = _date_text(taken)
    exif = template.exif.replace(_PLACEHOLDER_DATE.encode(), text.encode())
    items = []
    for item in template.items:
        copy = {key: (dict(value) if isinstance(value, dict) else value) for key, value in item.items()}
        if copy["raw"]["_content"] == _PLACEHOLDER_DATE:
            copy["raw"]["_content"] = text
        items.append(copy)
    return exif, items


def _view_seed(scene_seed: int, profile: CameraProfile, taken: datetime) -> int:
    """Seeds a render's view shift and noise: one scene shot by two cameras is seen a little differently."""
    return int(_hashed_unit("view", scene_seed, profile.source, profile.name, _date_text(taken)) * 2**32)


def _photo_file(
    scene_seed: int,
    profile: CameraProfile,
    taken: datetime,
    size: tuple[int, int],
    with_exif: bool = True,
    subject: int | None = None,
) -> tuple[bytes, list[dict]]:
    """One photo's JPEG (the scene through the profile) and its getExif items (``[]`` without Exif)."""
    image = _rendered(scene_seed, profile.rendering, _view_seed(scene_seed, profile, taken), size, subject)
    if not with_exif:
        return _jpeg(image, profile.rendering, None), []
    exif, items = _dated(_template(profile, size), taken)
    return _jpeg(image, profile.rendering, exif), items


def render_photo(
    scene_seed: int,
    profile: CameraProfile | str,
    taken: datetime,
    size: tuple[int, int] = DEFAULT_PHOTO_SIZE,
    subject: int | None = None,
) -> bytes:
    """The scene ``scene_seed`` shot with ``profile`` at ``taken``, as JPEG bytes with the profile's Exif.

    ``profile`` is a :class:`CameraProfile` (see :func:`builtin_profiles`) or a built-in
    profile's name.  The same scene through two profiles shows the same subject, from a
    slightly shifted view, with each profile's processing (tone, noise, noise reduction,
    sharpening, JPEG quality and subsampling) and its Make, Model and DateTimeOriginal = ``taken``.
    ``subject`` puts a subject in front of the scene, the same shape and colours in every photo of that
    subject (a class of a labelled set, :mod:`flickrexif.testing.labelled`); ``None`` leaves the scene as it is.
    Deterministic: the same arguments give the same bytes.
    """
    if isinstance(profile, str):
        named = {candidate.name: candidate for candidate in _builtin_profiles()}
        if profile not in named:
            raise ValueError(f"no built-in profile named {profile!r}")
        profile = named[profile]
    return _photo_file(scene_seed, profile, taken, (int(size[0]), int(size[1])), subject=subject)[0]
