"""``trace-bench run``: which tasks apply to a dataset, and running them into result files.

What a dataset gets:

* a FlickrExif release folder (a dataset card whose configurations are Exif attributes) or the
  official layout (``official:IMAGES_DIR:SPLITS_DIR``): acquisition probes, one per attribute;
* PairCams (a dataset with ``subject_idx``): retrieval;
* any other image dataset (an image folder, a Hugging Face dataset folder or cached Hub id):
  processing probes for every family, plus kNN influence when it has classes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from benchmark.imagesets import ImageSet, hf_dataset, image_folder, official_flickrexif
from benchmark.masking import DEFAULT_MASK_RATIO
from benchmark.probe import ProbeConfig
from benchmark.processing import FAMILIES
from benchmark.results import ResultStore
from benchmark import tasks

FLICKREXIF_ATTRIBUTES = ("Make", "Model", "Smartphone Model", "Is Smartphone", "Exposure", "Aperture", "ISO Speed",
                         "Focal Length", "Flash", "Year")
TASK_NAMES = ("probe-processing", "probe-acquisition", "knn", "retrieval")


@dataclass(frozen=True)
class PlannedTask:
    task: str
    target: str
    load: Callable[[], ImageSet] = field(repr=False, compare=False)


@dataclass(frozen=True)
class RunConfig:
    seeds: tuple[int, ...] = (0,)
    mask_ratio: float = DEFAULT_MASK_RATIO
    probe: ProbeConfig = ProbeConfig()
    ks: tuple[int, ...] = (10, 1)
    tasks: tuple[str, ...] = TASK_NAMES
    families: tuple[str, ...] = tuple(FAMILIES)
    targets: tuple[str, ...] | None = None  # FlickrExif attributes to probe; None = all in the dataset
    skip_existing: bool = False

    def __post_init__(self) -> None:
        unknown = set(self.tasks) - set(TASK_NAMES)
        if unknown:
            raise ValueError(f"unknown tasks {sorted(unknown)}; choose from {TASK_NAMES}")
        bad_families = set(self.families) - set(FAMILIES)
        if bad_families:
            raise ValueError(f"unknown processing families {sorted(bad_families)}; choose from {tuple(FAMILIES)}")


def _card_yaml(folder: Path) -> dict[str, Any] | None:
    """The YAML header of a dataset card (README.md), if the folder is a Hugging Face dataset."""
    card = folder / "README.md"
    if not card.is_file():
        return None
    match = re.match(r"^---\n(.*?)\n---", card.read_text(encoding="utf-8"), re.DOTALL)
    if match is None:
        return None
    import yaml

    data = yaml.safe_load(match.group(1)) or {}
    return data if isinstance(data, dict) else None


def _config_names(card: dict[str, Any]) -> list[str]:
    return [c["config_name"] for c in card.get("configs", []) if isinstance(c, dict) and "config_name" in c]


def _feature_names(card: dict[str, Any]) -> set[str]:
    infos = card.get("dataset_info", [])
    infos = infos if isinstance(infos, list) else [infos]
    return {f.get("name") for info in infos if isinstance(info, dict) for f in info.get("features", []) if isinstance(f, dict)}


def paircams_set(source: str) -> ImageSet:
    """PairCams with ``is_smartphone`` on every item (derived from ``model`` for the official columns)."""
    from flickrexif.exif.labels import is_smartphone

    image_set = hf_dataset(source, group_column="subject_idx")
    items = []
    for item in image_set.items:
        extra = dict(item.extra)
        if extra.get("is_smartphone") is None:
            extra["is_smartphone"] = is_smartphone(extra.get("make"), extra.get("model"))
        items.append(replace(item, extra=extra))
    return ImageSet(name=image_set.name, items=tuple(items), class_names=None, target="subject",
                    fingerprint=image_set.fingerprint)


def plan(dataset: str, config: RunConfig) -> list[PlannedTask]:
    """The tasks that apply to ``dataset`` (filtered by ``config.tasks``/``targets``/``families``)."""
    planned: list[PlannedTask] = []
    if dataset.startswith("official:"):
        _, images_dir, splits_dir = dataset.split(":", 2)
        attributes = config.targets or [
            p.stem.split("=", 1)[1] for p in sorted(Path(splits_dir).glob("split_data_target_attribute=*.json"))
        ]
        planned = [PlannedTask("probe-acquisition", a, _cached(official_flickrexif, images_dir, splits_dir, a))
                   for a in attributes]
    else:
        folder = Path(dataset)
        card = _card_yaml(folder) if folder.is_dir() else None
        configs = _config_names(card) if card else []
        if card is not None and "subject_idx" in _feature_names(card):
            planned = [PlannedTask("retrieval", "paircams", _cached(paircams_set, dataset))]
        elif any(name in FLICKREXIF_ATTRIBUTES for name in configs):
            chosen = [c for c in configs if c in (config.targets or FLICKREXIF_ATTRIBUTES)]
            planned = [PlannedTask("probe-acquisition", c, _cached(hf_dataset, dataset, c)) for c in chosen]
        else:
            loader = _cached(image_folder, dataset) if folder.is_dir() and card is None else _cached(hf_dataset, dataset)
            planned = [PlannedTask("probe-processing", family, loader) for family in config.families]
            if "knn" in config.tasks and loader().has_labels:  # kNN classifies: it needs classes
                planned += [PlannedTask("knn", family, loader) for family in config.families]
    return [p for p in planned if p.task in config.tasks]


def open_image_set(dataset: str, config: str | None = None) -> ImageSet:
    """One image set from a dataset argument (what ``trace-bench extract`` embeds)."""
    if dataset.startswith("official:"):
        _, images_dir, splits_dir = dataset.split(":", 2)
        if config is None:
            raise ValueError("the official layout needs an attribute (e.g. Make)")
        return official_flickrexif(images_dir, splits_dir, config)
    folder = Path(dataset)
    card = _card_yaml(folder) if folder.is_dir() else None
    if card is not None and "subject_idx" in _feature_names(card):
        return paircams_set(dataset)
    if folder.is_dir() and card is None:
        return image_folder(folder)
    configs = _config_names(card) if card else []
    return hf_dataset(dataset, config or (configs[0] if len(configs) > 1 else None))


def dataset_label(dataset: str) -> str:
    """The dataset's name in result paths and tables: unique enough that two releases never share it.

    A release folder is named by its version (``releases/v1.0.0``), so the card's ``pretty_name``
    (or else the parent folder) goes in front: ``FlickrExif-v1.0.0``, ``PairCams-v1.0.0``.
    """
    if dataset.startswith("official:"):
        return "flickrexif-official"
    folder = Path(dataset).resolve() if Path(dataset).exists() else Path(dataset)
    if not re.fullmatch(r"v\d+(\.\d+)*", folder.name):
        return folder.name
    card = _card_yaml(folder) if folder.is_dir() else None
    prefix = str((card or {}).get("pretty_name") or folder.parent.name or "dataset").replace("/", "-")
    return f"{prefix}-{folder.name}"


def _cached(function: Callable[..., ImageSet], *args: str) -> Callable[[], ImageSet]:
    """Load an image set at most once per run, and only if a task needs it."""
    return lru_cache(maxsize=1)(lambda: function(*args))


def run_task(planned: PlannedTask, encoder, image_set: ImageSet, options: tasks.ExtractOptions, seed: int,
             config: RunConfig) -> tasks.TaskResult:
    runners = {
        "probe-processing": lambda: tasks.processing_probe(encoder, image_set, planned.target, options, seed=seed,
                                                           probe_config=config.probe),
        "probe-acquisition": lambda: tasks.acquisition_probe(encoder, image_set, options, seed=seed,
                                                             mask_ratio=config.mask_ratio, probe_config=config.probe),
        "knn": lambda: tasks.knn_influence(encoder, image_set, planned.target, options, seed=seed, ks=config.ks),
        "retrieval": lambda: tasks.paircams_retrieval(encoder, image_set, options, seed=seed),
    }
    return runners[planned.task]()


def run(encoder, dataset: str, results: ResultStore, options: tasks.ExtractOptions, config: RunConfig,
        on_task: Callable[[str], None] | None = None) -> list[Path]:
    """Run every planned task for every seed; returns the result files written (or kept)."""
    planned = plan(dataset, config)
    if not planned:
        raise ValueError(f"no task of {config.tasks} applies to {dataset}")
    written = []
    dataset_name = dataset_label(dataset)
    for task in planned:
        for seed in config.seeds:
            path = results.path(encoder=encoder.spec.key, dataset=dataset_name, task=task.task, target=task.target,
                                seed=seed)
            if config.skip_existing and path.is_file():
                written.append(path)
                continue
            if on_task:
                on_task(f"{task.task} {task.target} (seed {seed})")
            image_set = task.load()
            start = time.perf_counter()
            result = run_task(task, encoder, image_set, options, seed, config).to_json()
            result.update(encoder=encoder.spec.key, encoder_group=encoder.spec.group, dataset=dataset_name,
                          seed=seed, seconds=round(time.perf_counter() - start, 2),
                          created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            results.write(path, result)
            written.append(path)
    return written
