"""Photos → candidate pairs: read and validate each file, then pair by subject folder or capture time.

Kept apart from the ingest run (:mod:`paircams.ingest` walks the folder, keeps the ids, writes the
output) so the rules can be read, changed and tested on their own; it never imports ingest and reads
the settings it needs through :class:`PairingRules`.

**Layouts** (``--layout auto`` picks *folders* when a sub-folder of ``DIR`` holds a photo, else *flat*):

* *folders*: every top-level sub-folder of ``DIR`` is one subject; its photos (searched recursively,
  so ``subject/phone/x.jpg`` + ``subject/camera/y.jpg`` works) must be exactly two usable photos.
  One usable photo → *unpaired* (missing partner); three or more → *ambiguous* (nothing is guessed;
  keep exactly two).  Photos directly in ``DIR`` are *unpaired* (not in a subject folder).
* *flat*: photos anywhere under ``DIR`` are paired by their Exif capture time (``DateTimeOriginal``,
  else ``DateTimeDigitized``).  Two photos are *candidates* when their times differ by at most the
  tolerance (default 120 s) and they form a valid pair (below).  Candidate links form groups; a
  group of exactly two is a pair, a larger group is *ambiguous* (e.g. a phone shot with two camera
  shots within the tolerance: which camera shot belongs to it cannot be told).  A photo with no
  candidate is *invalid* when its only neighbours in time make an invalid pair (two phones, the
  same device twice), and *unpaired* otherwise (no capture time, or no photo from another device
  within the tolerance).  Device clocks are trusted as they are: set the tolerance to cover their drift.

**Validity** of each file: readable JPEG or HEIC/HEIF (TIFF and other formats are refused), Make or
Model present (the device must be known), a camera or smartphone (not a scanner or software), pixels
that decode, metadata that can be cleaned of GPS and serial numbers without re-encoding (see
:func:`publishable_bytes`), and not a byte-identical duplicate of an earlier file (by path order).
Of a **pair**: two different devices (canonical make + model) and one smartphone and one camera;
``require_phone_and_camera=False`` accepts two phones or two cameras, ``require_different_devices=False``
the same model twice.  Hidden files are skipped; other non-photo files are reported as *ignored*.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from flickrexif.exif.labels import canonical_make, clean_model, device_kind, label_record
from flickrexif.exif.read import ExifReadError, read_exif
from flickrexif.exif.record import ExifRecord
from flickrexif.exif.scrub import UnpublishableError, publishable_bytes

FORMATS = ("JPEG", "HEIF")
SMARTPHONE, CAMERA = "smartphone", "camera"

# Problem statuses, in report order.
UNPAIRED, AMBIGUOUS, INVALID, IGNORED = "unpaired", "ambiguous", "invalid", "ignored"
STATUSES = (UNPAIRED, AMBIGUOUS, INVALID, IGNORED)


class PairingRules(Protocol):
    """The settings pairing reads (:class:`paircams.ingest.IngestConfig` has them), so pairing needs no ingest."""

    @property
    def tolerance_s(self) -> float: ...
    @property
    def require_phone_and_camera(self) -> bool: ...
    @property
    def require_different_devices(self) -> bool: ...
    @property
    def verify_decode(self) -> bool: ...
    @property
    def max_pixels(self) -> int: ...


# --- records -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """One usable photo: where it is, what it is, and its labels."""

    path: str  # relative to the source folder, POSIX separators
    sha256: str
    size: int
    exif: ExifRecord
    make: str | None  # canonical make
    model: str | None
    camera_type: str  # "smartphone" or "camera"
    labels: Mapping[str, str | None]

    @property
    def device(self) -> tuple[str, str]:
        return (self.make or "").casefold(), (self.model or "").casefold()

    @property
    def device_name(self) -> str:
        """``Apple iPhone 12``, ``Canon EOS 40D`` (the make is not repeated when the model has it)."""
        if self.make and self.model and self.model.casefold().startswith(self.make.casefold()):
            return self.model
        return " ".join(part for part in (self.make, self.model) if part) or "unknown device"

    @property
    def taken(self) -> datetime | None:
        return datetime.fromisoformat(self.exif.datetime_original) if self.exif.datetime_original else None

    @property
    def suffix(self) -> str:
        return ".heic" if self.exif.image_format == "HEIF" else ".jpg"

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path, "sha256": self.sha256, "size": self.size, "make": self.make, "model": self.model,
            "camera_type": self.camera_type, "exif": self.exif.to_json(), "labels": dict(self.labels),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Photo:
        return cls(
            path=data["path"], sha256=data["sha256"], size=data["size"], exif=ExifRecord.from_json(data["exif"]),
            make=data["make"], model=data["model"], camera_type=data["camera_type"], labels=dict(data["labels"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Problem:
    """A file (or subject folder) that did not become part of a pair, and why."""

    path: str
    status: str  # unpaired | ambiguous | invalid | ignored
    reason: str


# --- one photo: readable, a known camera or smartphone, decodable pixels, cleanable metadata ------------


def relative_path(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def inspect_photo(path: Path, root: Path, config: PairingRules) -> Photo | Problem:
    """Read one file and check it can be one side of a pair; a :class:`Problem` says why not."""
    relative = relative_path(path, root)

    def invalid(reason: str) -> Problem:
        return Problem(relative, INVALID, reason)

    try:
        data = path.read_bytes()
    except OSError as error:
        return invalid(f"cannot be read: {error.strerror or error}")
    try:
        record = read_exif(data, max_pixels=config.max_pixels)
    except ExifReadError as error:
        return invalid(str(error))
    if record.image_format not in FORMATS:
        return invalid(f"a {record.image_format} file; only JPEG and HEIC/HEIF photos are accepted")
    kind = device_kind(record.make, record.model)
    if kind is None:
        return invalid("no Make or Model in its Exif, so the device that took it is unknown")
    if kind not in (SMARTPHONE, CAMERA):
        return invalid(f"taken by a {kind} ({record.make or ''} {record.model or ''}), not a camera or smartphone")
    if config.verify_decode:
        problem = _decode_problem(data)
        if problem is not None:
            return invalid(problem)
    try:
        publishable_bytes(data, record.image_format)
    except UnpublishableError as error:
        return invalid(f"its GPS/serial metadata cannot be removed safely: {error}")
    labels = label_record(record)
    return Photo(
        path=relative, sha256=hashlib.sha256(data).hexdigest(), size=len(data), exif=record,
        make=canonical_make(record.make), model=clean_model(record.make, record.model), camera_type=kind,
        labels=labels.values(),
    )  # fmt: skip


def _decode_problem(data: bytes) -> str | None:
    """Why the pixels do not decode, or ``None`` when they do (a truncated file fails here)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except Exception as error:  # noqa: BLE001 - any decoder failure makes the photo unusable
        return f"its image data does not decode ({type(error).__name__}: {error})"
    return None


# --- pairing -----------------------------------------------------------------------------------------


def pair_problem(a: Photo, b: Photo, config: PairingRules) -> str | None:
    """Why ``a`` and ``b`` cannot be a pair, or ``None`` when they can."""
    if config.require_different_devices and a.device == b.device:
        return f"both taken with the same device ({a.device_name})"
    if config.require_phone_and_camera and a.camera_type == b.camera_type:
        return f"two {a.camera_type}s ({a.device_name}, {b.device_name}); a pair needs one smartphone and one camera"
    return None


def _ordered(a: Photo, b: Photo) -> tuple[Photo, Photo]:
    first, second = sorted((a, b), key=lambda p: (p.camera_type, p.model or "", p.path))
    return first, second


@dataclass(frozen=True)
class Candidate:
    key: str
    photos: tuple[Photo, Photo]
    order: tuple[str, ...]  # new subjects get ids in this order: folder name, or capture time then paths


def pair_folders(
    groups: Mapping[str, Sequence[Photo]], config: PairingRules, unusable: Mapping[str, Sequence[str]] | None = None
) -> tuple[list[Candidate], list[Problem]]:
    """Folder layout: each group (subject folder) must hold exactly two photos forming a valid pair.

    ``unusable`` names, per folder, the photo files found invalid, so an unpaired photo's reason says
    whether its partner is missing or unusable.
    """
    pairs: list[Candidate] = []
    problems: list[Problem] = []
    for folder in sorted(groups):
        photos = groups[folder]
        if len(photos) == 0:
            continue
        if len(photos) == 1:
            bad = (unusable or {}).get(folder, ())
            why = f"its partner is unusable ({', '.join(bad)}, see invalid)" if bad else "its partner is missing"
            problems.append(
                Problem(photos[0].path, UNPAIRED, f"the only usable photo in subject folder {folder!r}: {why}")
            )
            continue
        if len(photos) > 2:
            listed = ", ".join(f"{p.path} ({p.camera_type}, {p.device_name})" for p in photos)
            for photo in photos:
                problems.append(
                    Problem(
                        photo.path,
                        AMBIGUOUS,
                        f"subject folder {folder!r} holds {len(photos)} usable photos ({listed}); keep exactly two",
                    )
                )
            continue
        a, b = photos
        reason = pair_problem(a, b, config)
        if reason is not None:
            for photo, other in ((a, b), (b, a)):
                problems.append(Problem(photo.path, INVALID, f"invalid pair with {other.path}: {reason}"))
            continue
        pairs.append(Candidate(f"folder:{folder}", _ordered(a, b), (folder,)))
    return pairs, problems


def pair_by_time(photos: Sequence[Photo], config: PairingRules) -> tuple[list[Candidate], list[Problem]]:
    """Flat layout: pair photos by capture time (rules in the module docstring); deterministic."""
    problems: list[Problem] = []
    timed = []
    for photo in photos:
        if photo.taken is None:
            problems.append(Problem(photo.path, UNPAIRED, "no capture time (DateTimeOriginal) to pair it by"))
        else:
            timed.append(photo)
    timed.sort(key=lambda p: (p.taken, p.path))
    tolerance = config.tolerance_s
    links: dict[int, list[int]] = {i: [] for i in range(len(timed))}
    near: dict[int, list[tuple[int, str]]] = {i: [] for i in range(len(timed))}  # incompatible neighbours
    for i, a in enumerate(timed):
        for j in range(i + 1, len(timed)):
            b = timed[j]
            if (b.taken - a.taken).total_seconds() > tolerance:
                break
            reason = pair_problem(a, b, config)
            if reason is None:
                links[i].append(j)
                links[j].append(i)
            else:
                near[i].append((j, reason))
                near[j].append((i, reason))
    pairs: list[Candidate] = []
    seen: set[int] = set()
    for start in range(len(timed)):
        if start in seen:
            continue
        group, stack = [], [start]
        seen.add(start)
        while stack:
            node = stack.pop()
            group.append(node)
            for other in links[node]:
                if other not in seen:
                    seen.add(other)
                    stack.append(other)
        group.sort()
        members = [timed[i] for i in group]
        if len(group) == 2:
            a, b = _ordered(*members)
            order = (members[0].exif.datetime_original or "", members[0].path, members[1].path)
            pairs.append(Candidate("photos:" + "+".join(sorted((a.sha256, b.sha256))), (a, b), order))
        elif len(group) > 2:
            listed = ", ".join(f"{p.path} ({p.camera_type} at {p.exif.datetime_original})" for p in members)
            for photo in members:
                problems.append(
                    Problem(
                        photo.path,
                        AMBIGUOUS,
                        f"{len(group)} photos could pair with each other within {tolerance:g} s "
                        f"({listed}); use the folder layout or a smaller tolerance",
                    )
                )
        else:
            photo = members[0]
            if near[start]:
                other, reason = near[start][0]
                problems.append(Problem(photo.path, INVALID, f"invalid pair with {timed[other].path}: {reason}"))
            else:
                problems.append(
                    Problem(photo.path, UNPAIRED, f"no photo from another device taken within {tolerance:g} s")
                )
    return pairs, problems
