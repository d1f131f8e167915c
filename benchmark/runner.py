"""``trace-bench run``: which tasks apply to a dataset, and running them into result files.

What a dataset gets is declared once per kind in :mod:`benchmark.kinds` (FlickrExif release or
official layout: acquisition probes; PairCams: retrieval; any other image dataset: processing
probes, plus kNN influence when it has classes), and what each task runs and reports once per
task in :data:`benchmark.tasks.TASKS`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.device import encoder_precision
from benchmark.extract import default_device
from benchmark.imagesets import EXIF_ORIENTATION, ImageSet, with_exif_orientation
from benchmark.kinds import Detected, check_location, detect
from benchmark.knn import VOTE_TIES
from benchmark.masking import DEFAULT_MASK_RATIO
from benchmark.probe import ProbeConfig
from benchmark.processing import FAMILIES
from benchmark.ray_executor import execution_record
from benchmark.refit import REFITS
from benchmark.results import ResultStore
from benchmark.tasks import TASK_NAMES, TASKS, ExtractOptions, TaskResult


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
    refits: int = REFITS  # standard layout (train + val): refits of the processing probe's chosen point
    tasks: tuple[str, ...] = TASK_NAMES
    families: tuple[str, ...] = tuple(FAMILIES)
    targets: tuple[str, ...] | None = None  # FlickrExif attributes to probe; None = all in the dataset
    skip_existing: bool = False
    exif_orientation: str = "auto"  # auto: as the released loader of the dataset's kind; apply; ignore
    vote_ties: str = VOTE_TIES[0]  # kNN: how a tie in votes is broken (benchmark.knn); the released rule

    def __post_init__(self) -> None:
        if self.refits < 1:
            raise ValueError(f"--probe-refits must be >= 1, got {self.refits}")
        if self.exif_orientation not in EXIF_ORIENTATION:
            raise ValueError(f"--exif-orientation must be one of {', '.join(EXIF_ORIENTATION)}")
        unknown = set(self.tasks) - set(TASK_NAMES)
        if unknown:
            raise ValueError(f"unknown tasks {sorted(unknown)}; choose from {TASK_NAMES}")
        if self.vote_ties not in VOTE_TIES:
            raise ValueError(f"--vote-ties must be one of {', '.join(VOTE_TIES)}, got {self.vote_ties!r}")
        bad_families = set(self.families) - set(FAMILIES)
        if bad_families:
            raise ValueError(f"unknown processing families {sorted(bad_families)}; choose from {tuple(FAMILIES)}")


def plan(dataset: str | Detected, config: RunConfig) -> list[PlannedTask]:
    """The tasks that apply to ``dataset`` (filtered by ``config.tasks``/``targets``/``families``)."""
    found = dataset if isinstance(dataset, Detected) else detect(dataset)
    return [
        PlannedTask(task, target, load)
        for task, target, load in found.planned(config.tasks, config.targets, config.families)
    ]


def checked_dataset(dataset: str, run_config: RunConfig, **source: Any) -> Detected:
    """``dataset`` detected and checked before any encoder loads: it exists, the asked targets are
    among its attributes, some task applies, and its first image set opens.  ``source``: the
    ``revision``, ``splits`` and ``config`` of a Hugging Face dataset (see :func:`benchmark.kinds.detect`)."""
    check_location(dataset)
    found = detect(dataset, **source)
    if run_config.targets and "probe-acquisition" in found.kind.tasks:
        valid = [target for target, _ in found.kind.targets(found, "probe-acquisition", None, run_config.families)]
        unknown = [t for t in run_config.targets if t not in valid]
        if unknown:
            raise ValueError(f"unknown --target {', '.join(unknown)} for {found.label}; it has: {', '.join(valid)}")
    planned = plan(found, run_config)
    if not planned:
        raise ValueError(f"no task of {', '.join(run_config.tasks)} applies to {dataset} ({found.kind.name})")
    planned[0].load()
    return found


def open_image_set(dataset: str, config: str | None = None) -> ImageSet:
    """One image set from a dataset argument (what ``trace-bench extract`` embeds)."""
    return detect(dataset).open(config)


def dataset_label(dataset: str) -> str:
    """The dataset's name in result paths and tables (see :attr:`benchmark.kinds.Detected.label`)."""
    return detect(dataset).label


def run_task(
    planned: PlannedTask, encoder, image_set: ImageSet, options: ExtractOptions, seed: int, config: RunConfig
) -> TaskResult:
    return TASKS[planned.task].run(encoder, image_set, planned.target, options, seed, config)


def run(
    encoder,
    dataset: str | Detected,
    results: ResultStore,
    options: ExtractOptions,
    config: RunConfig,
    on_task: Callable[[str], None] | None = None,
) -> list[Path]:
    """Run every planned task for every seed; returns the result files written (or kept)."""
    found = dataset if isinstance(dataset, Detected) else detect(dataset)
    planned = plan(found, config)
    if not planned:
        raise ValueError(f"no task of {config.tasks} applies to {dataset}")
    written = []
    dataset_name = found.label
    # the same for every result of the run: resolved once
    how = {
        "execution": execution_record(options.executor, options.ray_address, options.ray_workers, options.workers),
        "encoder_precision": encoder_precision(
            options.encoder_precision, options.device or default_device(), encoder.spec.released
        ),
    }
    for task in planned:
        for seed in config.seeds:
            path = results.path(
                encoder=encoder.spec.key, dataset=dataset_name, task=task.task, target=task.target, seed=seed
            )
            if config.skip_existing and path.is_file():
                written.append(path)
                continue
            if on_task:
                on_task(f"{task.task} {task.target} (seed {seed})")
            image_set = with_exif_orientation(task.load(), config.exif_orientation)
            start = time.perf_counter()
            result = run_task(task, encoder, image_set, options, seed, config).to_json()
            result.update(
                encoder=encoder.spec.key,
                encoder_group=encoder.spec.group,
                dataset=dataset_name,
                seed=seed,
                exif_orientation=image_set.exif_orientation,
                **how,
                seconds=round(time.perf_counter() - start, 2),
                created_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )
            results.write(path, result)
            written.append(path)
    return written
