"""Dataset kinds: what a ``--dataset`` argument is, detected once, and how it opens.

:data:`KINDS` declares each kind once: how it is recognised and how it opens an :class:`ImageSet`
for a configuration (which tasks apply to a kind is each task's declaration, in
:mod:`benchmark.tasks.registry`).  :func:`detect` reads the dataset card (``README.md``, a Hugging
Face card's YAML) at most once and returns the first kind that matches, in this order:

* ``official-flickrexif``: ``official:IMAGES_DIR:SPLITS_DIR``, the paper's layout, one attribute per
  split file ``split_data_target_attribute=<Attr>.json``;
* ``paircams``: a card whose features include ``subject_idx``;
* ``flickrexif``: a card whose configurations are FlickrExif attributes (Make, Model, ...);
* ``image-folder``: a folder without a card (sub-folders give classes);
* ``hf-dataset``: anything else (a folder whose card is neither, or a cached Hub id); as an image folder.

:class:`SourceOptions` is the option group of every command that reads datasets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from benchmark.choices import ExifOrientation, chosen
from benchmark.errors import UsageError
from benchmark.sources.cards import HUB_ID, Card, card_configs, card_features, read_card
from benchmark.sources.folder import image_folder
from benchmark.sources.hub import hf_dataset
from benchmark.sources.imageset import ImageSet, with_exif_orientation
from benchmark.sources.official import official_flickrexif
from benchmark.sources.paircams import paircams_set
from flickrexif.exif.labels import ATTRIBUTES

FLICKREXIF_ATTRIBUTES = tuple(ATTRIBUTES)
OFFICIAL_PREFIX = "official:"
LABEL_COLUMN_KINDS = ("paircams", "flickrexif", "hf-dataset")  # kinds read through ``datasets``: columns

Loader = Callable[[], ImageSet]


@dataclass(frozen=True)
class DatasetKind:
    """One kind of dataset argument; see the module notes."""

    name: str
    matches: Callable[[str, Card | None], bool]  # (dataset argument, card metadata) -> is it this kind
    open: Callable[[Detected, str | None], ImageSet]  # (detected dataset, configuration) -> its image set
    attributes: Callable[[Detected], list[str]] = lambda found: []  # the FlickrExif attributes it holds
    label: str | None = None  # the name in result paths, when the kind fixes it


@dataclass(frozen=True)
class Detected:
    """A dataset argument, its kind, and the card that was read to decide it."""

    kind: DatasetKind
    dataset: str
    card: Card | None = None
    revision: str | None = None  # of a Hub dataset: tag, branch or commit
    splits: tuple[str, ...] | None = None  # only these splits of a Hugging Face dataset
    config: str | None = None  # the configuration of a Hugging Face dataset (not a FlickrExif attribute)
    exif_orientation: ExifOrientation = ExifOrientation.AUTO  # how its images are decoded (auto: as released)
    label_column: str | None = None  # the classes of a Hugging Face dataset (default: a ClassLabel ``label``)
    _loaders: dict[str | None, Loader] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def configs(self) -> list[str]:
        return card_configs(self.card)

    def attributes(self) -> list[str]:
        """The FlickrExif attributes (acquisition targets) it holds; none for other kinds."""
        return self.kind.attributes(self)

    def open(self, config: str | None = None) -> ImageSet:
        """Its image set (of ``config``, a FlickrExif attribute), decoded with the chosen Exif orientation."""
        if self.label_column is not None and self.kind.name not in LABEL_COLUMN_KINDS:
            raise UsageError(
                f"--label-column names a column of a Hugging Face dataset; {self.dataset} is a {self.kind.name}, "
                "whose classes are its folders (or split files): leave --label-column out"
            )
        return with_exif_orientation(self.kind.open(self, config), self.exif_orientation)

    def loader(self, config: str | None = None) -> Loader:
        """Opens the image set at most once per run, and only if a task needs it."""
        if config not in self._loaders:
            self._loaders[config] = lru_cache(maxsize=1)(lambda: self.open(config))
        return self._loaders[config]

    @property
    def label(self) -> str:
        """The dataset's name in result paths and tables: unique enough that two releases never share it.

        A release folder is named by its version (``releases/v1.0.0``), so the card's ``pretty_name``
        (or else the parent folder) goes in front: ``FlickrExif-v1.0.0``, ``PairCams-v1.0.0``.
        """
        if self.kind.label:
            return self.kind.label
        folder = Path(self.dataset).resolve() if Path(self.dataset).exists() else Path(self.dataset)
        if self.revision:  # a Hub dataset at a tag: my-org/FlickrExif @ v1.0.0 -> FlickrExif-v1.0.0
            return f"{folder.name}-{self.revision}"
        if not re.fullmatch(r"v\d+(\.\d+)*", folder.name):
            return folder.name
        prefix = str((self.card or {}).get("pretty_name") or folder.parent.name or "dataset").replace("/", "-")
        return f"{prefix}-{folder.name}"


def _official_dirs(found: Detected) -> tuple[str, str]:
    _, images_dir, splits_dir = found.dataset.split(":", 2)
    return images_dir, splits_dir


def _open_official(found: Detected, config: str | None) -> ImageSet:
    if config is None:
        raise UsageError("the official layout needs an attribute (e.g. Make)")
    return official_flickrexif(*_official_dirs(found), config)


def _official_attributes(found: Detected) -> list[str]:
    files = sorted(Path(_official_dirs(found)[1]).glob("split_data_target_attribute=*.json"))
    return [p.stem.split("=", 1)[1] for p in files]


def _open_hf(found: Detected, config: str | None) -> ImageSet:
    """The configuration asked for, else the first when the card lists several."""
    configs = found.configs
    chosen = config or found.config or (configs[0] if len(configs) > 1 else None)
    return hf_dataset(
        found.dataset, chosen, revision=found.revision, splits=found.splits, label_column=found.label_column
    )


KINDS: tuple[DatasetKind, ...] = (
    DatasetKind(
        "official-flickrexif",
        lambda dataset, card: dataset.startswith(OFFICIAL_PREFIX),
        _open_official,
        _official_attributes,
        label="flickrexif-official",
    ),
    DatasetKind(
        "paircams",
        lambda dataset, card: "subject_idx" in card_features(card),
        lambda found, config: paircams_set(found.dataset, found.revision, found.label_column),
    ),
    DatasetKind(
        "flickrexif",
        lambda dataset, card: any(c in FLICKREXIF_ATTRIBUTES for c in card_configs(card)),
        _open_hf,
        lambda found: [c for c in found.configs if c in FLICKREXIF_ATTRIBUTES],
    ),
    DatasetKind(
        "image-folder",
        lambda dataset, card: card is None and Path(dataset).is_dir(),
        lambda found, config: image_folder(found.dataset),
    ),
    DatasetKind("hf-dataset", lambda dataset, card: True, _open_hf),
)


def check_location(dataset: str) -> None:
    """A dataset argument that names nothing: one message with what is there (``releases/v1.0``).

    A missing path whose first folder does not exist here either may be a Hub id (``ORG/NAME``) and
    passes; ``datasets`` resolves it.
    """
    if dataset.startswith(OFFICIAL_PREFIX):
        parts = dataset.split(":", 2)
        if len(parts) != 3:
            raise UsageError(f"{dataset!r}: the official layout is official:IMAGES_DIR:SPLITS_DIR")
        for role, folder in (("images", parts[1]), ("split files", parts[2])):
            if not Path(folder).is_dir():
                raise UsageError(f"no {role} folder {folder} (in {dataset})")
        return
    path = Path(dataset)
    if path.exists():
        return
    parent = next((p for p in path.parents if p != Path(".") and p.is_dir()), None)
    if parent is None and HUB_ID.match(dataset):
        return
    where = parent or Path(".")
    here = sorted(p.name + "/" for p in where.iterdir() if p.is_dir() and not p.name.startswith("."))[:12]
    raise UsageError(
        f"no dataset at {dataset}: {where}/ holds " + (", ".join(here) if here else "no folders")
        if parent is not None
        else f"no dataset folder {dataset} (and not a Hub id ORG/NAME)"
    )


def detect(
    dataset: str,
    revision: str | None = None,
    splits: Sequence[str] | None = None,
    config: str | None = None,
    exif_orientation: str = ExifOrientation.AUTO,
    label_column: str | None = None,
) -> Detected:
    """The kind of a dataset argument (the first of :data:`KINDS` that matches), with the card it read;
    ``revision``, ``splits``, ``config`` and ``label_column`` choose what of a Hugging Face dataset is
    opened, ``exif_orientation`` how its images are decoded."""
    card = None if dataset.startswith(OFFICIAL_PREFIX) else read_card(dataset, revision)
    kind = next(kind for kind in KINDS if kind.matches(dataset, card))
    orientation = chosen(ExifOrientation, exif_orientation, "--exif-orientation")
    chosen_splits = tuple(splits) if splits else None
    return Detected(kind, dataset, card, revision, chosen_splits, config, orientation, label_column)


@dataclass(frozen=True)
class SourceOptions:
    """Which data a command reads: the ``--dataset`` arguments, what of a Hugging Face dataset is opened
    (``--revision``, ``--split``, ``--config``, ``--label-column``) and how its images are decoded
    (``--exif-orientation``)."""

    datasets: tuple[str, ...] = ()
    revision: str | None = None
    splits: tuple[str, ...] | None = None
    config: str | None = None
    exif_orientation: ExifOrientation = ExifOrientation.AUTO
    label_column: str | None = None

    def __post_init__(self) -> None:
        if any(not str(dataset).strip() for dataset in self.datasets):
            raise UsageError("--dataset '' names nothing: give a folder, a Hub id or official:IMAGES:SPLITS")
        if self.label_column is not None and not self.label_column.strip():
            raise UsageError("--label-column '' names no column: give the column holding the classes")
        object.__setattr__(
            self, "exif_orientation", chosen(ExifOrientation, self.exif_orientation, "--exif-orientation")
        )

    def detect(self, dataset: str) -> Detected:
        """``dataset`` (one of :attr:`datasets`) checked to name something, and its kind."""
        check_location(dataset)
        return detect(dataset, self.revision, self.splits, self.config, self.exif_orientation, self.label_column)
