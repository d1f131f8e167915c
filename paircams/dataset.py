"""``paircams release`` / ``push``: an ingested folder → a versioned PairCams release, like FlickrExif's.

A release folder ``RELEASES/vX.Y.Z/`` holds one configuration (``default``) with one split
(``train``, as the official release on the Hub), so ``load_dataset(RELEASE_DIR, split="train")``
works offline.  It is built with the generic machinery of :mod:`flickrexif.publish.release` — deterministic
Parquet shards, ``manifest.json`` with checksums, ``CHANGELOG.md`` extending the previous release's,
a card whose YAML lists the shards and the features, and a folder that appears complete or not at
all — and pushed with :func:`flickrexif.hub.push_release`.

Rows are ordered by ``subject_idx`` then ``camera_type`` (``camera`` before ``smartphone``).  The
``image`` column holds each photo's original bytes (JPEG or HEIC, never re-encoded) with GPS, serial
numbers, maker notes and XMP removed (:func:`flickrexif.scrub.publishable_bytes`); every byte read is
first checked against the sha256 recorded at ingest, so a release never silently picks up a file
that changed.  Same ingested folder, same photo bytes, same version and same earlier releases (and
the same library versions, recorded in the manifest) give byte-identical files.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets import Features, Image, Value

from flickrexif.dataset.builder import image_layout
from flickrexif.dataset.card import CITATION, PAPER
from flickrexif.publish.release import (
    CARD_NAME,
    ParquetLayout,
    ReleaseError,
    SplitFiles,
    atomic_folder,
    changelog_entry,
    config_yaml,
    dataset_info_yaml,
    previous_release,
    release_name,
    render_card,
    size_category,
    write_changelog,
    write_manifest,
    write_split,
)
from paircams.ingest import Ingested, Photo, Subject, load_ingested, publishable_bytes

DATASET_NAME = "PairCams"
CONFIG_NAME = "default"
SPLIT = "train"
DATA_FOLDER = "data"
BUILD_INFO = "build_info.json"
LABEL_COLUMNS = ("exposure", "aperture", "iso", "focal_length", "flash", "year")
# Ingest settings that decide which pairs exist (copying or decode checks do not change the data).
PAIRING_SETTINGS = ("tolerance_s", "require_phone_and_camera", "require_different_devices")

#: The columns of every release, defined once.  The first three are the official release's.
FEATURES = Features({
    "image": Image(),
    "subject_idx": Value("int64"),
    "model": Value("string"),
    "make": Value("string"),
    "is_smartphone": Value("bool"),
    "camera_type": Value("string"),
    "datetime_original": Value("string"),
    "capture_delta_s": Value("float64"),
    **{name: Value("string") for name in LABEL_COLUMNS},
    "exif_make": Value("string"),
    "exif_model": Value("string"),
    "exif_lens": Value("string"),
    "exif_software": Value("string"),
    "exif_exposure_time": Value("string"),
    "exif_f_number": Value("float64"),
    "exif_iso": Value("int64"),
    "exif_focal_length_mm": Value("float64"),
    "exif_focal_length_35mm": Value("float64"),
    "exif_flash_fired": Value("bool"),
    "exif_orientation": Value("int32"),
    "image_format": Value("string"),
    "width": Value("int32"),
    "height": Value("int32"),
    "jpeg_quality": Value("int32"),
    "chroma_subsampling": Value("string"),
})

COLUMN_DOCS = {
    "image": "the photo file's original bytes (JPEG or HEIC, never re-encoded); GPS, serial numbers, "
             "maker notes and XMP removed",
    "subject_idx": "the subject: the two rows of a pair share it; stable across releases",
    "model": "camera model as written in Exif (`Canon EOS 40D`, `iPhone 13 Pro Max`)",
    "make": "canonical make (`NIKON CORPORATION` → `Nikon`)",
    "is_smartphone": "taken with a phone or tablet",
    "camera_type": "`smartphone` or `camera`",
    "datetime_original": "Exif capture time, ISO 8601 without time zone",
    "capture_delta_s": "seconds between the pair's two capture times (same value on both rows)",
    "exposure, aperture, iso, focal_length, flash, year": "binned labels, the same classes as FlickrExif",
    "exif_*": "Exif values as read from the file (exposure time as a fraction string)",
    "image_format": "`JPEG` or `HEIF`",
    "width, height": "stored pixel size",
    "jpeg_quality": "IJG quality estimated from the JPEG quantization tables (empty for HEIC)",
    "chroma_subsampling": "JPEG chroma subsampling (empty for HEIC)",
}


@dataclass(frozen=True)
class PairReleaseConfig:
    """Which ingested folder to release, where, as which version; ``notes`` become changelog lines."""

    ingested: Path
    releases_dir: Path
    version: str
    notes: tuple[str, ...] = ()
    license: str = "other"
    layout: ParquetLayout = field(default_factory=image_layout)


@dataclass(frozen=True)
class PairReleaseResult:
    path: Path
    version: str
    subjects: int
    rows: int
    split: SplitFiles
    manifest: Mapping[str, Any]


# --- rows --------------------------------------------------------------------------------------------


def _image_name(subject: Subject, position: int, photo: Photo) -> str:
    return f"{subject.subject_idx:06d}-{position}-{photo.camera_type}{photo.suffix}"


def photo_row(ingested: Ingested, subject: Subject, position: int, photo: Photo) -> dict[str, Any]:
    """One row: the photo's cleaned bytes, its subject, device and Exif (no GPS, no serial numbers)."""
    data = ingested.photo_bytes(photo)  # sha256-checked
    exif = photo.exif
    return {
        "image": {"bytes": publishable_bytes(data, exif.image_format or ""),
                  "path": _image_name(subject, position, photo)},
        "subject_idx": subject.subject_idx,
        "model": photo.model,
        "make": photo.make,
        "is_smartphone": photo.camera_type == "smartphone",
        "camera_type": photo.camera_type,
        "datetime_original": exif.datetime_original,
        "capture_delta_s": subject.capture_delta_s,
        **{name: photo.labels.get(name) for name in LABEL_COLUMNS},
        "exif_make": exif.make,
        "exif_model": exif.model,
        "exif_lens": exif.lens,
        "exif_software": exif.software,
        "exif_exposure_time": exif.to_json()["exposure_time"],
        "exif_f_number": exif.f_number,
        "exif_iso": exif.iso,
        "exif_focal_length_mm": exif.focal_length_mm,
        "exif_focal_length_35mm": exif.focal_length_35mm,
        "exif_flash_fired": exif.flash_fired,
        "exif_orientation": exif.orientation,
        "image_format": exif.image_format,
        "width": exif.width,
        "height": exif.height,
        "jpeg_quality": exif.jpeg_quality,
        "chroma_subsampling": exif.chroma_subsampling,
    }


def rows(ingested: Ingested) -> Iterator[dict[str, Any]]:
    """Every row, ordered by ``subject_idx`` then camera type (the order the ingest stored)."""
    for subject in sorted(ingested.subjects, key=lambda s: s.subject_idx):
        for position, photo in enumerate(subject.photos):
            yield photo_row(ingested, subject, position, photo)


def _row_bytes(row: Mapping[str, Any]) -> int:
    return len(row["image"]["bytes"]) + 1024


# --- build info, changelog, card ---------------------------------------------------------------------


def build_info(ingested: Ingested) -> dict[str, Any]:
    """What decided the release's content, and its counts (no local paths, no timings)."""
    photos = [photo for subject in ingested.subjects for photo in subject.photos]
    models: dict[str, Counter] = {}
    for photo in photos:
        models.setdefault(photo.camera_type, Counter())[photo.device_name] += 1
    return {
        "dataset": DATASET_NAME,
        "layout": ingested.layout,
        "settings": {k: v for k, v in sorted(ingested.settings.items()) if k in PAIRING_SETTINGS},
        "subjects": len(ingested.subjects),
        "photos": len(photos),
        "camera_types": dict(sorted(Counter(p.camera_type for p in photos).items())),
        "image_formats": dict(sorted(Counter(p.exif.image_format for p in photos).items())),
        "devices": {kind: dict(sorted(counts.items())) for kind, counts in sorted(models.items())},
        "subject_idx": sorted(s.subject_idx for s in ingested.subjects),
    }


def data_as_of(ingested: Ingested) -> str:
    """The date of the latest capture: a date that depends on the data only, so rebuilds agree."""
    dates = [p.exif.datetime_original[:10] for s in ingested.subjects for p in s.photos if p.exif.datetime_original]
    return max(dates) if dates else "unknown"


def _id_list(ids: Sequence[int], limit: int = 20) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f", and {len(ids) - limit} more" if len(ids) > limit else "")


def changelog_lines(info: Mapping[str, Any], previous: Path | None, notes: Sequence[str]) -> list[str]:
    lines = list(notes)
    kinds = info["camera_types"]
    lines.append(f"{info['subjects']} subjects, {info['photos']} photos ("
                 + ", ".join(f"{kind} {count}" for kind, count in kinds.items()) + ")")
    old_path = previous / BUILD_INFO if previous is not None else None
    if old_path is not None and old_path.is_file():
        try:
            old = set(json.loads(old_path.read_text(encoding="utf-8")).get("subject_idx", []))
        except (json.JSONDecodeError, OSError):
            old = set()
        now = set(info["subject_idx"])
        added, removed = sorted(now - old), sorted(old - now)
        lines.append(f"subjects added since {previous.name}: {len(added)}" + (f" ({_id_list(added)})" if added else ""))
        lines.append(f"subjects removed since {previous.name}: {len(removed)}"
                     + (f" ({_id_list(removed)})" if removed else ""))
    return lines


def _table(header: Sequence[str], body: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in body]
    return "\n".join(lines)


def card_metadata(split: SplitFiles, license_id: str) -> dict[str, Any]:
    return {
        "pretty_name": DATASET_NAME,
        "license": license_id,
        "task_categories": ["image-feature-extraction", "image-classification"],
        "tags": ["exif", "camera", "smartphone", "retrieval", "image-forensics", "paired"],
        "size_categories": [size_category(split.num_examples)],
        "configs": [config_yaml(CONFIG_NAME, [split], default=True)],
        "dataset_info": [dataset_info_yaml(CONFIG_NAME, FEATURES, [split])],
    }


def paircams_card(info: Mapping[str, Any], split: SplitFiles, version: str, as_of: str, license_id: str) -> str:
    """The whole ``README.md``: Hub YAML (configs, features), then what a user needs to know."""
    settings = info["settings"]
    devices = [[kind, f"`{name}`", count] for kind, counts in info["devices"].items() for name, count in counts.items()]
    columns = _table(["column", "meaning"], [[f"`{k}`", v] for k, v in COLUMN_DOCS.items()])
    rules = ("one smartphone and one camera" if settings.get("require_phone_and_camera", True)
             else "any two devices (two phones or two cameras allowed)")
    if settings.get("require_different_devices", True):
        rules += ", two different devices (make and model)"
    layout = ("one folder per subject holding its two photos" if info["layout"] == "folders" else
              f"photos paired by Exif capture time, at most {settings.get('tolerance_s', 0):g} s apart, "
              "a photo with more than one possible partner left out")
    formats = ", ".join(f"{name} {count}" for name, count in info["image_formats"].items())
    body = f"""# {DATASET_NAME}

{DATASET_NAME} holds pairs of photos of the same subject taken under near-identical conditions, one with a
smartphone and one with a digital camera. It is the retrieval test bed of the ICCV 2025 paper *{PAPER}*
(arXiv 2508.10637): a good visual representation should find the other photo of the same subject
whatever device took it, yet encoders that encode acquisition traces prefer photos from the same kind of
device. Release v{version}, captures up to {as_of}.

```python
from datasets import load_dataset
import pillow_heif; pillow_heif.register_heif_opener()  # some photos are HEIC; Pillow needs this to decode them
ds = load_dataset("<this repository>", split="train")  # add revision="v<version>" to pin a release
ds[0]["image"], ds[0]["subject_idx"], ds[0]["camera_type"]
```

{info['subjects']} subjects, {info['photos']} photos ({formats}). Each subject has exactly two rows, which share
`subject_idx`; rows are ordered by `subject_idx`, then `camera_type`.

{_table(["camera type", "device", "photos"], devices)}

## Columns

{columns}

## How it was built

1. **Ingest** (`paircams ingest`): {layout}. Each photo's Exif is read from the file
   (`flickrexif.exif.read`); make, model and smartphone-or-not come from `flickrexif.exif.labels`. A photo is used
   only when it is a readable JPEG or HEIC whose pixels decode and whose device is known; a pair needs
   {rules}. Subject ids are stable: a subject keeps its `subject_idx` in every later release, and the id
   of a removed subject is never given to another.
2. **Release** (`paircams release`): each photo's bytes are checked against the sha256 recorded at
   ingest, cleaned of identifying metadata (below) and written to Parquet shards deterministically:
   the same ingested photos and software give byte-identical files (`manifest.json` lists their sha256).

## Privacy

No GPS position or serial number is published. The columns leave them out, and the image bytes have
them removed without re-encoding: in JPEG files the Exif block is rewritten without the GPS directory,
serial numbers, unique ids and maker notes, and XMP/IPTC blocks and data after the image are dropped; in
HEIC files the Exif item is rewritten the same way in place (padded to its length) and XMP items are
emptied, so every offset and every byte of the coded image stay as the device wrote them.

## Citation

```bibtex
{CITATION}
```
"""
    return render_card(card_metadata(split, license_id), body)


# --- release -----------------------------------------------------------------------------------------


def _tool_versions() -> dict[str, str]:
    """Versions of the libraries whose output bytes the release depends on."""
    versions = {}
    for name in ("flickrexif", "pyarrow", "datasets", "pillow", "pillow-heif"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def release(config: PairReleaseConfig, on_progress: Callable[[int, int], None] | None = None) -> PairReleaseResult:
    """Build ``RELEASES/vX.Y.Z/`` from an ingested folder: shards, card, build info, changelog, manifest.

    Raises :class:`ReleaseError` for a bad or existing version or an ingested folder without pairs,
    :class:`IngestError` when the ingested folder cannot be read, and its subclass
    :class:`~paircams.ingest.PhotoChangedError` when a photo is gone or changed since ingest.
    Either way no ``vX.Y.Z`` folder is left behind.  ``on_progress(rows_done, rows_total)``.
    """
    name = release_name(config.version)
    version = name[1:]
    root = Path(config.releases_dir)
    if (root / name).exists():
        raise ReleaseError(f"{root / name} already exists; releases are immutable (choose a new version)")
    ingested = load_ingested(config.ingested)
    if not ingested.subjects:
        raise ReleaseError(f"{config.ingested} holds no pairs; nothing to release (see its report.txt)")
    previous = previous_release(root, version)
    info = build_info(ingested)
    total = 2 * len(ingested.subjects)
    with atomic_folder(root / name) as folder:
        split = write_split(
            rows(ingested), FEATURES.arrow_schema, folder, DATA_FOLDER, SPLIT, config.layout, row_bytes=_row_bytes,
            on_row_group=(lambda done: on_progress(done, total)) if on_progress is not None else None,
        )
        as_of = data_as_of(ingested)
        (folder / BUILD_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        (folder / CARD_NAME).write_text(paircams_card(info, split, version, as_of, config.license), encoding="utf-8")
        entry = changelog_entry(version, as_of, changelog_lines(info, previous, config.notes))
        write_changelog(folder, entry, previous)
        manifest = write_manifest(folder, name=DATASET_NAME, version=version, extra={
            "tools": _tool_versions(), "subjects": len(ingested.subjects), "rows": split.num_examples,
        })
    return PairReleaseResult(root / name, version, len(ingested.subjects), split.num_examples, split, manifest)

