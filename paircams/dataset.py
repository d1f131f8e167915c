"""``paircams release``: an ingested folder → a versioned PairCams release, like FlickrExif's.

A release folder ``RELEASES/vX.Y.Z/`` holds one configuration (``default``) with one split
(``train``, as the official release on the Hub), so ``load_dataset(RELEASE_DIR, split="train")``
works offline.  :class:`PairCamsDataset` is what the one release sequence of
:mod:`flickrexif.publish.release` publishes (deterministic shards, card, changelog, manifest, an
atomic folder); it is pushed with :func:`flickrexif.publish.hub.push_release`.

Rows are ordered by ``subject_idx`` then ``camera_type`` (``camera`` before ``smartphone``).  The
``image`` column holds each photo's original bytes (JPEG or HEIC, never re-encoded) with only the
metadata that displays it and the published camera fields kept (:func:`flickrexif.exif.scrub.publishable_bytes`); every byte read
is first checked against the sha256 recorded at ingest, so a release never silently picks up a file
that changed.  Same ingested folder, same photo bytes, same version and same earlier releases (and
the same library versions, recorded in the manifest) give byte-identical files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from datasets import Features, Image, Value

from flickrexif.publish.columns import exif_columns, exif_features
from flickrexif.publish.manifest import ReleaseError
from flickrexif.publish.parquet import ParquetLayout, image_layout, write_config
from flickrexif.publish.release import BUILD_INFO_NAME, DatasetContents
from paircams.card import paircams_card
from paircams.ingest import Ingested, Photo, Subject, load_ingested, publishable_bytes

DATASET_NAME = "PairCams"
CONFIG_NAME = "default"
SPLIT = "train"
DATA_FOLDER = "data"
LABEL_COLUMNS = ("exposure", "aperture", "iso", "focal_length", "flash", "year")
# Ingest settings that decide which pairs exist (copying or decode checks do not change the data).
PAIRING_SETTINGS = ("tolerance_s", "require_phone_and_camera", "require_different_devices")
# The capture time has its own column (``datetime_original``, as in the official release).
_EXIF_EXCLUDED = ("datetime_original",)

#: The columns of every release, defined once.  The first three are the official release's.
FEATURES = Features(
    {
        "image": Image(),
        "subject_idx": Value("int64"),
        "model": Value("string"),
        "make": Value("string"),
        "is_smartphone": Value("bool"),
        "camera_type": Value("string"),
        "datetime_original": Value("string"),
        "capture_delta_s": Value("float64"),
        **{name: Value("string") for name in LABEL_COLUMNS},
        **exif_features(exclude=_EXIF_EXCLUDED),
        "image_format": Value("string"),
        "width": Value("int32"),
        "height": Value("int32"),
        "jpeg_quality": Value("int32"),
        "chroma_subsampling": Value("string"),
    }
)


# --- rows --------------------------------------------------------------------------------------------


def _image_name(subject: Subject, position: int, photo: Photo) -> str:
    return f"{subject.subject_idx:06d}-{position}-{photo.camera_type}{photo.suffix}"


def photo_row(ingested: Ingested, subject: Subject, position: int, photo: Photo) -> dict[str, Any]:
    """One row: the photo's cleaned bytes, its subject, device and Exif (no GPS, no serial numbers)."""
    data = ingested.photo_bytes(photo)  # sha256-checked
    exif = photo.exif
    return {
        "image": {
            "bytes": publishable_bytes(data, exif.image_format or ""),
            "path": _image_name(subject, position, photo),
        },
        "subject_idx": subject.subject_idx,
        "model": photo.model,
        "make": photo.make,
        "is_smartphone": photo.camera_type == "smartphone",
        "camera_type": photo.camera_type,
        "datetime_original": exif.datetime_original,
        "capture_delta_s": subject.capture_delta_s,
        **{name: photo.labels.get(name) for name in LABEL_COLUMNS},
        **exif_columns(exif, exclude=_EXIF_EXCLUDED),
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


# --- build info and changelog ------------------------------------------------------------------------


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


def changelog_lines(info: Mapping[str, Any], previous: Path | None) -> list[str]:
    """Subject and photo counts, and the subjects added and removed since the previous release."""
    lines = []
    kinds = info["camera_types"]
    lines.append(
        f"{info['subjects']} subjects, {info['photos']} photos ("
        + ", ".join(f"{kind} {count}" for kind, count in kinds.items())
        + ")"
    )
    old_path = previous / BUILD_INFO_NAME if previous is not None else None
    if old_path is not None and old_path.is_file():
        try:
            old = set(json.loads(old_path.read_text(encoding="utf-8")).get("subject_idx", []))
        except (json.JSONDecodeError, OSError):
            old = set()
        now = set(info["subject_idx"])
        added, removed = sorted(now - old), sorted(old - now)
        lines.append(f"subjects added since {previous.name}: {len(added)}" + (f" ({_id_list(added)})" if added else ""))
        lines.append(
            f"subjects removed since {previous.name}: {len(removed)}" + (f" ({_id_list(removed)})" if removed else "")
        )
    return lines


class PairCamsDataset:
    """PairCams as :func:`flickrexif.publish.release.release` publishes it (a ``ReleasableDataset``).

    ``on_progress(rows_done, rows_total)``.  Writing raises :class:`ReleaseError` for an ingested folder
    without pairs, :class:`~paircams.ingest.IngestError` when it cannot be read, and its subclass
    :class:`~paircams.ingest.PhotoChangedError` when a photo is gone or changed since ingest.
    """

    name = DATASET_NAME
    packages = ("pillow-heif",)

    def __init__(
        self,
        ingested: Path,
        *,
        license: str = "other",
        layout: ParquetLayout | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ):
        self.ingested_dir = Path(ingested)
        self.license = license
        self.layout = layout or image_layout()
        self.on_progress = on_progress

    def write_data(self, folder: Path) -> DatasetContents:
        ingested = load_ingested(self.ingested_dir)
        if not ingested.subjects:
            raise ReleaseError(f"{self.ingested_dir} holds no pairs; nothing to release (see its report.txt)")
        total = 2 * len(ingested.subjects)
        report = None if self.on_progress is None else (lambda _split, done: self.on_progress(done, total))
        config = write_config(
            {SPLIT: rows(ingested)},
            FEATURES,
            folder,
            CONFIG_NAME,
            DATA_FOLDER,
            self.layout,
            default=True,
            row_bytes=_row_bytes,
            on_row_group=report,
        )
        info = build_info(ingested)
        counts = {"subjects": len(ingested.subjects), "rows": config.rows}
        return DatasetContents((config,), info, data_as_of(ingested), manifest=counts, details=counts)

    def card(self, contents: DatasetContents, version: str | None) -> str:
        return paircams_card(
            self.name, contents.build_info, contents.configs[0], version, contents.data_as_of, self.license
        )

    def changelog_lines(self, contents: DatasetContents, previous: Path | None) -> list[str]:
        return changelog_lines(contents.build_info, previous)
