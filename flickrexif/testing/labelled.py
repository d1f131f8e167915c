"""A labelled photo set whose classes follow the camera, or not: a planted confound and its control.

:func:`labelled_photos` writes ``ROOT/<class>/<class>-NNN.jpg``: every photo is its own scene with its
class's subject in front (:func:`~flickrexif.testing.render.render_photo` ``subject=``), shot through a
built-in camera profile with that profile's Exif and processing (tone, noise, sharpening, JPEG quality
and subsampling).  ``confound`` is the share of each class's photos shot with the class's own cameras:
the phones are dealt to the first half of the classes and the other cameras to the second half (with
two classes: phones against cameras).  The other photos are dealt from all eight built-in cameras in
turn, so ``confound=0`` gives every class every camera, in equal numbers when ``per_class`` is a
multiple of 8 (the control: camera and class independent), and ``confound=1`` each class only its
own.  Shares are exact, never drawn, and the same arguments give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flickrexif.testing.profiles import CameraProfile, _builtin_profiles
from flickrexif.testing.render import render_photo

__all__ = ["LabelledPhoto", "labelled_photos"]

DEFAULT_CLASSES = ("husky", "wolf")
LABELLED_PHOTO_SIZE = (192, 144)  # large enough that each profile's traces survive an encoder's resize


@dataclass(frozen=True)
class LabelledPhoto:
    """One written photo: its class, file, and the camera model that shot it."""

    label: str
    path: Path
    model: str
    own_camera: bool  # shot with one of its class's own cameras


def _own_cameras(classes: Sequence[str]) -> list[list[str]]:
    """The camera models of each class: phones round-robin to the first half, cameras to the second."""
    models = list(dict.fromkeys(p.model for p in _builtin_profiles()))
    phones = [m for m in models if _kind(m)]
    cameras = [m for m in models if not _kind(m)]
    half = max(1, len(classes) // 2)
    own: list[list[str]] = [[] for _ in classes]
    for i, model in enumerate(phones):
        own[i % half].append(model)
    rest = range(half, len(classes)) if len(classes) > 1 else range(1)
    for i, model in enumerate(cameras):
        own[rest[i % len(rest)]].append(model)
    return own


def _kind(model: str) -> bool:
    return bool(next(p for p in _builtin_profiles() if p.model == model).is_smartphone)


def _profile(model: str, shot: int) -> CameraProfile:
    """The ``shot``-th setting of a built-in camera model (its settings in turn)."""
    settings = [p for p in _builtin_profiles() if p.model == model]
    return settings[shot % len(settings)]


def labelled_photos(
    root: str | Path,
    *,
    classes: Sequence[str] = DEFAULT_CLASSES,
    per_class: int = 40,
    confound: float = 0.8,
    seed: int = 0,
    size: tuple[int, int] = LABELLED_PHOTO_SIZE,
) -> list[LabelledPhoto]:
    """Write the labelled set under ``root`` (see the module notes) and return what was written."""
    if not 0.0 <= confound <= 1.0:
        raise ValueError(f"confound is a share of each class's photos, in [0, 1]; got {confound}")
    if len(classes) < 1 or len(set(classes)) != len(classes) or per_class < 1:
        raise ValueError("give distinct class names and at least one photo per class")
    root = Path(root)
    models = list(dict.fromkeys(p.model for p in _builtin_profiles()))
    own = _own_cameras(classes)
    written = []
    for c, name in enumerate(classes):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        owned = round(confound * per_class)
        for j in range(per_class):
            # own cameras first, then every camera in turn (offset by class, so each class gets them all)
            model = own[c][j % len(own[c])] if j < owned else models[(j + c) % len(models)]
            taken = datetime(2023, 1, 1) + timedelta(hours=c * per_class + j)
            data = render_photo(seed * 100_000 + c * 1000 + j, _profile(model, j), taken, size, subject=seed + c)
            path = folder / f"{name}-{j:03d}.jpg"
            path.write_bytes(data)
            written.append(LabelledPhoto(name, path, model, model in own[c]))
    return written
