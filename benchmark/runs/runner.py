"""One encoder on one dataset: which tasks apply, and running them into result files.

Which tasks a dataset gets is each task's declaration (:mod:`benchmark.tasks.registry`: the dataset
kinds it applies to and its targets there); :func:`checked_datasets` resolves and checks every
dataset of a run before any encoder loads, so a typo costs no model download.  A task the encoder
cannot do (zero-shot without a text tower) is skipped with the reason, not an error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.embeddings.extract import Extractor
from benchmark.encoders.factory import no_text_tower
from benchmark.encoders.registry import EncoderSpec, text_tower_of
from benchmark.errors import UsageError
from benchmark.runs.results import ResultStore
from benchmark.sources.imageset import ImageSet
from benchmark.sources.kinds import Detected, SourceOptions
from benchmark.tasks.registry import ATTRIBUTE_TASKS, TASKS, check_tasks
from benchmark.tasks.task import Task, TaskOptions


@dataclass(frozen=True)
class PlannedTask:
    task: str
    target: str
    load: Callable[[], ImageSet] = field(repr=False, compare=False)


HUGGING_FACE_KINDS = ("hf-dataset", "flickrexif", "paircams")  # what --split and --config choose in


def plan(found: Detected, options: TaskOptions) -> list[PlannedTask]:
    """The tasks of ``options`` that apply to ``found``, with their targets, in the registry's order."""
    return [
        PlannedTask(task.name, target, found.loader(config))
        for task in TASKS.values()
        if task.name in options.tasks and found.kind.name in task.kinds
        for target, config in task.targets(found, options)
    ]


def planned_results(
    encoders: Sequence[str], found: Sequence[Detected], options: TaskOptions
) -> list[dict[str, object]]:
    """The fields of every result file a run will write (encoder keys x datasets x planned tasks x seeds)."""
    return [
        {
            "encoder": key,
            "dataset": detected.label,
            "task": TASKS[task.task].file_task(options),
            "target": task.target,
            "seed": seed,
        }
        for key in encoders
        for detected in found
        for task in plan(detected, options)
        for seed in options.seeds
    ]


def check_targets(found: Sequence[Detected], options: TaskOptions) -> None:
    """Every ``--target`` is an acquisition target of some dataset of the run (one line naming them), and
    has prompts when zero-shot is all the run does."""
    if not options.targets or not set(ATTRIBUTE_TASKS) & set(options.tasks):
        return
    valid = sorted({attribute for detected in found for attribute in detected.attributes()})
    unknown = [target for target in options.targets if target not in valid]
    if not unknown:
        unprompted = [target for target in options.targets if target not in options.templates.targets]
        if unprompted and "probe-acquisition" not in options.tasks:
            raise UsageError(
                f"--target {', '.join(unprompted)}: {options.templates.source} has no prompts for it; it has "
                f"{', '.join(options.templates.targets)}"
            )
        return
    has = "; ".join(f"{d.label} has: {', '.join(d.attributes()) or 'no acquisition targets'}" for d in found)
    if valid:
        raise UsageError(f"unknown --target {', '.join(unknown)} for this run; {has}")
    raise UsageError(
        f"--target {', '.join(unknown)}: no dataset of this run has acquisition targets (FlickrExif attributes; "
        f"{has}); drop --target or add a FlickrExif release"
    )


def checked_datasets(source: SourceOptions, options: TaskOptions) -> list[Detected]:
    """The run's datasets detected and checked before any encoder loads: each exists, the asked
    targets are among their attributes, some task applies to each, and its first image set opens."""
    check_tasks(options)
    found = [source.detect(dataset) for dataset in source.datasets]
    for detected in found:
        if detected.kind.name not in HUGGING_FACE_KINDS and (source.splits or source.config):
            option = "--split" if source.splits else "--config"
            raise UsageError(
                f"{option} chooses what a Hugging Face dataset loads; {detected.dataset} is {detected.kind.name} "
                "(an image folder's splits are its folders): drop it"
            )
    check_targets(found, options)
    for detected in found:
        planned = plan(detected, options)
        if not planned:
            raise UsageError(
                f"no task of {', '.join(options.tasks)} applies to {detected.dataset} ({detected.kind.name})"
                + _why_no_classes(detected)
            )
        planned[0].load()
    return found


def _why_no_classes(found: Detected) -> str:
    """Why the tasks that classify do not apply to an image set: it has no classes, or one."""
    if found.kind.name not in ("image-folder", "hf-dataset"):
        return ""
    names = found.loader()().class_names
    if not names:
        return ": it has no classes (put each class's images in a folder of its own)"
    return f": it has one class ({names[0]}); kNN and mitigation need two or more"


def text_only(options: TaskOptions) -> bool:
    """Whether every task of the run needs a text tower (``trace-bench zeroshot``)."""
    return all(TASKS[name].needs_text_tower for name in options.tasks)


def cannot_do(spec: EncoderSpec, options: TaskOptions) -> str | None:
    """Why an encoder can do none of the run's tasks, known before it loads (no text tower for zero-shot)."""
    return no_text_tower(spec) if text_only(options) and text_tower_of(spec) is None else None


def _unavailable(task: Task, encoder, known: dict[str, str | None]) -> str | None:
    """Why ``encoder`` cannot do ``task`` (its text tower cannot be had), or None; asked once per run."""
    if not task.needs_text_tower:
        return None
    if "text" not in known:
        try:
            encoder.text_tower()
            known["text"] = None
        except UsageError as error:  # no text tower, its weights or tokenizer missing: the task is skipped
            known["text"] = str(error)
    return known["text"]


SKIPPED_NAMED = 20  # skipped images a result names (all are counted)


def skipped_record(skipped: dict[str, str]) -> dict[str, object]:
    """The images a result left out, counted, and the first ones named with why."""
    return {"count": len(skipped), "first": dict(sorted(skipped.items())[:SKIPPED_NAMED])}


PER_CLASS_RECORDED = 100  # classes whose split sizes a result lists (more: the totals only)


def split_record(image_set: ImageSet) -> dict[str, object]:
    """How the images got their split, and how many each split (and each class, when few) holds."""
    sizes = image_set.split_sizes()
    if len(sizes) > PER_CLASS_RECORDED + 1:
        sizes = {"all": sizes["all"]}
    return {"rule": image_set.split_rule, "sizes": sizes}


def result_path(
    results: ResultStore, encoder: str, found: Detected, task: PlannedTask, seed: int, options: TaskOptions
) -> Path:
    """The result file of ``task`` for ``seed`` and the encoder keyed ``encoder``."""
    return results.path(
        encoder=encoder, dataset=found.label, task=TASKS[task.task].file_task(options), target=task.target, seed=seed
    )


def run(
    encoder,
    found: Detected,
    extractor: Extractor,
    options: TaskOptions,
    results: ResultStore,
    on_task: Callable[[str], None] | None = None,
    on_skip: Callable[[str, str], None] | None = None,
) -> list[Path]:
    """Run every planned task for every seed; returns the result files written (or kept).  A task the
    encoder cannot do is not run: ``on_skip(task and target, why)``."""
    planned = plan(found, options)
    if not planned:
        raise UsageError(f"no task of {', '.join(options.tasks)} applies to {found.dataset}")
    written = []
    known: dict[str, str | None] = {}
    # the same for every result of the run: resolved once
    how = {"execution": extractor.execution(), "encoder_precision": extractor.encoder_precision(encoder)}
    for task in planned:
        for seed in options.seeds:
            path = result_path(results, encoder.spec.key, found, task, seed, options)
            if results.done(path):
                written.append(path)
                continue
            why = _unavailable(TASKS[task.task], encoder, known)
            if why is not None:
                if on_skip:
                    on_skip(f"{task.task} {task.target}", why)
                break  # the other seeds of this target: the same reason
            if on_task:
                on_task(f"{task.task} {task.target} (seed {seed})")
            image_set = task.load()
            started = time.perf_counter()
            extractor.take_skipped()
            result = TASKS[task.task].run(encoder, image_set, task.target, extractor, seed, options)
            stamp = {
                "encoder": encoder.spec.key,
                "encoder_group": encoder.spec.group,
                "dataset": found.label,
                "seed": seed,
                "exif_orientation": image_set.exif_orientation,
                **how,
                "skipped_images": skipped_record(image_set.skipped | extractor.take_skipped()),
                "dataset_notes": list(image_set.notes),
                "splits": split_record(image_set),
            }
            written.append(results.save(path, result, stamp, started))
    return written
