"""``paircams ingest``: a folder of photos → validated smartphone/camera pairs with stable subject ids.

PairCams holds pairs of photos of one subject under near-identical conditions, one from a smartphone
and one from a (usually older) digital camera.  Researchers add their own pairs, so ingest reads
whatever it is given, keeps going past bad files and says what it did with every file.

The rules live with the code that applies them: the layouts and what makes a photo or a pair
valid in :mod:`paircams.pairing`, how subject ids stay stable across ingests in :mod:`paircams.ids`.
This module runs them over a folder and owns what ingest writes and how it is read back.

**Output** (``--out PATH``, written atomically file by file):

* ``pairs.json``: the subjects with their ids and both photos (path relative to ``source``, size,
  sha256, Exif fields, labels), the retired ids, the id counter and the settings;
* ``report.json`` / ``report.txt``: counts, and every unpaired, ambiguous, invalid or ignored file
  with its reason;
* ``photos/<sha256><suffix>`` only with ``copy_files=True``: the paired photos' bytes, so a release
  no longer needs ``DIR``.  Without it, a release reads ``DIR`` and checks every file's sha256.

**Hostile folders** cost one report line per file, never the run: a photo-named file that is not a
regular file (a FIFO, a socket, a device such as ``/dev/zero`` behind a link) is *invalid* without
being opened, as are broken links, link loops and files over ``max_file_bytes`` (only their size is
read); linked folders are not followed.  A file whose name is not valid UTF-8 cannot be recorded
in ``pairs.json`` (UTF-8 JSON) and found again by a release, so it is *invalid* (*ignored* if not
photo-named) and listed under its name with ``\\xff`` escapes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from flickrexif.exif.read import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_PIXELS,
    ExifReadError,
    check_regular_file,
    is_utf8_name,
    printable_name,
)
from flickrexif.exif.scrub import publishable_bytes  # noqa: F401 (re-exported: paircams.dataset imports it)
from flickrexif.publish.manifest import sha256_file
from paircams.ids import IdChanges, IdState, Retired, Subject, assign_ids
from paircams.pairing import (
    IGNORED,
    INVALID,
    STATUSES,
    UNPAIRED,
    Photo,
    Problem,
    inspect_photo,
    pair_by_time,
    pair_folders,
    relative_path,
)

FORMAT = "paircams-ingest"
FORMAT_VERSION = 1
PAIRS_NAME = "pairs.json"
REPORT_JSON = "report.json"
REPORT_TXT = "report.txt"
PHOTOS_DIR = "photos"
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".heic", ".heif", ".hif"})
DEFAULT_TOLERANCE_S = 120.0


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
    """What to ingest and how to pair it (the rules: :mod:`paircams.pairing`)."""

    source: Path
    out: Path
    layout: Layout = Layout.auto
    tolerance_s: float = DEFAULT_TOLERANCE_S
    require_phone_and_camera: bool = True
    require_different_devices: bool = True
    copy_files: bool = False
    verify_decode: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES  # larger files are invalid, never read

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
class IngestProgress:
    done: int
    total: int
    path: str


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


# --- the folder's files ------------------------------------------------------------------------------


def _walk(folder: Path, root: Path, skip: Path | None) -> list[Path]:
    """Every non-hidden file under ``folder`` (skipping ``skip``, the output folder), sorted by path."""
    found = []
    for current, dirs, files in os.walk(folder, followlinks=False):  # a linked folder can loop
        here = Path(current)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (skip is None or (here / d).resolve() != skip))
        found.extend(here / name for name in files if not name.startswith("."))
    return sorted(found, key=lambda p: relative_path(p, root))


def _is_photo_name(path: Path) -> bool:
    return path.suffix.lower() in PHOTO_SUFFIXES


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
            if check_regular_file(path).st_size != photo.size:  # never opens a FIFO, never reads a huge file
                raise PhotoChangedError(
                    f"{path} changed since it was ingested (its size differs); run `paircams ingest` again"
                )
            with path.open("rb") as file:
                data = file.read(photo.size + 1)
        except ExifReadError as error:
            raise PhotoChangedError(f"{path}: {error}; run `paircams ingest` again") from None
        except OSError as error:
            raise PhotoChangedError(
                f"{path}: cannot be read ({error.strerror or error}); run `paircams ingest` again"
            ) from None
        if len(data) != photo.size or hashlib.sha256(data).hexdigest() != photo.sha256:
            raise PhotoChangedError(
                f"{path} changed since it was ingested (its sha256 differs); run `paircams ingest` again"
            )
        return data

    def id_state(self) -> IdState:
        return IdState(self.subjects, self.retired, self.next_idx)


def load_ingested(folder: Path) -> Ingested:
    """Read ``folder/pairs.json``; :class:`IngestError` with a clear message when it is not one."""
    folder = Path(folder)
    path = folder / PAIRS_NAME
    if not path.is_file():
        raise IngestError(
            f"{folder} is not an ingested PairCams folder: it has no {PAIRS_NAME} "
            "(create it with `paircams ingest DIR --out FOLDER`)"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        if data.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')!r} is not {FORMAT_VERSION}")
        subjects = tuple(Subject.from_json(s) for s in data["subjects"])
        retired = tuple(Retired.from_json(entry) for entry in data.get("retired", []))
        return Ingested(
            folder,
            Path(data["source"]),
            data["layout"],
            dict(data["settings"]),
            subjects,
            retired,
            int(data["next_subject_idx"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise IngestError(f"{path} cannot be read: {error}") from None


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temporary.open("wb") as file:
        file.write(data)
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
    lines = [
        f"PairCams ingest of {result.source} ({result.layout} layout)",
        "",
        f"files: {counts['files']}",
        f"pairs: {counts['pairs']}",
    ]
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
        if child.is_dir() and not child.is_symlink() and not child.name.startswith(".") and child.resolve() != skip:
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
    if not is_utf8_name(source.resolve()):
        raise IngestError(
            f"{printable_name(source)}: the folder's path is not valid UTF-8, so pairs.json cannot record it; rename it"
        )
    if out.exists() and not out.is_dir():
        raise IngestError(f"--out {out} exists and is not a folder")
    state = _previous_state(out)  # fails before any work when an earlier pairs.json is broken
    skip = out.resolve()
    layout = _choose_layout(source, config.layout, skip)
    files = _walk(source, source, skip)
    problems: list[Problem] = []
    photo_files = []
    for path in files:
        if not _is_photo_name(path):
            suffix = printable_name(path.suffix) or "none"
            problems.append(
                Problem(
                    printable_name(relative_path(path, source)),
                    IGNORED,
                    f"not a photo file name (JPEG or HEIC suffix expected, got {suffix!r})",
                )
            )
        elif not is_utf8_name(relative_path(path, source)):
            problems.append(
                Problem(
                    printable_name(relative_path(path, source)),
                    INVALID,
                    "its path is not valid UTF-8 (shown with \\x escapes), so pairs.json cannot record it; rename it",
                )
            )
        else:
            photo_files.append(path)
    photos: list[Photo] = []
    by_hash: dict[str, str] = {}
    for done, path in enumerate(photo_files, start=1):
        found = _inspect(path, source, config)
        if isinstance(found, Photo) and found.sha256 in by_hash:
            found = Problem(found.path, INVALID, f"a byte-identical copy of {by_hash[found.sha256]}")
        if isinstance(found, Photo):
            by_hash[found.sha256] = found.path
            photos.append(found)
        else:
            problems.append(found)
        if on_progress is not None:
            on_progress(IngestProgress(done, len(photo_files), relative_path(path, source)))
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


def _inspect(path: Path, source: Path, config: IngestConfig) -> Photo | Problem:
    """:func:`inspect_photo` for a regular file of at most ``max_file_bytes``; others are never opened."""
    try:
        check_regular_file(path, max_bytes=config.max_file_bytes)
    except ExifReadError as error:
        return Problem(relative_path(path, source), INVALID, str(error))
    return inspect_photo(path, source, config)


def _check_unchanged(path: Path, photo: Photo) -> None:
    """Before copying: still a regular file of the ingested size (a FIFO put there would block the copy)."""
    try:
        if check_regular_file(path).st_size != photo.size:
            raise ExifReadError("its size differs")
    except ExifReadError as error:
        raise IngestError(f"{photo.path} changed while it was being ingested ({error}); run ingest again") from None


def _write_output(config: IngestConfig, result: IngestResult, state: IdState) -> None:
    # Every file is made (and encoded) before any is written: pairs.json never lacks its report.
    pairs = _pairs_json(config, result.layout, result.subjects, state).encode("utf-8")
    report = (json.dumps(report_json(result), indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    text = report_text(result).encode("utf-8")
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
                    _check_unchanged(config.source / photo.path, photo)
                    shutil.copyfile(config.source / photo.path, temporary)  # streamed, never read whole
                    if sha256_file(temporary) != photo.sha256:
                        temporary.unlink()
                        raise IngestError(f"{photo.path} changed while it was being ingested; run ingest again")
                    os.replace(temporary, target)
    _write_atomic(out / PAIRS_NAME, pairs)
    _write_atomic(out / REPORT_JSON, report)
    _write_atomic(out / REPORT_TXT, text)
    if photos_dir.is_dir():  # copies no longer referenced by pairs.json (written above) are removed
        for path in photos_dir.iterdir():
            if path.name not in wanted:
                path.unlink()
        if not config.copy_files:
            photos_dir.rmdir()
