"""``paircams ingest``: a folder of photos → validated smartphone/camera pairs with stable subject ids.

PairCams holds pairs of photos of one subject under near-identical conditions, one from a smartphone
and one from a (usually older) digital camera.  Researchers add their own pairs, so ingest reads
whatever it is given, keeps going past bad files and says what it did with every file.

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

**Stable subject ids**: a subject's key is ``folder:<sub-folder name>`` (folders) or
``photos:<sha256>+<sha256>`` (flat; the two file hashes sorted, so renaming or moving the files keeps
the key).  Re-ingesting into the same ``--out`` keeps the id of every key seen before; a subject whose
key changed but whose two files are byte-identical to an earlier subject's keeps that subject's id
(a renamed folder, or a switch between layouts); a removed subject's id is retired and never given
to another subject (it comes back only if the same subject does); new subjects get ids from a
counter that only grows, in folder-name order (folders) or capture-time order (flat).

**Output** (``--out PATH``, written atomically file by file):

* ``pairs.json``: the subjects with their ids and both photos (path relative to ``source``, size,
  sha256, Exif fields, labels), the retired ids, the id counter and the settings;
* ``report.json`` / ``report.txt``: counts, and every unpaired, ambiguous, invalid or ignored file
  with its reason;
* ``photos/<sha256><suffix>`` only with ``copy_files=True``: the paired photos' bytes, so a release
  no longer needs ``DIR``.  Without it, a release reads ``DIR`` and checks every file's sha256.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from PIL import Image

from flickrexif.exif.read import DEFAULT_MAX_PIXELS, ExifReadError, read_exif
from flickrexif.exif.labels import canonical_make, clean_model, device_kind, label_record
from flickrexif.exif.record import ExifRecord
from flickrexif.publish.manifest import sha256_file
from flickrexif.exif.scrub import UnpublishableError, publishable_bytes

FORMAT = "paircams-ingest"
FORMAT_VERSION = 1
PAIRS_NAME = "pairs.json"
REPORT_JSON = "report.json"
REPORT_TXT = "report.txt"
PHOTOS_DIR = "photos"
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".heic", ".heif", ".hif"})
FORMATS = ("JPEG", "HEIF")
SMARTPHONE, CAMERA = "smartphone", "camera"
DEFAULT_TOLERANCE_S = 120.0

# Problem statuses, in report order.
UNPAIRED, AMBIGUOUS, INVALID, IGNORED = "unpaired", "ambiguous", "invalid", "ignored"
STATUSES = (UNPAIRED, AMBIGUOUS, INVALID, IGNORED)


class IngestError(Exception):
    """Ingest cannot run as asked (no such folder, a bad earlier ``pairs.json``); nothing was written."""


class PhotoChangedError(IngestError):
    """A paired photo's bytes are gone or differ from those ingested; ingest again."""


class Layout(str, Enum):
    auto = "auto"
    folders = "folders"
    flat = "flat"


@dataclass(frozen=True)
class IngestConfig:
    """What to ingest and how to pair it (see the module docstring for the rules)."""

    source: Path
    out: Path
    layout: Layout = Layout.auto
    tolerance_s: float = DEFAULT_TOLERANCE_S
    require_phone_and_camera: bool = True
    require_different_devices: bool = True
    copy_files: bool = False
    verify_decode: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))
        object.__setattr__(self, "out", Path(self.out))
        object.__setattr__(self, "layout", Layout(self.layout))
        if not self.tolerance_s >= 0:
            raise ValueError(f"tolerance must be zero or more seconds, not {self.tolerance_s}")

    def settings(self) -> dict[str, Any]:
        """The settings that decided the pairs (recorded in ``pairs.json`` and the release)."""
        return {
            "tolerance_s": self.tolerance_s,
            "require_phone_and_camera": self.require_phone_and_camera,
            "require_different_devices": self.require_different_devices,
            "copy_files": self.copy_files,
            "verify_decode": self.verify_decode,
        }


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
    def from_json(cls, data: Mapping[str, Any]) -> "Photo":
        return cls(
            path=data["path"], sha256=data["sha256"], size=data["size"], exif=ExifRecord.from_json(data["exif"]),
            make=data["make"], model=data["model"], camera_type=data["camera_type"], labels=dict(data["labels"]),
        )  # fmt: skip


@dataclass(frozen=True)
class Subject:
    """One validated pair with its stable id; photos ordered camera before smartphone, then by path."""

    key: str
    subject_idx: int
    photos: tuple[Photo, Photo]

    @property
    def capture_delta_s(self) -> float | None:
        first, second = (photo.taken for photo in self.photos)
        return None if first is None or second is None else abs((first - second).total_seconds())

    @property
    def hashes(self) -> tuple[str, str]:
        return tuple(sorted(photo.sha256 for photo in self.photos))  # type: ignore[return-value]

    def to_json(self) -> dict[str, Any]:
        return {"subject_idx": self.subject_idx, "key": self.key, "capture_delta_s": self.capture_delta_s,
                "photos": [photo.to_json() for photo in self.photos]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Subject":
        photos = tuple(Photo.from_json(p) for p in data["photos"])
        if len(photos) != 2:
            raise ValueError(f"subject {data.get('key')!r} has {len(photos)} photos, not 2")
        return cls(data["key"], int(data["subject_idx"]), photos)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Problem:
    """A file (or subject folder) that did not become part of a pair, and why."""

    path: str
    status: str  # unpaired | ambiguous | invalid | ignored
    reason: str


@dataclass(frozen=True)
class IngestProgress:
    done: int
    total: int
    path: str


@dataclass(frozen=True)
class IdChanges:
    """How this ingest's ids relate to the previous one's."""

    kept: int = 0
    new: int = 0
    revived: int = 0
    retired: int = 0  # ids of subjects that disappeared in this ingest


@dataclass(frozen=True)
class IngestResult:
    out: Path
    source: Path
    layout: str
    subjects: tuple[Subject, ...]
    problems: tuple[Problem, ...]
    files: int
    ids: IdChanges

    def counts(self) -> dict[str, int]:
        counts = {"files": self.files, "pairs": len(self.subjects)}
        counts.update({status: sum(p.status == status for p in self.problems) for status in STATUSES})
        return counts


# --- publishable bytes: the photo without GPS and serial numbers, pixels untouched ---------------------


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _walk(folder: Path, root: Path, skip: Path | None) -> list[Path]:
    """Every non-hidden file under ``folder`` (skipping ``skip``, the output folder), sorted by path."""
    found = []
    for current, dirs, files in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or (here / d).resolve() != skip))
        found.extend(here / name for name in files if not name.startswith("."))
    return sorted(found, key=lambda p: _relative(p, root))


def _is_photo_name(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


def inspect_photo(path: Path, root: Path, config: IngestConfig) -> Photo | Problem:
    """Read one file and check it can be one side of a pair; a :class:`Problem` says why not."""
    relative = _relative(path, root)

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


def pair_problem(a: Photo, b: Photo, config: IngestConfig) -> str | None:
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
class _Candidate:
    key: str
    photos: tuple[Photo, Photo]
    order: tuple[str, ...]  # new subjects get ids in this order: folder name, or capture time then paths


def pair_folders(groups: Mapping[str, Sequence[Photo]], config: IngestConfig,
                 unusable: Mapping[str, Sequence[str]] | None = None) -> tuple[list[_Candidate], list[Problem]]:
    """Folder layout: each group (subject folder) must hold exactly two photos forming a valid pair.

    ``unusable`` names, per folder, the photo files found invalid, so an unpaired photo's reason says
    whether its partner is missing or unusable.
    """
    pairs: list[_Candidate] = []
    problems: list[Problem] = []
    for folder in sorted(groups):
        photos = groups[folder]
        if len(photos) == 0:
            continue
        if len(photos) == 1:
            bad = (unusable or {}).get(folder, ())
            why = f"its partner is unusable ({', '.join(bad)}, see invalid)" if bad else "its partner is missing"
            problems.append(Problem(photos[0].path, UNPAIRED,
                                    f"the only usable photo in subject folder {folder!r}: {why}"))
            continue
        if len(photos) > 2:
            listed = ", ".join(f"{p.path} ({p.camera_type}, {p.device_name})" for p in photos)
            for photo in photos:
                problems.append(Problem(photo.path, AMBIGUOUS,
                                        f"subject folder {folder!r} holds {len(photos)} usable photos ({listed}); "
                                        "keep exactly two"))
            continue
        a, b = photos
        reason = pair_problem(a, b, config)
        if reason is not None:
            for photo, other in ((a, b), (b, a)):
                problems.append(Problem(photo.path, INVALID, f"invalid pair with {other.path}: {reason}"))
            continue
        pairs.append(_Candidate(f"folder:{folder}", _ordered(a, b), (folder,)))
    return pairs, problems


def pair_by_time(photos: Sequence[Photo], config: IngestConfig) -> tuple[list[_Candidate], list[Problem]]:
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
    pairs: list[_Candidate] = []
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
            pairs.append(_Candidate("photos:" + "+".join(sorted((a.sha256, b.sha256))), (a, b), order))
        elif len(group) > 2:
            listed = ", ".join(f"{p.path} ({p.camera_type} at {p.exif.datetime_original})" for p in members)
            for photo in members:
                problems.append(Problem(photo.path, AMBIGUOUS,
                                        f"{len(group)} photos could pair with each other within {tolerance:g} s "
                                        f"({listed}); use the folder layout or a smaller tolerance"))
        else:
            photo = members[0]
            if near[start]:
                other, reason = near[start][0]
                problems.append(Problem(photo.path, INVALID, f"invalid pair with {timed[other].path}: {reason}"))
            else:
                problems.append(Problem(photo.path, UNPAIRED,
                                        f"no photo from another device taken within {tolerance:g} s"))
    return pairs, problems


# --- stable ids --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Retired:
    """A subject no longer present: its id is kept for it alone (and its files' hashes, to know it again)."""

    key: str
    subject_idx: int
    sha256: tuple[str, ...] = ()  # the two file hashes, sorted

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "subject_idx": self.subject_idx, "sha256": list(self.sha256)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Retired":
        return cls(data["key"], int(data["subject_idx"]), tuple(data.get("sha256") or ()))


@dataclass(frozen=True)
class IdState:
    """The ids an earlier ingest gave out: its subjects, the retired ones, and the next new id."""

    subjects: tuple[Subject, ...] = ()
    retired: tuple[Retired, ...] = ()
    next_idx: int = 0


def assign_ids(candidates: Sequence[_Candidate], state: IdState) -> tuple[list[Subject], IdState, IdChanges]:
    """Give every candidate pair its stable id (rules in the module docstring)."""
    earlier = [Retired(s.key, s.subject_idx, s.hashes) for s in state.subjects] + list(state.retired)
    by_key = {entry.key: entry.subject_idx for entry in earlier}
    by_hashes = {entry.sha256: entry.subject_idx for entry in earlier if entry.sha256}
    current = {s.subject_idx for s in state.subjects}
    claimed: set[int] = set()
    subjects: list[Subject] = []
    fresh: list[_Candidate] = []
    for candidate in sorted(candidates, key=lambda c: c.key):
        idx = by_key.get(candidate.key)
        if idx is None or idx in claimed:
            idx = by_hashes.get(tuple(sorted(p.sha256 for p in candidate.photos)))
        if idx is None or idx in claimed:
            fresh.append(candidate)
            continue
        claimed.add(idx)
        subjects.append(Subject(candidate.key, idx, candidate.photos))
    next_idx = max([state.next_idx, *(entry.subject_idx + 1 for entry in earlier)])
    for candidate in sorted(fresh, key=lambda c: (c.order, c.key)):
        subjects.append(Subject(candidate.key, next_idx, candidate.photos))
        next_idx += 1
    subjects.sort(key=lambda s: s.subject_idx)
    retired: dict[int, Retired] = {}
    for entry in earlier:  # current subjects first, so a retired id keeps its latest key and hashes
        if entry.subject_idx not in claimed and entry.subject_idx not in retired:
            retired[entry.subject_idx] = entry
    changes = IdChanges(
        kept=len(claimed & current), new=len(fresh), revived=len(claimed - current), retired=len(current - claimed),
    )
    return subjects, IdState(tuple(subjects), tuple(retired[i] for i in sorted(retired)), next_idx), changes


# --- the ingested folder -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Ingested:
    """An ingested folder as read back: the subjects and where their photo bytes are."""

    folder: Path
    source: Path
    layout: str
    settings: Mapping[str, Any]
    subjects: tuple[Subject, ...]
    retired: tuple[Retired, ...]
    next_idx: int

    def photo_path(self, photo: Photo) -> Path:
        if self.settings.get("copy_files"):
            return self.folder / PHOTOS_DIR / f"{photo.sha256}{photo.suffix}"
        return self.source / photo.path

    def photo_bytes(self, photo: Photo) -> bytes:
        """The photo's bytes, checked against the sha256 recorded at ingest."""
        path = self.photo_path(photo)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise PhotoChangedError(f"{path}: cannot be read ({error.strerror or error}); "
                                    "run `paircams ingest` again") from None
        if hashlib.sha256(data).hexdigest() != photo.sha256:
            raise PhotoChangedError(f"{path} changed since it was ingested (its sha256 differs); "
                              "run `paircams ingest` again")
        return data

    def id_state(self) -> IdState:
        return IdState(self.subjects, self.retired, self.next_idx)


def load_ingested(folder: Path) -> Ingested:
    """Read ``folder/pairs.json``; :class:`IngestError` with a clear message when it is not one."""
    folder = Path(folder)
    path = folder / PAIRS_NAME
    if not path.is_file():
        raise IngestError(f"{folder} is not an ingested PairCams folder: it has no {PAIRS_NAME} "
                          "(create it with `paircams ingest DIR --out FOLDER`)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r} is not {FORMAT_VERSION}")
        subjects = tuple(Subject.from_json(s) for s in data["subjects"])
        retired = tuple(Retired.from_json(entry) for entry in data.get("retired", []))
        return Ingested(folder, Path(data["source"]), data["layout"], dict(data["settings"]), subjects, retired,
                        int(data["next_subject_idx"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IngestError(f"{path} cannot be read: {error}") from None


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temporary.open("w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _pairs_json(config: IngestConfig, layout: str, subjects: Sequence[Subject], state: IdState) -> str:
    data = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "source": str(config.source.resolve()),
        "layout": layout, "settings": config.settings(), "next_subject_idx": state.next_idx,
        "subjects": [s.to_json() for s in subjects],
        "retired": [entry.to_json() for entry in state.retired],
    }  # fmt: skip
    return json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def report_json(result: IngestResult) -> dict[str, Any]:
    """The report as data: counts, id changes and every problem with its reason."""
    return {
        "source": str(result.source.resolve()), "layout": result.layout, "counts": result.counts(),
        "ids": asdict(result.ids),
        "problems": {status: [{"path": p.path, "reason": p.reason} for p in result.problems if p.status == status]
                     for status in STATUSES},
    }  # fmt: skip


def report_text(result: IngestResult) -> str:
    """The report for people: a summary line per count, then each problem file with its reason."""
    counts = result.counts()
    lines = [f"PairCams ingest of {result.source} ({result.layout} layout)", "",
             f"files: {counts['files']}", f"pairs: {counts['pairs']}"]
    lines += [f"{status}: {counts[status]}" for status in STATUSES]
    ids = result.ids
    lines += [f"subject ids: {ids.kept} kept, {ids.new} new, {ids.revived} revived, {ids.retired} retired", ""]
    for status in STATUSES:
        chosen = [p for p in result.problems if p.status == status]
        if chosen:
            lines.append(f"## {status} ({len(chosen)})")
            lines += [f"- {p.path}: {p.reason}" for p in chosen]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --- the whole ingest --------------------------------------------------------------------------------


def _choose_layout(source: Path, layout: Layout, skip: Path | None) -> str:
    if layout is not Layout.auto:
        return layout.value
    for child in sorted(source.iterdir()):
        if child.is_dir() and not child.name.startswith(".") and child.resolve() != skip:
            if any(_is_photo_name(p) for p in _walk(child, source, skip)):
                return Layout.folders.value
    return Layout.flat.value


def _previous_state(out: Path) -> IdState:
    if not (out / PAIRS_NAME).exists():
        return IdState()
    return load_ingested(out).id_state()


def ingest(config: IngestConfig, on_progress: Callable[[IngestProgress], None] | None = None) -> IngestResult:
    """Read, validate and pair the photos under ``config.source``; write ``config.out`` (see module doc).

    Bad files never stop the run: each becomes a :class:`Problem` in the result and the report.
    Raises :class:`IngestError` only when the run cannot start (no source folder, ``--out`` is a
    file, an earlier ``pairs.json`` in ``--out`` that cannot be read) or a file changes while it
    is being copied.
    """
    source, out = config.source, config.out
    if not source.is_dir():
        raise IngestError(f"{source} is not a folder")
    if out.exists() and not out.is_dir():
        raise IngestError(f"--out {out} exists and is not a folder")
    state = _previous_state(out)  # fails before any work when an earlier pairs.json is broken
    skip = out.resolve()
    layout = _choose_layout(source, config.layout, skip)
    files = _walk(source, source, skip)
    problems: list[Problem] = []
    photo_files = []
    for path in files:
        if _is_photo_name(path):
            photo_files.append(path)
        else:
            suffix = path.suffix or "none"
            problems.append(Problem(_relative(path, source), IGNORED,
                                    f"not a photo file name (JPEG or HEIC suffix expected, got {suffix!r})"))
    photos: list[Photo] = []
    by_hash: dict[str, str] = {}
    for done, path in enumerate(photo_files, start=1):
        found = inspect_photo(path, source, config)
        if isinstance(found, Photo) and found.sha256 in by_hash:
            found = Problem(found.path, INVALID, f"a byte-identical copy of {by_hash[found.sha256]}")
        if isinstance(found, Photo):
            by_hash[found.sha256] = found.path
            photos.append(found)
        else:
            problems.append(found)
        if on_progress is not None:
            on_progress(IngestProgress(done, len(photo_files), _relative(path, source)))
    if layout == Layout.folders.value:
        groups: dict[str, list[Photo]] = {}
        for photo in photos:
            folder, _, rest = photo.path.partition("/")
            if not rest:
                problems.append(Problem(photo.path, UNPAIRED, "not inside a subject folder (folder layout)"))
                continue
            groups.setdefault(folder, []).append(photo)
        unusable: dict[str, list[str]] = {}
        for problem in problems:
            folder, _, rest = problem.path.partition("/")
            if rest and problem.status == INVALID:
                unusable.setdefault(folder, []).append(problem.path)
        candidates, pair_problems = pair_folders(groups, config, unusable)
    else:
        candidates, pair_problems = pair_by_time(photos, config)
    problems.extend(pair_problems)
    subjects, new_state, changes = assign_ids(candidates, state)
    problems.sort(key=lambda p: (STATUSES.index(p.status), p.path))
    result = IngestResult(out, source, layout, tuple(subjects), tuple(problems), len(files), changes)
    _write_output(config, result, new_state)
    return result


def _write_output(config: IngestConfig, result: IngestResult, state: IdState) -> None:
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    photos_dir = out / PHOTOS_DIR
    wanted: set[str] = set()
    if config.copy_files:
        photos_dir.mkdir(exist_ok=True)
        for subject in result.subjects:
            for photo in subject.photos:
                name = f"{photo.sha256}{photo.suffix}"
                wanted.add(name)
                target = photos_dir / name
                if not target.is_file() or target.stat().st_size != photo.size:
                    temporary = photos_dir / f".{name}.tmp-{os.getpid()}"
                    shutil.copyfile(config.source / photo.path, temporary)
                    if sha256_file(temporary) != photo.sha256:
                        temporary.unlink()
                        raise IngestError(f"{photo.path} changed while it was being ingested; run ingest again")
                    os.replace(temporary, target)
    _write_atomic(out / PAIRS_NAME, _pairs_json(config, result.layout, result.subjects, state))
    _write_atomic(out / REPORT_JSON, json.dumps(report_json(result), indent=1, ensure_ascii=False) + "\n")
    _write_atomic(out / REPORT_TXT, report_text(result))
    if photos_dir.is_dir():  # copies no longer referenced by pairs.json (written above) are removed
        for path in photos_dir.iterdir():
            if path.name not in wanted:
                path.unlink()
        if not config.copy_files:
            photos_dir.rmdir()

