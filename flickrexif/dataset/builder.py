"""``flickrexif build`` / ``release``: the crawl database → the FlickrExif dataset, one config per attribute.

For each paper attribute (``Make``, ``Model``, ..., ``Year``) the builder takes the kept, downloaded,
permissively licensed JPEG photos from camera and phone sources, picks and balances classes and
splits them by owner (:mod:`flickrexif.dataset.split`), then streams rows into Parquet shards
(:func:`flickrexif.publish.parquet.write_config`): memory holds one row group, whatever the photo count.

Rows carry the downloaded bytes, never re-encoded, with identifying metadata removed
(:mod:`flickrexif.exif.scrub`); the labels, the Exif fields that describe the capture (no GPS, no serial
numbers), JPEG facts read from the file header, and TASL attribution.  ``include_images=False``
keeps the URL of the downloaded size instead of the bytes, with the same selection and splits.

:class:`FlickrExifDataset` is what :mod:`flickrexif.publish.release` publishes; everything written is a
function of the database, the image files, the seed and the settings, so two builds give
byte-identical files.
"""

from __future__ import annotations

import io
import json
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from flickrexif.crawl.licenses import LICENSES, PERMISSIVE_LICENSES
from flickrexif.crawl.records import KeptPhoto, MissingStoreError, NotACrawlStoreError, StoredPhoto
from flickrexif.crawl.store import CrawlStore
from flickrexif.dataset.card import flickrexif_card
from flickrexif.dataset.features import DATASET_NAME, LABEL_COLUMNS, config_folder, dataset_features, paper_split_name
from flickrexif.dataset.result import BuildError, BuildProgress, BuildResult, ConfigResult
from flickrexif.dataset.spec import BuildConfig
from flickrexif.dataset.split import SPLITS, TEST, TRAIN, VALIDATION, Item, SplitResult, SplitSpec, owner_disjoint_split
from flickrexif.exif.jpeg import chroma_subsampling, estimate_quality
from flickrexif.exif.labels import ATTRIBUTES, device_kind
from flickrexif.exif.scrub import NotAJpeg, scrub_jpeg
from flickrexif.publish.columns import exif_columns
from flickrexif.publish.manifest import ReleaseError, read_manifest
from flickrexif.publish.parquet import PublishedConfig, write_config
from flickrexif.publish.release import DatasetContents, write_dataset

JPEG_SUFFIXES = (".jpg", ".jpeg")
PAPER_SPLIT_KEYS = {TRAIN: "train", VALIDATION: "val", TEST: "test"}
MAX_REBUILDS = 50  # per configuration: photos whose bytes turn out unusable are dropped and the split redone


# --- candidates ------------------------------------------------------------------------------------


def _id_key(photo_id: str) -> tuple[int, str]:
    """Numeric order for Flickr's numeric ids (shorter is smaller), text order otherwise."""
    return len(photo_id), photo_id


@dataclass
class _Candidates:
    """Eligible photos in id order, held compactly: ids, owners and one label column per attribute."""

    ids: list[str]
    owners: list[str]
    kinds: list[str | None]
    labels: dict[str, list[str | None]]
    kept: int
    excluded: Counter
    data_as_of: str

    def items(self, attribute: str, spec: SplitSpec, skip: set[int]) -> list[Item]:
        column = self.labels[ATTRIBUTES[attribute]]
        allowed = set(spec.device_kinds)
        return [
            Item(key, self.owners[key], label)
            for key, label in enumerate(column)
            if label is not None and self.kinds[key] in allowed and key not in skip
        ]


def _exclusion(photo: KeptPhoto, images: Path, exclude_ids: frozenset[str]) -> str | None:
    if photo.id in exclude_ids:
        return "taken down"
    if photo.license not in PERMISSIVE_LICENSES:
        return "license not permissive"
    if photo.download_status != "done" or not photo.download_path:
        return "not downloaded"
    if not photo.download_path.lower().endswith(JPEG_SUFFIXES):
        return "not a JPEG file"
    if photo.labels is None or photo.exif is None:
        return "no labels"
    if not (images / photo.download_path).is_file():
        return "image file missing"
    return None


def _load_candidates(store: CrawlStore, images: Path, exclude_ids: frozenset[str]) -> _Candidates:
    fields = tuple(ATTRIBUTES.values())
    found: list[tuple[tuple[int, str], str, str, str | None, tuple[str | None, ...]]] = []
    excluded: Counter = Counter()
    kept = 0
    interned: dict[str, str] = {}
    for photo in store.kept_photos():
        kept += 1
        reason = _exclusion(photo, images, exclude_ids)
        if reason is not None:
            excluded[reason] += 1
            continue
        kind = device_kind(photo.exif.make, photo.exif.model)
        owner = interned.setdefault(photo.owner, photo.owner)
        values = tuple(None if (v := photo.labels.get(name)) is None else interned.setdefault(v, v) for name in fields)
        found.append((_id_key(photo.id), photo.id, owner, kind, values))
    found.sort(key=lambda entry: entry[0])
    labels_by_field = {name: [entry[4][i] for entry in found] for i, name in enumerate(fields)}
    as_of = datetime.fromtimestamp(store.last_update() or 0, tz=UTC).strftime("%Y-%m-%d")
    return _Candidates(
        ids=[entry[1] for entry in found],
        owners=[entry[2] for entry in found],
        kinds=[entry[3] for entry in found],
        labels=labels_by_field,
        kept=kept,
        excluded=excluded,
        data_as_of=as_of,
    )


# --- rows ------------------------------------------------------------------------------------------


class _Unusable(Exception):
    """A selected photo's bytes cannot be published (not a walkable JPEG); it is dropped, split redone."""

    def __init__(self, key: int, reason: str) -> None:
        super().__init__(reason)
        self.key = key


@dataclass(frozen=True)
class _FileFacts:
    width: int
    height: int
    jpeg_quality: int | None
    chroma_subsampling: str | None


def _jpeg_facts(data: bytes) -> _FileFacts:
    """Size, quality estimate and subsampling from the JPEG header (no pixel decoded, no Exif parsed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with PILImage.open(io.BytesIO(data), formats=("JPEG",)) as image:
            return _FileFacts(
                image.size[0],
                image.size[1],
                estimate_quality(getattr(image, "quantization", None) or {}),
                chroma_subsampling(getattr(image, "layer", None) or []),
            )


def _row_bytes(row: Mapping[str, Any]) -> int:
    """Bytes a row adds to a row group: its image, plus a flat allowance for the other columns."""
    image = row.get("image")
    return (len(image["bytes"]) if image else 0) + 1024


def _make_row(photo: StoredPhoto, key: int, label: int, kind: str | None, config: BuildConfig) -> dict[str, Any]:
    photo_id = photo.id
    data = (config.images / photo.download_path).read_bytes()
    try:
        header = _jpeg_facts(data)
        # Scrubbed even when only URLs are published: a photo whose bytes cannot be scrubbed is
        # dropped in both variants, so they always share the same selection and splits.
        published = scrub_jpeg(data) if config.scrub_metadata else data
    except NotAJpeg as error:
        raise _Unusable(key, f"{photo_id}: {error}") from None
    except Exception as error:  # noqa: BLE001 - any decoder complaint about the header: unusable bytes
        raise _Unusable(key, f"{photo_id}: not a readable JPEG ({type(error).__name__}: {error})") from None
    labels = photo.labels
    license_ = LICENSES.get(photo.license)
    row: dict[str, Any] = {}
    if config.include_images:
        row["image"] = {"bytes": published, "path": f"{photo_id}.jpg"}
    else:
        row["image_url"] = photo.url_o if photo.download_size == "Original" else photo.url_large
    row["flickr_id"] = photo_id
    row["label"] = label
    row.update({name: labels.get(name) for name in LABEL_COLUMNS})
    phone = labels.get("is_smartphone")
    row["is_smartphone"] = None if phone is None else phone == "True"
    row["device_kind"] = kind
    row.update(exif_columns(photo.exif))
    row.update({
        "width": header.width, "height": header.height, "jpeg_quality": header.jpeg_quality,
        "chroma_subsampling": header.chroma_subsampling, "download_size": photo.download_size,
        "is_original": photo.download_size == "Original",
        "owner": photo.owner, "owner_name": photo.owner_name, "date_taken": photo.date_taken,
        "title": photo.title, "photo_page_url": f"https://www.flickr.com/photos/{photo.owner}/{photo_id}/",
        "license": license_.name if license_ else None, "license_url": license_.url if license_ else None,
    })  # fmt: skip
    return row


def _rows(
    store: CrawlStore, candidates: _Candidates, chosen: Sequence[tuple[int, int]], config: BuildConfig, chunk: int = 256
) -> Iterator[dict[str, Any]]:
    """Rows of ``chosen`` ``(key, label)`` in order; the store reads their photos a chunk at a time."""
    photos = store.photos_by_id((candidates.ids[key] for key, _ in chosen), chunk=chunk)
    for (key, label), photo in zip(chosen, photos, strict=True):
        yield _make_row(photo, key, label, candidates.kinds[key], config)


# --- one configuration -----------------------------------------------------------------------------


def _write_paper_split(root: Path, attribute: str, split: SplitResult, candidates: _Candidates) -> None:
    """The paper's ``split_data_target_attribute=<Attr>.json`` (numeric ids as integers, like the paper)."""

    def photo_id(key: int) -> int | str:
        value = candidates.ids[key]
        return int(value) if value.isdigit() else value

    data: dict[str, Any] = {}
    for name in SPLITS:
        data[f"{PAPER_SPLIT_KEYS[name]}_ids"] = [photo_id(key) for key, _ in split.rows[name]]
    for name in SPLITS:
        data[f"encoded_{PAPER_SPLIT_KEYS[name]}_labels"] = [label for _, label in split.rows[name]]
    data["label_encoder_classes"] = list(split.classes)
    data["target_attribute"] = attribute
    path = root / paper_split_name(attribute)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(", ", ": ")) + "\n", encoding="utf-8")


def _build_config(
    store: CrawlStore,
    root: Path,
    attribute: str,
    candidates: _Candidates,
    config: BuildConfig,
    on_progress: Callable[[BuildProgress], None] | None,
) -> ConfigResult:
    spec = config.spec(attribute)
    unusable: set[int] = set()
    layout = config.parquet_layout()
    for _ in range(MAX_REBUILDS):
        split = owner_disjoint_split(
            candidates.items(attribute, spec, unusable), spec, seed=f"{config.seed}/{attribute}", balance=config.balance
        )
        if split.skipped is not None:
            return ConfigResult(
                attribute,
                (),
                (),
                split.per_class,
                dict.fromkeys(SPLITS, 0),
                split.available,
                {s: {} for s in SPLITS},
                split.dropped_classes,
                spec,
                len(unusable),
                split.skipped,
            )
        features = dataset_features(split.classes, config.include_images)
        folder = config_folder(attribute)

        def report(name: str, rows: int, split: SplitResult = split) -> None:
            if on_progress is not None:
                on_progress(BuildProgress(attribute, name, rows, len(split.rows[name])))

        try:
            rows = {name: _rows(store, candidates, split.rows[name], config) for name in SPLITS}
            written = write_config(
                rows, features, root, attribute, folder, layout, row_bytes=_row_bytes, on_row_group=report
            )
        except _Unusable as failure:
            unusable.add(failure.key)
            for path in (root / folder).glob("*"):
                path.unlink()
            continue
        _write_paper_split(root, attribute, split, candidates)
        counts = {
            name: {split.classes[label]: n for label, n in sorted(Counter(label for _, label in rows).items())}
            for name, rows in split.rows.items()
        }
        return ConfigResult(
            attribute,
            split.classes,
            written.splits,
            split.per_class,
            {name: len(owners) for name, owners in split.owners.items()},
            split.available,
            counts,
            split.dropped_classes,
            spec,
            len(unusable),
        )
    raise BuildError(f"{attribute}: more than {MAX_REBUILDS} selected photos have unusable bytes; check the images")


def skipped_summary(configs: Sequence[ConfigResult]) -> str:
    """One sentence for the configurations not built: each reason once, with the thresholds behind it."""
    groups: dict[str, list[ConfigResult]] = {}
    for c in configs:
        if c.skipped is not None:
            groups.setdefault(c.skipped, []).append(c)
    if not groups:
        return ""
    parts = []
    for reason, group in groups.items():
        limits = ", ".join(
            f"{c.name} (top_k {c.spec.top_k}, min_photos {c.spec.min_photos}, "
            f"val/test per class {c.spec.validation_per_class}/{c.spec.test_per_class})"
            for c in group
        )
        parts.append(f"{reason}: {limits}")
    return (
        "; ".join(parts) + ". A class needs min_photos eligible photos and owners enough for its validation "
        "and test photos; the defaults (flickrexif/data/build.json) need a large crawl, "
        "lower them with --specs FILE (JSON of the same shape)"
    )


# --- the crawl database ----------------------------------------------------------------------------


def _open_db(path: Path) -> CrawlStore:
    """The crawl database, read-only; the store's errors become build errors that name ``path`` as given."""
    try:
        return CrawlStore.open_readonly(path)
    except MissingStoreError:
        raise BuildError(f"no crawl database at {path}") from None
    except NotACrawlStoreError as error:
        raise BuildError(f"{path} is not a crawl database: {error.cause}") from None


def crawl_summary(store: CrawlStore) -> dict[str, Any]:
    """What the card says about the crawl: its searches and the largest photos-per-owner-month."""
    return {"queries": store.search_queries(), "max_photos_per_owner_month": store.max_kept_per_owner_month()}


# --- the dataset the release sequence publishes ----------------------------------------------------


def build_info(result: BuildResult, config: BuildConfig) -> dict[str, Any]:
    """Everything that decided the build's content, and per-configuration counts (no timings, no paths)."""
    return {
        "dataset": DATASET_NAME, "seed": config.seed, "balance": list(config.balance),
        "include_images": config.include_images, "scrub_metadata": config.scrub_metadata,
        "layout": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(config.parquet_layout()).items()},
        "photos_kept": result.photos_kept, "photos_eligible": result.photos_eligible,
        "excluded": dict(sorted(result.excluded.items())), "data_as_of": result.data_as_of,
        "configs": {
            c.name: {
                "spec": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(c.spec).items()},
                "classes": list(c.classes), "per_class": dict(c.per_class), "owners": dict(c.owners),
                "examples": {s.split: s.num_examples for s in c.splits}, "available": c.available,
                "class_counts": c.class_counts,
                "dropped_classes": dict(sorted(c.dropped_classes.items())), "unusable_photos": c.unusable_photos,
                "skipped": c.skipped,
            }
            for c in result.configs
        },
    }  # fmt: skip


class FlickrExifDataset:
    """FlickrExif as :func:`flickrexif.publish.release.release` publishes it (a ``ReleasableDataset``)."""

    name = DATASET_NAME
    packages: tuple[str, ...] = ()

    def __init__(self, config: BuildConfig, on_progress: Callable[[BuildProgress], None] | None = None):
        self.config = config
        self.on_progress = on_progress

    def write_data(self, folder: Path) -> DatasetContents:
        """Every configuration's shards and paper split file; raises :class:`BuildError` if none can be built."""
        started = time.monotonic()
        config = self.config
        store = _open_db(config.db)
        try:
            candidates = _load_candidates(store, Path(config.images), frozenset(config.exclude_ids))
            results = tuple(
                _build_config(store, folder, attribute, candidates, config, self.on_progress)
                for attribute in config.attributes
            )
            crawl = crawl_summary(store)
        finally:
            store.close()
        result = BuildResult(
            folder,
            results,
            candidates.kept,
            len(candidates.ids),
            dict(candidates.excluded),
            candidates.data_as_of,
            time.monotonic() - started,
            crawl,
        )
        if not result.built:
            raise BuildError(
                f"no configuration could be built from {len(candidates.ids)} eligible photos: {skipped_summary(results)}"
            )
        configs = tuple(
            PublishedConfig(c.name, dataset_features(c.classes, config.include_images), c.splits, default=(i == 0))
            for i, c in enumerate(result.built)
        )
        counts = {c.name: {s.split: s.num_examples for s in c.splits} for c in result.built}
        return DatasetContents(
            configs,
            build_info(result, config),
            result.data_as_of,
            manifest={"seed": config.seed, "configs": counts},
            details=result,
        )

    def card(self, contents: DatasetContents, version: str | None) -> str:
        return flickrexif_card(contents, self.config, version)

    def changelog_lines(self, contents: DatasetContents, previous: Path | None) -> list[str]:
        """Per configuration its classes and split sizes, with the previous release's sizes when they changed."""
        result: BuildResult = contents.details
        old: dict[str, Any] = {}
        if previous is not None:
            try:
                old = read_manifest(previous).get("configs", {})
            except ReleaseError:
                old = {}
        lines = []
        for c in result.built:
            counts = {s.split: s.num_examples for s in c.splits}
            text = f"{c.name}: {len(c.classes)} classes, " + ", ".join(f"{k} {v}" for k, v in counts.items())
            before = old.get(c.name)
            if before is not None and before != counts:
                text += " (was " + ", ".join(f"{k} {v}" for k, v in before.items()) + ")"
            elif before is None and previous is not None:
                text += " (new)"
            lines.append(text)
        lines += [f"{c.name}: not built ({c.skipped})" for c in result.configs if c.skipped is not None]
        if previous is not None:
            gone = sorted(set(old) - {c.name for c in result.built})
            lines.extend(f"{name}: removed" for name in gone)
        return lines


def build(
    config: BuildConfig,
    out_dir: Path,
    on_progress: Callable[[BuildProgress], None] | None = None,
    on_removed: Callable[[Path, int], object] | None = None,
) -> BuildResult:
    """Build every configuration into ``out_dir`` (must not exist): card, data shards, split files.

    The folder appears complete or not at all (it is written next to ``out_dir`` and renamed); a
    killed build's hidden leftover is removed first, told to ``on_removed(folder, bytes)``.
    """
    contents = write_dataset(FlickrExifDataset(config, on_progress), Path(out_dir), on_removed)
    return replace(contents.details, out_dir=Path(out_dir))
