"""``flickrexif build`` / ``release``: the crawl database → the FlickrExif dataset, one config per attribute.

For each paper attribute (``Make``, ``Model``, ..., ``Year``) the builder takes the kept, downloaded,
permissively licensed JPEG photos from camera and phone sources, picks and balances classes and
splits them by owner (:mod:`flickrexif.dataset.split`), then streams rows into Parquet shards
(:func:`flickrexif.release.write_split`): memory holds one row group, whatever the photo count.

Rows carry the downloaded bytes, never re-encoded, with identifying metadata removed
(:mod:`flickrexif.exif.scrub`); the labels, the Exif fields that describe the capture (no GPS, no serial
numbers), JPEG facts read from the file header, and TASL attribution.  ``include_images=False``
keeps the URL of the downloaded size instead of the bytes, with the same selection and splits.

Everything written is a function of the database, the image files, the seed and the settings, so
two builds give byte-identical files (see :mod:`flickrexif.publish.release` for the Parquet details).
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import sqlite3
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Features, Image, Value
from PIL import Image as PILImage

from flickrexif.exif.jpeg import chroma_subsampling, estimate_quality
from flickrexif.exif.labels import ATTRIBUTES, device_kind
from flickrexif.crawl.licenses import LICENSES, PERMISSIVE_LICENSES
from flickrexif.publish.release import (
    CARD_NAME,
    ParquetLayout,
    ReleaseError,
    SplitFiles,
    atomic_folder,
    changelog_entry,
    previous_release,
    read_manifest,
    release_name,
    write_changelog,
    write_manifest,
    write_split,
)
from flickrexif.exif.scrub import NotAJpeg, scrub_jpeg
from flickrexif.dataset.split import SPLITS, TEST, TRAIN, VALIDATION, Item, SplitResult, SplitSpec, owner_disjoint_split
from flickrexif.crawl.store import KEPT
from flickrexif.exif.tables import load_table

DATASET_NAME = "FlickrExif"
JPEG_SUFFIXES = (".jpg", ".jpeg")
PAPER_SPLIT_KEYS = {TRAIN: "train", VALIDATION: "val", TEST: "test"}
MAX_REBUILDS = 50  # per configuration: photos whose bytes turn out unusable are dropped and the split redone


def specs_from_table(table: Mapping[str, Mapping[str, Any]], base: Mapping[str, SplitSpec] | None = None
                     ) -> dict[str, SplitSpec]:
    """Specs from a ``build.json``-style ``{"Make": {"top_k": 9, ...}}``; missing keys come from ``base``."""
    specs = dict(base or {})
    for name, entry in table.items():
        if name not in ATTRIBUTES:
            raise ValueError(f"unknown attribute {name!r}; the configurations are {list(ATTRIBUTES)}")
        known = {"top_k", "min_photos", "val_per_class", "test_per_class", "train_per_class", "device_kinds"}
        if set(entry) - known:
            raise ValueError(f"{name}: unknown setting(s) {sorted(set(entry) - known)}; known: {sorted(known)}")
        old = specs.get(name)
        merged = {
            "top_k": old.top_k if old else None, "min_photos": old.min_photos if old else None,
            "val_per_class": old.validation_per_class if old else None,
            "test_per_class": old.test_per_class if old else None,
            "train_per_class": old.train_per_class if old else None,
            "device_kinds": list(old.device_kinds) if old else ["camera", "smartphone"], **entry,
        }  # fmt: skip
        missing = [key for key in ("top_k", "min_photos", "val_per_class", "test_per_class") if merged[key] is None]
        if missing:
            raise ValueError(f"{name}: missing setting(s) {missing}")
        specs[name] = SplitSpec(
            top_k=merged["top_k"], min_photos=merged["min_photos"], validation_per_class=merged["val_per_class"],
            test_per_class=merged["test_per_class"], train_per_class=merged["train_per_class"],
            device_kinds=tuple(merged["device_kinds"]),
        )
    return specs


def default_specs() -> dict[str, SplitSpec]:
    """Per-attribute defaults from ``flickrexif/data/build.json``."""
    return specs_from_table(load_table("build")["attributes"])


def load_exclusions(path: Path) -> frozenset[str]:
    """Photo ids to leave out (takedown requests): one id or photo page URL per line, ``#`` comments."""
    ids = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip().rstrip("/")
        if text:
            ids.add(text.rsplit("/", 1)[-1])
    return frozenset(ids)


def load_specs(path: Path) -> dict[str, SplitSpec]:
    """Defaults overridden by a JSON file of the same shape as ``build.json`` (``attributes`` optional)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"cannot read split settings from {path}: {error}") from None
    return specs_from_table(data.get("attributes", data), default_specs())


def image_layout() -> ParquetLayout:
    """Shards of at most 500 MB, row groups of 100 photos or 64 MB; JPEG bytes stored uncompressed."""
    return ParquetLayout(raw_columns=("image.bytes",))


@dataclass(frozen=True)
class BuildConfig:
    """What to build; ``specs`` overrides the defaults of the attributes it names."""

    db: Path
    images: Path
    seed: int = 0
    attributes: tuple[str, ...] = tuple(ATTRIBUTES)
    specs: Mapping[str, SplitSpec] = field(default_factory=dict)
    balance: tuple[str, ...] = SPLITS
    include_images: bool = True
    scrub_metadata: bool = True
    layout: ParquetLayout = field(default_factory=image_layout)
    exclude_ids: frozenset[str] = frozenset()  # taken down on request: never published again

    def __post_init__(self) -> None:
        object.__setattr__(self, "db", Path(self.db))  # accept str paths; the instance stays immutable
        object.__setattr__(self, "images", Path(self.images))
        object.__setattr__(self, "exclude_ids", frozenset(self.exclude_ids))
        unknown = [name for name in (*self.attributes, *self.specs) if name not in ATTRIBUTES]
        if unknown:
            raise ValueError(f"unknown attribute(s) {unknown}; the configurations are {list(ATTRIBUTES)}")
        if not self.attributes:
            raise ValueError("at least one attribute is needed")
        if set(self.balance) - set(SPLITS):
            raise ValueError(f"balance names splits other than {SPLITS}: {self.balance}")

    def spec(self, attribute: str) -> SplitSpec:
        return self.specs.get(attribute) or default_specs()[attribute]

    def parquet_layout(self) -> ParquetLayout:
        raw = self.layout.raw_columns if self.include_images else tuple(
            c for c in self.layout.raw_columns if not c.startswith("image.")
        )
        return replace(self.layout, raw_columns=raw)


@dataclass(frozen=True)
class ReleaseConfig:
    """Where and as which version to release; ``notes`` become changelog lines."""

    releases_dir: Path
    version: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildProgress:
    """Reported after every row group: which configuration and split, and its rows so far."""

    config: str
    split: str
    rows: int
    total: int


@dataclass(frozen=True)
class ConfigResult:
    """One configuration as built (or why it was skipped)."""

    name: str
    classes: tuple[str, ...]
    splits: tuple[SplitFiles, ...]
    per_class: Mapping[str, int]
    owners: Mapping[str, int]
    available: Mapping[str, Mapping[str, int]]  # split → class → photos its owners offered
    class_counts: Mapping[str, Mapping[str, int]]  # split → class → photos in the dataset
    dropped_classes: Mapping[str, str]
    spec: SplitSpec
    unusable_photos: int = 0
    skipped: str | None = None

    @property
    def rows(self) -> int:
        return sum(s.num_examples for s in self.splits)


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    configs: tuple[ConfigResult, ...]
    photos_kept: int
    photos_eligible: int
    excluded: Mapping[str, int]
    data_as_of: str
    seconds: float

    @property
    def rows(self) -> int:
        return sum(c.rows for c in self.configs)

    @property
    def built(self) -> tuple[ConfigResult, ...]:
        return tuple(c for c in self.configs if c.skipped is None)


@dataclass(frozen=True)
class ReleaseResult:
    path: Path
    version: str
    build: BuildResult
    manifest: Mapping[str, Any]


class BuildError(Exception):
    """The dataset cannot be built from these inputs (missing database, nothing to build)."""


# --- features --------------------------------------------------------------------------------------

LABEL_COLUMNS = tuple(field for field in ATTRIBUTES.values() if field != "is_smartphone")
_EXIF_COLUMNS: dict[str, Value] = {
    "exif_make": Value("string"), "exif_model": Value("string"), "exif_lens": Value("string"),
    "exif_software": Value("string"), "exif_datetime_original": Value("string"),
    "exif_exposure_time": Value("string"), "exif_f_number": Value("float64"), "exif_iso": Value("int64"),
    "exif_focal_length_mm": Value("float64"), "exif_focal_length_35mm": Value("float64"),
    "exif_flash_fired": Value("bool"), "exif_orientation": Value("int32"),
}  # fmt: skip
_FILE_COLUMNS: dict[str, Value] = {
    "width": Value("int32"), "height": Value("int32"), "jpeg_quality": Value("int32"),
    "chroma_subsampling": Value("string"), "download_size": Value("string"), "is_original": Value("bool"),
}  # fmt: skip
_ATTRIBUTION_COLUMNS: dict[str, Value] = {
    "owner": Value("string"), "owner_name": Value("string"), "date_taken": Value("string"),
    "title": Value("string"), "photo_page_url": Value("string"), "license": Value("string"),
    "license_url": Value("string"),
}  # fmt: skip
COLUMN_DOCS = {
    "image": "the photo file as downloaded (not re-encoded); GPS, serial numbers and XMP/IPTC removed",
    "image_url": "(no-images variant) URL of the downloaded size on Flickr's static server",
    "flickr_id": "Flickr photo id",
    "label": "the configuration's class (ClassLabel; names sorted as scikit-learn's LabelEncoder)",
    **{name: f"{name} label (canonical class name, empty when unknown)" for name in LABEL_COLUMNS},
    "is_smartphone": "taken with a phone or tablet",
    "device_kind": "camera or smartphone",
    "exif_*": "Exif values as Flickr reported them (exposure time as a fraction string)",
    "width, height": "pixel size of the file",
    "jpeg_quality": "IJG quality estimated from the file's quantization tables",
    "chroma_subsampling": "chroma subsampling of the file (4:2:0, 4:4:4, ...)",
    "download_size": "Original, or the size downloaded when the owner does not offer the original",
    "is_original": "download_size is Original",
    "owner, owner_name": "Flickr NSID and display name of the photographer",
    "date_taken": "Flickr's date taken",
    "title, photo_page_url, license, license_url": "attribution (TASL)",
}


def dataset_features(classes: Sequence[str], include_images: bool = True) -> Features:
    """The columns of every configuration, with ``label`` naming ``classes``; defined once here."""
    columns: dict[str, Any] = {"image": Image()} if include_images else {"image_url": Value("string")}
    columns["flickr_id"] = Value("string")
    columns["label"] = ClassLabel(names=list(classes))
    columns.update({name: Value("string") for name in LABEL_COLUMNS})
    columns["is_smartphone"] = Value("bool")
    columns["device_kind"] = Value("string")
    columns.update(_EXIF_COLUMNS)
    columns.update(_FILE_COLUMNS)
    columns.update(_ATTRIBUTION_COLUMNS)
    return Features(columns)


def config_folder(attribute: str) -> str:
    """``"Smartphone Model"`` → ``"data/Smartphone_Model"``."""
    return "data/" + attribute.replace(" ", "_")


def paper_split_name(attribute: str) -> str:
    return f"splits/split_data_target_attribute={attribute}.json"


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


def _exclusion(row: sqlite3.Row, images: Path, exclude_ids: frozenset[str]) -> str | None:
    if row["id"] in exclude_ids:
        return "taken down"
    if row["license"] not in PERMISSIVE_LICENSES:
        return "license not permissive"
    if row["download_status"] != "done" or not row["download_path"]:
        return "not downloaded"
    if not row["download_path"].lower().endswith(JPEG_SUFFIXES):
        return "not a JPEG file"
    if not row["labels"] or not row["exif"]:
        return "no labels"
    if not (images / row["download_path"]).is_file():
        return "image file missing"
    return None


def _load_candidates(db: sqlite3.Connection, images: Path, exclude_ids: frozenset[str]) -> _Candidates:
    rows = db.execute(
        "SELECT id, owner, license, labels, exif, download_status, download_path FROM photos WHERE status = ?", (KEPT,)
    )
    fields = tuple(ATTRIBUTES.values())
    found: list[tuple[tuple[int, str], str, str, str | None, tuple[str | None, ...]]] = []
    excluded: Counter = Counter()
    kept = 0
    interned: dict[str, str] = {}
    for row in rows:
        kept += 1
        reason = _exclusion(row, images, exclude_ids)
        if reason is not None:
            excluded[reason] += 1
            continue
        exif = json.loads(row["exif"])
        kind = device_kind(exif.get("make"), exif.get("model"))
        owner = interned.setdefault(row["owner"], row["owner"])
        labels = json.loads(row["labels"])
        values = tuple(None if (v := labels.get(name)) is None else interned.setdefault(v, v) for name in fields)
        found.append((_id_key(row["id"]), row["id"], owner, kind, values))
    found.sort(key=lambda entry: entry[0])
    labels_by_field = {name: [entry[4][i] for entry in found] for i, name in enumerate(fields)}
    last = db.execute("SELECT MAX(updated_at) FROM photos").fetchone()[0]
    as_of = datetime.fromtimestamp(last or 0, tz=timezone.utc).strftime("%Y-%m-%d")
    return _Candidates(
        ids=[entry[1] for entry in found], owners=[entry[2] for entry in found], kinds=[entry[3] for entry in found],
        labels=labels_by_field, kept=kept, excluded=excluded, data_as_of=as_of,
    )


# --- rows ------------------------------------------------------------------------------------------

_ROW_COLUMNS = ("id, owner, owner_name, title, license, date_taken, url_o, url_large, exif, labels, "
                "download_size, download_path")


class _Unusable(Exception):
    """A selected photo's bytes cannot be published (not a walkable JPEG); it is dropped, split redone."""

    def __init__(self, key: int, reason: str) -> None:
        super().__init__(reason)
        self.key = key


def _number(value: Any, kind: type) -> Any:
    return None if value is None else kind(value)


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
                image.size[0], image.size[1], estimate_quality(getattr(image, "quantization", None) or {}),
                chroma_subsampling(getattr(image, "layer", None) or []),
            )


def _row_bytes(row: Mapping[str, Any]) -> int:
    """Bytes a row adds to a row group: its image, plus a flat allowance for the other columns."""
    image = row.get("image")
    return (len(image["bytes"]) if image else 0) + 1024


def _make_row(photo: sqlite3.Row, key: int, label: int, kind: str | None, config: BuildConfig) -> dict[str, Any]:
    photo_id = photo["id"]
    data = (config.images / photo["download_path"]).read_bytes()
    try:
        header = _jpeg_facts(data)
        # Scrubbed even when only URLs are published: a photo whose bytes cannot be scrubbed is
        # dropped in both variants, so they always share the same selection and splits.
        published = scrub_jpeg(data) if config.scrub_metadata else data
    except NotAJpeg as error:
        raise _Unusable(key, f"{photo_id}: {error}") from None
    except Exception as error:  # noqa: BLE001 - any decoder complaint about the header: unusable bytes
        raise _Unusable(key, f"{photo_id}: not a readable JPEG ({type(error).__name__}: {error})") from None
    exif = json.loads(photo["exif"])
    labels = json.loads(photo["labels"])
    license_ = LICENSES.get(photo["license"])
    row: dict[str, Any] = {}
    if config.include_images:
        row["image"] = {"bytes": published, "path": f"{photo_id}.jpg"}
    else:
        row["image_url"] = photo["url_o"] if photo["download_size"] == "Original" else photo["url_large"]
    row["flickr_id"] = photo_id
    row["label"] = label
    row.update({name: labels.get(name) for name in LABEL_COLUMNS})
    phone = labels.get("is_smartphone")
    row["is_smartphone"] = None if phone is None else phone == "True"
    row["device_kind"] = kind
    row.update({
        "exif_make": exif.get("make"), "exif_model": exif.get("model"), "exif_lens": exif.get("lens"),
        "exif_software": exif.get("software"), "exif_datetime_original": exif.get("datetime_original"),
        "exif_exposure_time": exif.get("exposure_time"), "exif_f_number": _number(exif.get("f_number"), float),
        "exif_iso": _number(exif.get("iso"), int), "exif_focal_length_mm": _number(exif.get("focal_length_mm"), float),
        "exif_focal_length_35mm": _number(exif.get("focal_length_35mm"), float),
        "exif_flash_fired": exif.get("flash_fired"), "exif_orientation": _number(exif.get("orientation"), int),
        "width": header.width, "height": header.height, "jpeg_quality": header.jpeg_quality,
        "chroma_subsampling": header.chroma_subsampling, "download_size": photo["download_size"],
        "is_original": photo["download_size"] == "Original",
        "owner": photo["owner"], "owner_name": photo["owner_name"], "date_taken": photo["date_taken"],
        "title": photo["title"], "photo_page_url": f"https://www.flickr.com/photos/{photo['owner']}/{photo_id}/",
        "license": license_.name if license_ else None, "license_url": license_.url if license_ else None,
    })  # fmt: skip
    return row


def _rows(db: sqlite3.Connection, candidates: _Candidates, chosen: Sequence[tuple[int, int]],
          config: BuildConfig, chunk: int = 256) -> Iterator[dict[str, Any]]:
    """Rows of ``chosen`` ``(key, label)`` in order, fetching database rows a chunk at a time."""
    for start in range(0, len(chosen), chunk):
        part = chosen[start : start + chunk]
        ids = [candidates.ids[key] for key, _ in part]
        found = {
            row["id"]: row
            for row in db.execute(f"SELECT {_ROW_COLUMNS} FROM photos WHERE id IN ({','.join('?' * len(ids))})", ids)
        }
        for (key, label), photo_id in zip(part, ids):
            yield _make_row(found[photo_id], key, label, candidates.kinds[key], config)


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


def _build_config(db: sqlite3.Connection, root: Path, attribute: str, candidates: _Candidates, config: BuildConfig,
                  on_progress: Callable[[BuildProgress], None] | None) -> ConfigResult:
    spec = config.spec(attribute)
    unusable: set[int] = set()
    layout = config.parquet_layout()
    for _ in range(MAX_REBUILDS):
        split = owner_disjoint_split(candidates.items(attribute, spec, unusable), spec,
                                     seed=f"{config.seed}/{attribute}", balance=config.balance)
        if split.skipped is not None:
            return ConfigResult(attribute, (), (), split.per_class, dict.fromkeys(SPLITS, 0), split.available,
                                {s: {} for s in SPLITS}, split.dropped_classes, spec, len(unusable), split.skipped)
        schema = dataset_features(split.classes, config.include_images).arrow_schema
        folder = config_folder(attribute)
        try:
            written = []
            for name in SPLITS:
                chosen = split.rows[name]

                def report(rows: int, name: str = name, total: int = len(chosen)) -> None:
                    if on_progress is not None:
                        on_progress(BuildProgress(attribute, name, rows, total))

                written.append(write_split(_rows(db, candidates, chosen, config), schema, root, folder, name,
                                           layout, row_bytes=_row_bytes, on_row_group=report))
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
            attribute, split.classes, tuple(written), split.per_class,
            {name: len(owners) for name, owners in split.owners.items()}, split.available, counts,
            split.dropped_classes, spec, len(unusable),
        )
    raise BuildError(f"{attribute}: more than {MAX_REBUILDS} selected photos have unusable bytes; check the images")


# --- build and release -----------------------------------------------------------------------------


def _open_db(path: Path) -> sqlite3.Connection:
    if not Path(path).is_file():
        raise BuildError(f"no crawl database at {path}")
    db = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        db.execute("SELECT 1 FROM photos LIMIT 1")
    except sqlite3.DatabaseError as error:
        db.close()
        raise BuildError(f"{path} is not a crawl database: {error}") from None
    return db


def crawl_summary(db: sqlite3.Connection) -> dict[str, Any]:
    """What the card says about the crawl: its searches and the largest photos-per-owner-month."""
    queries = []
    for (text,) in db.execute("SELECT DISTINCT query FROM search_windows ORDER BY query"):
        try:
            query = json.loads(text)
        except json.JSONDecodeError:
            query = None
        queries.append(query if isinstance(query, dict) else {"text": text})
    row = db.execute(
        "SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM photos WHERE status = ? GROUP BY owner, month)", (KEPT,)
    ).fetchone()
    return {"queries": queries, "max_photos_per_owner_month": row[0] or 0}


def _build_into(config: BuildConfig, root: Path, on_progress: Callable[[BuildProgress], None] | None,
                version: str | None) -> BuildResult:
    from flickrexif.dataset.card import flickrexif_card  # the card imports this module's column docs

    started = time.monotonic()
    db = _open_db(config.db)
    try:
        candidates = _load_candidates(db, Path(config.images), frozenset(config.exclude_ids))
        results = tuple(_build_config(db, root, attribute, candidates, config, on_progress)
                        for attribute in config.attributes)
        crawl = crawl_summary(db)
    finally:
        db.close()
    result = BuildResult(root, results, candidates.kept, len(candidates.ids), dict(candidates.excluded),
                         candidates.data_as_of, time.monotonic() - started)
    if not result.built:
        reasons = "; ".join(f"{c.name}: {c.skipped}" for c in results)
        raise BuildError(f"no configuration could be built from {len(candidates.ids)} eligible photos ({reasons})")
    (root / CARD_NAME).write_text(flickrexif_card(result, config, crawl, version), encoding="utf-8")
    (root / "build_info.json").write_text(json.dumps(build_info(result, config), indent=2, sort_keys=True) + "\n",
                                          encoding="utf-8")
    return result


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


def build(config: BuildConfig, out_dir: Path, on_progress: Callable[[BuildProgress], None] | None = None) -> BuildResult:
    """Build every configuration into ``out_dir`` (must not exist): card, data shards, split files.

    The folder appears complete or not at all (it is written next to ``out_dir`` and renamed).
    """
    with atomic_folder(Path(out_dir)) as folder:
        result = _build_into(config, folder, on_progress, version=None)
    return replace(result, out_dir=Path(out_dir))


def _tool_versions() -> dict[str, str]:
    """Versions of the libraries whose output bytes the release depends on."""
    versions = {}
    for name in ("flickrexif", "pyarrow", "datasets", "pillow"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def _changelog_lines(result: BuildResult, previous: Path | None, notes: Sequence[str]) -> list[str]:
    lines = list(notes)
    old: dict[str, Any] = {}
    if previous is not None:
        try:
            old = read_manifest(previous).get("configs", {})
        except ReleaseError:
            old = {}
    for c in result.built:
        counts = {s.split: s.num_examples for s in c.splits}
        text = f"{c.name}: {len(c.classes)} classes, " + ", ".join(f"{k} {v}" for k, v in counts.items())
        before = old.get(c.name)
        if before is not None and before != counts:
            text += " (was " + ", ".join(f"{k} {v}" for k, v in before.items()) + ")"
        elif before is None and previous is not None:
            text += " (new)"
        lines.append(text)
    for c in result.configs:
        if c.skipped is not None:
            lines.append(f"{c.name}: not built ({c.skipped})")
    if previous is not None:
        gone = sorted(set(old) - {c.name for c in result.built})
        lines.extend(f"{name}: removed" for name in gone)
    return lines


def release(config: BuildConfig, release_config: ReleaseConfig,
            on_progress: Callable[[BuildProgress], None] | None = None) -> ReleaseResult:
    """Build into ``RELEASES/vX.Y.Z/`` with manifest and changelog; atomic and reproducible.

    Same database, images, version, seed and settings (and the same earlier releases, which the
    changelog extends) give byte-identical files.  A killed release leaves only a hidden
    ``.vX.Y.Z.partial-PID`` folder, removed by the next release; ``vX.Y.Z`` never exists half-made.
    """
    name = release_name(release_config.version)
    version = name[1:]
    root = Path(release_config.releases_dir)
    previous = previous_release(root, version)
    with atomic_folder(root / name) as folder:
        result = _build_into(config, folder, on_progress, version=version)
        entry = changelog_entry(version, result.data_as_of, _changelog_lines(result, previous, release_config.notes))
        write_changelog(folder, entry, previous)
        manifest = write_manifest(folder, name=DATASET_NAME, version=version, extra={
            "seed": config.seed,
            "tools": _tool_versions(),
            "configs": {c.name: {s.split: s.num_examples for s in c.splits} for c in result.built},
        })
    return ReleaseResult(root / name, version, replace(result, out_dir=root / name), manifest)
