"""Dataset kinds: what a ``--dataset`` argument is, detected once, and what it gets.

:data:`KINDS` declares each kind once: how it is recognised, how it opens an :class:`ImageSet`
for a configuration, and which tasks and targets apply. :func:`detect` reads the dataset card
(``README.md``, a Hugging Face card's YAML) at most once and returns the first kind that matches,
in this order:

* ``official-flickrexif``: ``official:IMAGES_DIR:SPLITS_DIR``, the paper's layout; acquisition
  probes, one per split file ``split_data_target_attribute=<Attr>.json``;
* ``paircams``: a card whose features include ``subject_idx``; retrieval;
* ``flickrexif``: a card whose configurations are FlickrExif attributes (Make, Model, ...);
  acquisition probes, one per attribute;
* ``image-folder``: a folder without a card; processing probes for every family, plus kNN
  influence when sub-folders give classes;
* ``hf-dataset``: anything else (a folder whose card is neither, or a cached Hub id); as an
  image folder.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmark.imagesets import (
    ImageSet,
    hf_dataset,
    image_folder,
    official_flickrexif,
    paircams_set,
)
from flickrexif.exif.labels import ATTRIBUTES

FLICKREXIF_ATTRIBUTES = tuple(ATTRIBUTES)
OFFICIAL_PREFIX = "official:"
_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")  # ORG/NAME

Card = dict[str, Any]
Loader = Callable[[], ImageSet]


def read_card(dataset: str, revision: str | None = None) -> Card | None:
    """The metadata (YAML header) of ``DATASET/README.md``, or of a Hub dataset's card at ``revision``;
    None without a card or a header."""
    from huggingface_hub.repocard import metadata_load

    path = Path(dataset) / "README.md"
    if not Path(dataset).exists() and _HUB_ID.match(dataset):
        path = _hub_card(dataset, revision)
    if path is None or not path.is_file():
        return None
    try:
        return metadata_load(path) or None
    except ValueError:  # a header that is not a mapping is no card
        return None


def _hub_card(repo_id: str, revision: str | None) -> Path | None:
    """A Hub dataset's README.md through the HF cache (offline: the cached copy); errors name the repo."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import (
        EntryNotFoundError,
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    try:
        return Path(hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision))
    except GatedRepoError:
        raise ValueError(f"the Hub dataset {repo_id} is gated: accept its terms, then set HF_TOKEN") from None
    except RepositoryNotFoundError:
        raise ValueError(
            f"no dataset {repo_id} on the Hub (nor a folder of that name here); if it is private, set HF_TOKEN"
        ) from None
    except RevisionNotFoundError:
        raise ValueError(f"the Hub dataset {repo_id} has no revision {revision!r} (a tag, branch or commit)") from None
    except (EntryNotFoundError, LocalEntryNotFoundError):  # no card, or offline and not cached: datasets decides
        return None


def card_configs(card: Card | None) -> list[str]:
    """The card's configuration names (a FlickrExif release: its attributes)."""
    return [c["config_name"] for c in (card or {}).get("configs", []) if isinstance(c, dict) and "config_name" in c]


def card_features(card: Card | None) -> set[str]:
    """Every feature name of every configuration the card describes."""
    infos = (card or {}).get("dataset_info", [])
    infos = infos if isinstance(infos, list) else [infos]
    return {
        f.get("name")
        for info in infos
        if isinstance(info, dict)
        for f in info.get("features", [])
        if isinstance(f, dict)
    }


@dataclass(frozen=True)
class DatasetKind:
    """One kind of dataset argument; see the module notes."""

    name: str
    matches: Callable[[str, Card | None], bool]  # (dataset argument, card metadata) -> is it this kind
    open: Callable[[Detected, str | None], ImageSet]  # (detected dataset, configuration) -> its image set
    tasks: tuple[str, ...]  # the tasks that apply, in run order
    # (detected, task, chosen targets or None, processing families) -> [(target, configuration to open)]
    targets: Callable[[Detected, str, Sequence[str] | None, Sequence[str]], list[tuple[str, str | None]]]
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
    _loaders: dict[str | None, Loader] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def configs(self) -> list[str]:
        return card_configs(self.card)

    def open(self, config: str | None = None) -> ImageSet:
        return self.kind.open(self, config)

    def loader(self, config: str | None = None) -> Loader:
        """Opens the image set at most once per run, and only if a task needs it."""
        if config not in self._loaders:
            self._loaders[config] = lru_cache(maxsize=1)(lambda: self.open(config))
        return self._loaders[config]

    def planned(
        self, tasks: Sequence[str], targets: Sequence[str] | None, families: Sequence[str]
    ) -> list[tuple[str, str, Loader]]:
        """``(task, target, loader)`` for every task of ``tasks`` that applies, in the kind's order."""
        return [
            (task, target, self.loader(config))
            for task in self.kind.tasks
            if task in tasks
            for target, config in self.kind.targets(self, task, targets, families)
        ]

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
        raise ValueError("the official layout needs an attribute (e.g. Make)")
    return official_flickrexif(*_official_dirs(found), config)


def _official_targets(
    found: Detected, task: str, targets: Sequence[str] | None, families: Sequence[str]
) -> list[tuple[str, str | None]]:
    splits_dir = Path(_official_dirs(found)[1])
    files = sorted(splits_dir.glob("split_data_target_attribute=*.json"))
    attributes = targets or [p.stem.split("=", 1)[1] for p in files]
    return [(attribute, attribute) for attribute in attributes]


def _open_hf(found: Detected, config: str | None) -> ImageSet:
    """The configuration asked for, else the first when the card lists several."""
    configs = found.configs
    chosen = config or found.config or (configs[0] if len(configs) > 1 else None)
    return hf_dataset(found.dataset, chosen, revision=found.revision, splits=found.splits)


def _attribute_targets(
    found: Detected, task: str, targets: Sequence[str] | None, families: Sequence[str]
) -> list[tuple[str, str | None]]:
    return [(c, c) for c in found.configs if c in (targets or FLICKREXIF_ATTRIBUTES)]


def _family_targets(
    found: Detected, task: str, targets: Sequence[str] | None, families: Sequence[str]
) -> list[tuple[str, str | None]]:
    if task == "knn" and not found.loader()().has_labels:  # kNN classifies: it needs classes
        return []
    return [(family, None) for family in families]


KINDS: tuple[DatasetKind, ...] = (
    DatasetKind(
        "official-flickrexif",
        lambda dataset, card: dataset.startswith(OFFICIAL_PREFIX),
        _open_official,
        ("probe-acquisition",),
        _official_targets,
        label="flickrexif-official",
    ),
    DatasetKind(
        "paircams",
        lambda dataset, card: "subject_idx" in card_features(card),
        lambda found, config: paircams_set(found.dataset, found.revision),
        ("retrieval",),
        lambda found, task, targets, families: [("paircams", None)],
    ),
    DatasetKind(
        "flickrexif",
        lambda dataset, card: any(c in FLICKREXIF_ATTRIBUTES for c in card_configs(card)),
        _open_hf,
        ("probe-acquisition",),
        _attribute_targets,
    ),
    DatasetKind(
        "image-folder",
        lambda dataset, card: card is None and Path(dataset).is_dir(),
        lambda found, config: image_folder(found.dataset),
        ("probe-processing", "knn"),
        _family_targets,
    ),
    DatasetKind("hf-dataset", lambda dataset, card: True, _open_hf, ("probe-processing", "knn"), _family_targets),
)


def check_location(dataset: str) -> None:
    """A dataset argument that names nothing: one message with what is there (``releases/v1.0``).

    A missing path whose first folder does not exist here either may be a Hub id (``ORG/NAME``) and
    passes; ``datasets`` resolves it.
    """
    if dataset.startswith(OFFICIAL_PREFIX):
        parts = dataset.split(":", 2)
        if len(parts) != 3:
            raise ValueError(f"{dataset!r}: the official layout is official:IMAGES_DIR:SPLITS_DIR")
        for role, folder in (("images", parts[1]), ("split files", parts[2])):
            if not Path(folder).is_dir():
                raise ValueError(f"no {role} folder {folder} (in {dataset})")
        return
    path = Path(dataset)
    if path.exists():
        return
    parent = next((p for p in path.parents if p != Path(".") and p.is_dir()), None)
    if parent is None and _HUB_ID.match(dataset):
        return
    where = parent or Path(".")
    here = sorted(p.name + "/" for p in where.iterdir() if p.is_dir() and not p.name.startswith("."))[:12]
    raise ValueError(
        f"no dataset at {dataset}: {where}/ holds " + (", ".join(here) if here else "no folders")
        if parent is not None
        else f"no dataset folder {dataset} (and not a Hub id ORG/NAME)"
    )


def detect(
    dataset: str, revision: str | None = None, splits: Sequence[str] | None = None, config: str | None = None
) -> Detected:
    """The kind of a dataset argument (the first of :data:`KINDS` that matches), with the card it read;
    ``revision``, ``splits`` and ``config`` choose what of a Hugging Face dataset is opened."""
    card = None if dataset.startswith(OFFICIAL_PREFIX) else read_card(dataset, revision)
    kind = next(kind for kind in KINDS if kind.matches(dataset, card))
    return Detected(kind, dataset, card, revision, tuple(splits) if splits else None, config)
