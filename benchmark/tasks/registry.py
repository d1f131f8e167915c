"""The task registry: every task declared once (:data:`TASKS`).

Each :class:`~benchmark.tasks.task.Task` says what runs it, the dataset kinds it applies to and its
targets there, and the headline metrics the report's summary table shows.  ``trace-bench run`` runs
the paper's tasks (:data:`PAPER_TASKS`) and zero-shot (:data:`RUN_TASKS`); ``trace-bench mitigate``
the mitigation.
"""

from __future__ import annotations

from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES
from benchmark.sources.imageset import ImageSet
from benchmark.sources.kinds import Detected
from benchmark.tasks.knn import knn_influence, knn_inputs
from benchmark.tasks.mitigation import PAIRCAMS_TARGET, mitigation_inputs, mitigation_task
from benchmark.tasks.probing import (
    acquisition_probe,
    acquisition_probe_inputs,
    processing_probe,
    processing_probe_inputs,
)
from benchmark.tasks.retrieval import paircams_retrieval, retrieval_inputs
from benchmark.tasks.task import Inputs, Task, TaskOptions
from benchmark.tasks.zeroshot import zeroshot_task

CLASS_KINDS = ("image-folder", "hf-dataset")  # image sets whose labels, when they have some, are classes
ACQUISITION_KINDS = ("official-flickrexif", "flickrexif")


def _family_targets(found: Detected, options: TaskOptions) -> list[tuple[str, str | None]]:
    return [(family, None) for family in options.families or FAMILIES]


def _classified_family_targets(found: Detected, options: TaskOptions) -> list[tuple[str, str | None]]:
    """Families, where the image set has two classes or more (kNN and its mitigation classify)."""
    return _family_targets(found, options) if len(found.loader()().class_names or ()) >= 2 else []


def _attribute_targets(found: Detected, options: TaskOptions) -> list[tuple[str, str | None]]:
    return [(a, a) for a in found.attributes() if options.targets is None or a in options.targets]


def _zeroshot_targets(found: Detected, options: TaskOptions) -> list[tuple[str, str | None]]:
    """The probes' targets that the prompt table has prompts for."""
    targets = _attribute_targets if found.kind.name in ACQUISITION_KINDS else _family_targets
    return [(target, config) for target, config in targets(found, options) if target in options.templates.targets]


def _zeroshot_inputs(images: ImageSet, target: str, options: TaskOptions) -> list[Inputs]:
    """What zero-shot embeds: its probe's (it reports the probe's MP beside its own accuracy)."""
    if target in FAMILIES:
        return processing_probe_inputs(images, target)
    return acquisition_probe_inputs(images, options.mask_ratio)


def _mitigation_targets(found: Detected, options: TaskOptions) -> list[tuple[str, str | None]]:
    if found.kind.name == "paircams":
        return [(PAIRCAMS_TARGET, None)]
    return _classified_family_targets(found, options)


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "probe-processing",
            lambda encoder, images, target, extractor, seed, options: processing_probe(
                encoder, images, target, extractor, seed=seed, probe_config=options.probe, refits=options.refits
            ),
            kinds=CLASS_KINDS,
            targets=_family_targets,
            headline=(("MP", "accuracy"),),
            inputs=lambda images, target, options: processing_probe_inputs(images, target),
        ),
        Task(
            "probe-acquisition",
            lambda encoder, images, target, extractor, seed, options: acquisition_probe(
                encoder, images, extractor, seed=seed, mask_ratio=options.mask_ratio, probe_config=options.probe
            ),
            kinds=ACQUISITION_KINDS,
            targets=_attribute_targets,
            headline=(("MP", "accuracy"),),
            inputs=lambda images, target, options: acquisition_probe_inputs(images, options.mask_ratio),
        ),
        Task(
            "knn",
            lambda encoder, images, target, extractor, seed, options: knn_influence(
                encoder, images, target, extractor, seed=seed, ks=options.ks, vote_ties=options.vote_ties
            ),
            kinds=CLASS_KINDS,
            targets=_classified_family_targets,
            headline=(("SP", "all-same@k{k}"), ("SPD_p", "spd_p@k{k}")),
            inputs=lambda images, target, options: knn_inputs(images, target),
        ),
        Task(
            "retrieval",
            lambda encoder, images, target, extractor, seed, options: paircams_retrieval(
                encoder, images, extractor, seed=seed
            ),
            kinds=("paircams",),
            targets=lambda found, options: [(PAIRCAMS_TARGET, None)],
            headline=(
                ("R@1 query-type", "recall_same_as_query"),
                ("R@1 target-type", "recall_same_as_target"),
                ("SPD_a", "spd_a"),
            ),
            inputs=lambda images, target, options: retrieval_inputs(images),
        ),
        Task(
            "zeroshot",
            zeroshot_task,
            kinds=(*ACQUISITION_KINDS, *CLASS_KINDS),
            targets=_zeroshot_targets,
            headline=(("ZS", "accuracy"), ("MP", "probe_accuracy")),
            needs_text_tower=True,
            inputs=_zeroshot_inputs,
        ),
        Task(
            "mitigate",
            mitigation_task,
            kinds=(*CLASS_KINDS, "paircams"),
            targets=_mitigation_targets,
            headline=(),
            result_name=lambda options: f"mitigate-{options.eraser.method}",
            inputs=lambda images, target, options: mitigation_inputs(images, target),
        ),
    )
}
TASK_NAMES = tuple(TASKS)
PAPER_TASKS = ("probe-processing", "probe-acquisition", "knn", "retrieval")
RUN_TASKS = (*PAPER_TASKS, "zeroshot")  # what `trace-bench run` runs
ATTRIBUTE_TASKS = ("probe-acquisition", "zeroshot")  # the tasks whose targets are FlickrExif attributes (--target)


def check_tasks(options: TaskOptions) -> None:
    """Every task ``options`` names is declared."""
    unknown = sorted(set(options.tasks) - set(TASKS))
    if unknown:
        raise UsageError(f"unknown tasks {', '.join(unknown)}; choose from {', '.join(TASKS)}")
