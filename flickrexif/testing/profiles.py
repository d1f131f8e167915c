"""Camera profiles for generated photos: the Exif a "camera" writes and how it renders pixels.

A :class:`CameraProfile` holds the IFD0, Exif and GPS tags its files carry (dates are a placeholder,
set per photo) and a :class:`Rendering`: tone, colour cast, noise, noise reduction, sharpening,
JPEG quality and subsampling, the acquisition traces the benchmark probes for.
:func:`builtin_profiles` gives a few cameras and phones, each with several exposure settings;
:func:`_sample_profiles` makes profiles from real sample files, with each file's own JPEG quality
and subsampling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from PIL import TiffImagePlugin

from flickrexif.exif.labels import is_smartphone
from flickrexif.exif.read import read_exif
from flickrexif.exif.tags import clean_text
from flickrexif.testing.getexif import _TAG_SPECS, _number, _read_ifds

__all__ = ["CameraProfile", "Rendering", "builtin_profiles"]


_PLACEHOLDER_DATE = "1999:12:31 23:59:58"  # same length as every Exif date: replaced in place
_SAMPLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".heic", ".heif"})
_DATE_TAGS = {"DateTimeOriginal", "CreateDate", "ModifyDate"}


# Built-in cameras: (make, model, software, lens, serial, fixed f-number, fixed focal mm, crop, GPS)
_BUILTIN_CAMERAS = (
    (
        "Canon",
        "Canon EOS 5D Mark II",
        "Adobe Photoshop Lightroom 4.3 (Windows)",
        "EF24-105mm f/4L IS USM",
        "0123456789",
        None,
        None,
        1.0,
        None,
    ),
    ("NIKON CORPORATION", "NIKON D750", "Ver.1.10", "24.0-120.0 mm f/4.0", "6012345", None, None, 1.0, None),
    ("SONY", "ILCE-7M3", "ILCE-7M3 v3.01", "FE 28-70mm F3.5-5.6 OSS", "", None, None, 1.0, None),
    ("FUJIFILM", "X-T3", "Digital Camera X-T3 Ver3.00", "XF18-55mmF2.8-4 R LM OIS", "", None, None, 1.5, None),
    ("OLYMPUS IMAGING CORP.", "E-M10", "Version 1.0", "OLYMPUS M.14-42mm F3.5-5.6 II R", "", None, None, 2.0, None),
    (
        "Apple",
        "iPhone 12",
        "14.4",
        "iPhone 12 back dual wide camera 4.2mm f/1.6",
        "",
        1.6,
        4.2,
        6.19,
        ((51, 1), (30, 1), (2646, 100), "N", (0, 1), (7, 1), (3900, 100), "W"),
    ),
    (
        "samsung",
        "SM-G991B",
        "G991BXXU3AUE1",
        "",
        "",
        1.8,
        5.4,
        4.8,
        ((48, 1), (51, 1), (2400, 100), "N", (2, 1), (21, 1), (700, 100), "E"),
    ),
    ("Google", "Pixel 4a", "HDR+ 1.0.345", "", "", 1.7, 4.4, 6.4, None),
)
# Built-in settings: (exposure (num, den), f-number, ISO, focal mm, Exif flash value, program)
_BUILTIN_SETTINGS = (
    ((1, 160), 7.1, 100, 135.0, 16, 3),
    ((1, 60), 4.0, 400, 35.0, 9, 2),
    ((1, 1000), 2.8, 200, 85.0, 16, 1),
    ((1, 30), 5.6, 1600, 24.0, 24, 2),
    ((1, 250), 8.0, 100, 50.0, 0, 3),
    ((2, 1), 11.0, 100, 18.0, 16, 1),
)


@dataclass(frozen=True)
class Rendering:
    """How a profile's "camera" turns a scene into a JPEG: the acquisition traces it leaves.

    Applied in the order of a camera pipeline: tone curve (``gamma``) and colour cast (``tint``,
    per-channel gains), Gaussian sensor noise (``noise``, standard deviation in 8-bit levels),
    noise reduction (``blur``, a Gaussian blur radius), sharpening (``sharpen_percent`` and
    ``sharpen_radius`` of an unsharp mask), then JPEG at ``quality`` (IJG tables) with
    ``subsampling`` ("4:4:4", "4:2:2" or "4:2:0").
    """

    quality: int = 92
    subsampling: str = "4:2:0"
    sharpen_percent: int = 0
    sharpen_radius: float = 1.0
    blur: float = 0.0
    noise: float = 2.0
    gamma: float = 1.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)


_SUBSAMPLING_CODES = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}  # Pillow's ``subsampling=``

# Per built-in model: phones sharpen hard after noise reduction and keep 4:2:0; interchangeable-lens
# cameras sharpen lightly, keep 4:2:2 (the Fujifilm 4:4:4) and more of the sensor's noise.
_BUILTIN_RENDERING = {
    "Canon EOS 5D Mark II": Rendering(
        quality=97,
        subsampling="4:2:2",
        sharpen_percent=40,
        sharpen_radius=1.0,
        noise=4.0,
        gamma=1.0,
        tint=(1.03, 1.0, 0.96),
    ),
    "NIKON D750": Rendering(
        quality=96,
        subsampling="4:2:2",
        sharpen_percent=50,
        sharpen_radius=0.8,
        noise=2.5,
        gamma=0.98,
        tint=(1.0, 1.02, 0.99),
    ),
    "ILCE-7M3": Rendering(
        quality=94,
        subsampling="4:2:2",
        sharpen_percent=30,
        sharpen_radius=0.8,
        noise=2.5,
        gamma=1.03,
        tint=(0.99, 1.0, 1.01),
    ),
    "X-T3": Rendering(
        quality=93,
        subsampling="4:4:4",
        sharpen_percent=45,
        sharpen_radius=1.2,
        noise=3.0,
        gamma=1.05,
        tint=(1.02, 1.0, 0.98),
    ),
    "E-M10": Rendering(
        quality=90,
        subsampling="4:2:2",
        sharpen_percent=60,
        sharpen_radius=0.9,
        noise=4.5,
        gamma=0.97,
        tint=(1.0, 0.99, 1.03),
    ),
    "iPhone 12": Rendering(
        quality=91,
        subsampling="4:2:0",
        sharpen_percent=140,
        sharpen_radius=1.2,
        blur=0.6,
        noise=2.0,
        gamma=0.9,
        tint=(1.0, 1.0, 1.03),
    ),
    "SM-G991B": Rendering(
        quality=95,
        subsampling="4:2:0",
        sharpen_percent=170,
        sharpen_radius=1.0,
        blur=0.7,
        noise=2.5,
        gamma=0.88,
        tint=(1.03, 1.02, 0.97),
    ),
    "Pixel 4a": Rendering(
        quality=88,
        subsampling="4:2:0",
        sharpen_percent=120,
        sharpen_radius=1.5,
        blur=0.5,
        noise=2.0,
        gamma=0.93,
        tint=(0.98, 1.0, 1.02),
    ),
}


def _iso_noise(base: float, iso: Any) -> float:
    """Sensor noise grows with ISO (base at ISO 100)."""
    value = _number(iso)
    return round(base * (max(50.0, value) / 100) ** 0.35, 2) if value else base


@dataclass(frozen=True)
class CameraProfile:
    """A camera for generated photos: the Exif tags its files carry and how it renders pixels.

    ``ifd0``, ``exif`` and ``gps`` hold IFD0, Exif sub-IFD and GPS tags by number (dates are a
    placeholder replaced per photo); ``rendering`` is its processing; ``source`` tells
    same-named profiles from different sample folders apart in the template cache.
    """

    name: str
    ifd0: Mapping[int, Any]
    exif: Mapping[int, Any]
    gps: Mapping[int, Any]
    source: str = "builtin"
    rendering: Rendering = Rendering()

    @property
    def make(self) -> str | None:
        return clean_text(self.ifd0.get(0x010F))

    @property
    def model(self) -> str | None:
        return clean_text(self.ifd0.get(0x0110))

    @property
    def is_smartphone(self) -> bool | None:
        return is_smartphone(self.make, self.model)


def _rational(numerator: float, denominator: int = 1) -> TiffImagePlugin.IFDRational:
    return TiffImagePlugin.IFDRational(numerator, denominator)


def _builtin_profile(camera: tuple, settings: tuple) -> CameraProfile:
    make, model, software, lens, serial, fixed_f, fixed_focal, crop, gps = camera
    (exp_num, exp_den), f_number, iso, focal, flash, program = settings
    f_number, focal = fixed_f or f_number, fixed_focal or focal
    exif = {
        0x829A: _rational(exp_num, exp_den),
        0x829D: _rational(round(f_number * 10), 10),
        0x8822: program,
        0x8827: iso,
        0x9003: _PLACEHOLDER_DATE,
        0x9004: _PLACEHOLDER_DATE,
        0x9209: flash,
        0x920A: _rational(round(focal * 10), 10),
        0xA405: round(focal * crop),
    }
    if lens:
        exif[0xA434] = lens
    if serial:
        exif[0xA431] = serial
    gps_ifd = {}
    if gps:
        lat_d, lat_m, lat_s, lat_ref, lon_d, lon_m, lon_s, lon_ref = gps
        gps_ifd = {
            0: b"\x02\x02\x00\x00",
            1: lat_ref,
            2: tuple(_rational(*part) for part in (lat_d, lat_m, lat_s)),
            3: lon_ref,
            4: tuple(_rational(*part) for part in (lon_d, lon_m, lon_s)),
        }
    ifd0 = {0x010F: make, 0x0110: model, 0x0112: 1, 0x0131: software, 0x0132: _PLACEHOLDER_DATE}
    base = _BUILTIN_RENDERING[model]
    rendering = replace(base, noise=_iso_noise(base.noise, iso))
    return CameraProfile(f"{model} {settings}", ifd0, exif, gps_ifd, rendering=rendering)


@lru_cache(maxsize=1)
def _builtin_profiles() -> tuple[CameraProfile, ...]:
    return tuple(_builtin_profile(camera, settings) for camera in _BUILTIN_CAMERAS for settings in _BUILTIN_SETTINGS)


def builtin_profiles() -> list[CameraProfile]:
    """The built-in profiles (each built-in camera with each of a few exposure settings).

    Each has ``name``, ``make``, ``model``, ``is_smartphone`` and ``rendering``; pass one (or
    its name) to :func:`render_photo`.
    """
    return list(_builtin_profiles())


def _hashed_unit(*parts: object) -> float:
    """A stable number in [0, 1) from ``parts`` (independent of Python's hash randomisation)."""
    digest = hashlib.sha1("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32


def _sample_rendering(path: Path, make: str | None, model: str | None, iso: Any) -> Rendering:
    """A sample file's rendering: its own JPEG quality and subsampling, the rest from make+model."""
    try:
        record = read_exif(path)
        quality, subsampling = record.jpeg_quality, record.chroma_subsampling
    except Exception:  # noqa: BLE001 - an unreadable sample still gets a rendering
        quality, subsampling = None, None
    phone = bool(is_smartphone(make, model))

    def unit(what: str) -> float:
        return _hashed_unit(what, make, model)

    if quality is None:
        quality = round((86 if phone else 88) + 10 * unit("quality"))
    if subsampling not in _SUBSAMPLING_CODES:
        subsampling = "4:2:0" if phone else "4:2:2"
    if phone:
        sharpen, blur, noise, gamma = 100 + 80 * unit("sharpen"), 0.4 + 0.4 * unit("blur"), 1.5 + unit("noise"), 0.88
    else:
        sharpen, blur, noise, gamma = 20 + 50 * unit("sharpen"), 0.0, 2.5 + 2.5 * unit("noise"), 1.0
    tint = tuple(round(0.97 + 0.06 * unit(f"tint{channel}"), 3) for channel in range(3))
    return Rendering(
        quality=max(30, min(100, quality)),
        subsampling=subsampling,
        sharpen_percent=round(sharpen),
        sharpen_radius=round(0.8 + 0.8 * unit("radius"), 2),
        blur=round(blur, 2),
        noise=_iso_noise(round(noise, 2), iso),
        gamma=round(gamma + 0.12 * unit("gamma"), 3),
        tint=tint,
    )  # type: ignore[arg-type]


@lru_cache(maxsize=8)
def _sample_profiles(root: str) -> tuple[CameraProfile, ...]:
    """Profiles from the real sample files under ``root`` that have a Make (sorted by path)."""
    profiles = []
    for path in sorted(Path(root).rglob("*")):
        if path.suffix.lower() not in _SAMPLE_SUFFIXES or not path.is_file():
            continue
        ifds = _read_ifds(path)
        if not clean_text(ifds["IFD0"].get(0x010F)):
            continue
        wanted = {space: {spec.number for spec in _TAG_SPECS if spec.space == space} for space in ifds}
        picked = {space: {n: v for n, v in ifds[space].items() if n in wanted[space]} for space in ifds}
        picked["ExifIFD"][0x9003] = _PLACEHOLDER_DATE
        for space, number in (("ExifIFD", 0x9004), ("IFD0", 0x0132)):
            if number in picked[space]:
                picked[space][number] = _PLACEHOLDER_DATE
        name = str(path.relative_to(root))
        rendering = _sample_rendering(
            path,
            clean_text(ifds["IFD0"].get(0x010F)),
            clean_text(ifds["IFD0"].get(0x0110)),
            ifds["ExifIFD"].get(0x8827),
        )
        profiles.append(
            CameraProfile(name, picked["IFD0"], picked["ExifIFD"], picked["GPS"], source=str(path), rendering=rendering)
        )
    return tuple(profiles)
