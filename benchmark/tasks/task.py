"""What every task shares: its declaration (:class:`Task`), its result (:class:`TaskResult`) and the
record of its inputs that every result carries.

A task turns an encoder and an image set (through an :class:`~benchmark.embeddings.extract.Extractor`)
into one result per (target, seed).  Every setting that changes a number (seed, mask ratio, k, probe
grid, encoder and preprocessing) is recorded in the result's ``parameters``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmark.choices import Family, VoteTies, chosen
from benchmark.errors import UsageError
from benchmark.imaging.masking import DEFAULT_MASK_RATIO, check_ratio
from benchmark.protocols.erasers import EraserOptions
from benchmark.protocols.probe import ProbeConfig
from benchmark.protocols.refit import REFITS
from benchmark.tasks.prompts import PromptTemplates, default_templates

if TYPE_CHECKING:
    from benchmark.embeddings.extract import Extractor
    from benchmark.embeddings.variants import Variant
    from benchmark.sources.imageset import ImageSet
    from benchmark.sources.kinds import Detected


@dataclass(frozen=True)
class TaskOptions:
    """The option group of what a run measures: which tasks, seeds, processing families and acquisition targets, and the
    settings of the probe (``--probe-*``), the kNN (``--vote-ties``), the acquisition mask, the eraser and the
    zero-shot prompts (``--templates``)."""

    tasks: tuple[str, ...] = ("probe-processing", "probe-acquisition", "knn", "retrieval")
    seeds: tuple[int, ...] = (0,)
    families: tuple[str, ...] | None = None  # None: every family (of an embedding folder: every complete one)
    targets: tuple[str, ...] | None = None  # FlickrExif attributes to probe; None = all in the dataset
    mask_ratio: float = DEFAULT_MASK_RATIO
    ks: tuple[int, ...] = (10, 1)
    probe: ProbeConfig = ProbeConfig()
    refits: int = REFITS  # standard layout (train + val): refits of the processing probe's chosen point
    vote_ties: VoteTies = VoteTies.RELEASED  # kNN: how a tie in votes is broken (benchmark.protocols.knn)
    eraser: EraserOptions = field(default_factory=EraserOptions)
    templates: PromptTemplates = field(default_factory=default_templates)  # zero-shot class prompts

    def __post_init__(self) -> None:
        if not self.seeds:
            object.__setattr__(self, "seeds", (0,))
        if any(seed < 0 for seed in self.seeds):
            raise UsageError(f"--seed must be >= 0 (numpy's generators take no negative seed), got {min(self.seeds)}")
        if self.families is not None:
            families = tuple(chosen(Family, f, "processing family").value for f in self.families)
            object.__setattr__(self, "families", families or None)
        object.__setattr__(self, "vote_ties", chosen(VoteTies, self.vote_ties, "--vote-ties"))
        object.__setattr__(self, "mask_ratio", check_ratio(self.mask_ratio))
        if self.refits < 1:
            raise UsageError(f"--probe-refits must be >= 1, got {self.refits}")


@dataclass(frozen=True)
class Attachment:
    """A file a result brings beside its JSON (a mitigation's eraser): the result's ``parameters``
    record its path under ``parameter``; it is the result file's path with ``suffix``."""

    parameter: str
    suffix: str
    write: Callable[[Path, dict[str, Any]], None] = field(repr=False)  # (path, the result's stamp)


@dataclass(frozen=True)
class TaskResult:
    task: str
    target: str
    metrics: dict[str, float]
    parameters: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # more top-level fields (mitigation: before, after)
    attachments: tuple[Attachment, ...] = ()

    def to_json(self) -> dict[str, Any]:
        result = {
            "task": self.task,
            "target": self.target,
            "metrics": self.metrics,
            "parameters": self.parameters,
            "details": self.details,
        }
        return result | self.extra


@dataclass(frozen=True)
class Inputs:
    """What a task embeds of one split of its image set: ``variants``, with the run's seed."""

    split: str
    variants: tuple[Variant, ...]


# (encoder, image set, target, extractor, seed, task options) -> result
TaskRun = Callable[[Any, "ImageSet", str, "Extractor", int, "TaskOptions"], TaskResult]
# (detected dataset, task options) -> [(target, configuration to open)]
TaskTargets = Callable[["Detected", "TaskOptions"], list[tuple[str, str | None]]]
# (image set, target, task options) -> what the task embeds
TaskInputs = Callable[["ImageSet", str, "TaskOptions"], list[Inputs]]


@dataclass(frozen=True)
class Task:
    """One task: its name, what runs it, which dataset kinds it applies to and with which targets, the
    columns it gets in the report's summary table, and what it embeds (``inputs``: a sweep prepares that for
    all the encoders it holds before the task runs; without it the task embeds as it goes, encoder by
    encoder, and ``run --plan`` cannot count it)."""

    name: str
    run: TaskRun
    kinds: tuple[str, ...]  # the dataset kinds (benchmark.sources.kinds) it applies to
    targets: TaskTargets
    headline: tuple[tuple[str, str], ...]  # (column, metric); "{k}" in a metric is the result's first k
    result_name: Callable[[TaskOptions], str] | None = None  # its name in result paths, when not ``name``
    needs_text_tower: bool = False  # an encoder without one is skipped, with the reason (zero-shot)
    inputs: TaskInputs | None = None

    def headline_metrics(self, result: dict[str, Any]) -> dict[str, float]:
        """The headline numbers of one result JSON of this task (those it holds)."""
        parameters = result.get("parameters") if isinstance(result.get("parameters"), dict) else {}
        ks = parameters.get("ks") or [10]
        first_k = ks[0] if isinstance(ks, list) else 10
        found = {column: result["metrics"].get(metric.format(k=first_k)) for column, metric in self.headline}
        return {c: v for c, v in found.items() if isinstance(v, int | float) and not isinstance(v, bool)}

    def file_task(self, options: TaskOptions) -> str:
        """The task's name in result paths (mitigation: one per eraser method)."""
        return self.result_name(options) if self.result_name else self.name


def common_parameters(encoder: dict, dataset: str, fingerprint: str, seed: int, layout: str) -> dict[str, Any]:
    """What every result records about its inputs."""
    return {"encoder": encoder, "dataset": dataset, "fingerprint": fingerprint, "seed": seed, "layout": layout}


def image_set_parameters(encoder, image_set: ImageSet, seed: int) -> dict[str, Any]:
    """:func:`common_parameters` of an encoder on an image set."""
    return common_parameters(encoder.describe(), image_set.name, image_set.fingerprint, seed, image_set.layout)


def probe_record(config: ProbeConfig) -> dict[str, Any]:
    """The probe settings a result records (the device is where it ran, not a setting)."""
    return {**{k: v for k, v in asdict(config).items() if k != "device"}, "precision_used": config.precision_used()}
