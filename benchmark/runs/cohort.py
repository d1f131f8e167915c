"""A sweep's encoders held together (a cohort), and what their tasks embed prepared once for all of them.

Every encoder of a sweep embeds the same sources under the same processings.  Decoding a source and
processing the full image (JPEG re-encodes, sharpening, resizing; originals up to 12 MP) is most of the
preparation and the same for every encoder; the uint8 crop after it is the same for every encoder of an
input geometry.  So a sweep loads its encoders into cohorts and, before their tasks run on a dataset,
embeds everything those tasks will embed (each task declares it: :attr:`benchmark.tasks.task.Task.inputs`)
with :meth:`~benchmark.embeddings.extract.Extractor.fill`: per (image set, split, seed) every source is
decoded once and processed once for every task, family and encoder, each crop made once per geometry and
each batch given to every encoder that needs it.  The tasks then read their embeddings from the cache, as
after any earlier run, so each result is what the encoder gets alone, and ``--skip-existing``, an
interrupted run and Ray all work on the same files.

Why held in memory rather than a disk cache of prepared crops that later encoders read: the crops of
ImageNet's train and val under the 14 processed inputs are 2.8 TB per 224 px geometry in uint8, so a
bounded cache would have to cycle through the encoders chunk by chunk, i.e. hold them anyway; an encoder's
parameters are small beside its inputs (ViT-B/16: 0.34 GB in float32).  A cohort holds encoders, in the
sweep's order grouped by input geometry, while their parameters fit
:func:`~benchmark.runtime.device.encoder_memory_budget` (:func:`plan_cohorts`, from their shapes: the run
and ``run --plan`` cut the same cohorts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmark.embeddings.extract import Extractor
from benchmark.embeddings.variants import Variant
from benchmark.encoders.factory import Shape
from benchmark.encoders.registry import resolve, text_tower_of
from benchmark.runs.results import ResultStore
from benchmark.runs.runner import plan, result_path
from benchmark.sources.imageset import ImageSet
from benchmark.sources.kinds import Detected
from benchmark.tasks.registry import TASKS
from benchmark.tasks.task import TaskOptions


def plan_cohorts(shapes: Sequence[Shape | None], budget: int, by_geometry: bool = False) -> list[list[int]]:
    """The positions of a sweep's encoders (their :class:`~benchmark.encoders.factory.Shape`) in cohorts:
    ordered by input geometry (in order of first appearance), each holding encoders while their
    parameters fit ``budget`` bytes (one at least); ``by_geometry`` keeps every cohort to one geometry.
    An encoder whose shape is not known runs alone, last."""
    geometries: dict[tuple, list[int]] = {}
    for position, shape in enumerate(shapes):
        if shape is not None:
            geometries.setdefault(shape.preprocess.geometry, []).append(position)
    found: list[list[int]] = []
    held = budget + 1  # the first encoder starts a cohort
    for positions in geometries.values():
        if by_geometry:
            held = budget + 1
        for position in positions:
            size = shapes[position].parameter_bytes  # type: ignore[union-attr]
            if held + size > budget:
                found.append([])
                held = 0
            found[-1].append(position)
            held += size
    return found + [[position] for position, shape in enumerate(shapes) if shape is None]


@dataclass
class Embedding:
    """One call of a cohort's preparation: a split of an image set, embedded with one seed, under
    ``variants[i]`` by encoder ``i`` of the cohort (an empty tuple: that encoder needs nothing of it)."""

    image_set: ImageSet
    split: str
    seed: int
    variants: list[tuple[Variant, ...]] = field(default_factory=list)


def cohort_inputs(keys: Sequence[str], found: Detected, options: TaskOptions, results: ResultStore) -> list[Embedding]:
    """What the tasks of the encoders keyed ``keys`` will embed on ``found``, by (image set, split, seed):
    the declared inputs of every result not already kept (``--skip-existing``) of a task the encoder does.  A variant that does not
    use the seed is embedded with the first seed (its cache file is the same for every seed)."""
    groups: dict[tuple, Embedding] = {}
    for task in plan(found, options):
        declared = TASKS[task.task].inputs
        if declared is None:  # a task that embeds as it goes
            continue
        image_set = task.load()
        for seed in options.seeds:
            wanted = [
                can_do(key, task.task)
                and not results.done(result_path(results, key, found, task, seed, options), warn=False)
                for key in keys
            ]
            if not any(wanted):
                continue
            for inputs in declared(image_set, task.target, options):
                if not image_set.split(inputs.split):
                    continue  # the task says what is missing when its turn comes, as it did alone
                for variant in inputs.variants:
                    used = seed if variant.uses_seed else options.seeds[0]
                    group = groups.get((image_set.name, image_set.fingerprint, inputs.split, used))
                    if group is None:
                        group = Embedding(image_set, inputs.split, used, [() for _ in keys])
                        groups[(image_set.name, image_set.fingerprint, inputs.split, used)] = group
                    for position, needs in enumerate(wanted):
                        if needs and variant not in group.variants[position]:
                            group.variants[position] += (variant,)
    return list(groups.values())


def can_do(key: str, task: str) -> bool:
    """Whether the encoder keyed ``key`` runs ``task``: one that needs a text tower (zero-shot) only where it
    has one (known without loading it; the run skips it otherwise)."""
    return not TASKS[task].needs_text_tower or text_tower_of(resolve(key)) is not None


def prepare(encoders: Sequence[Any], found: Detected, options: TaskOptions, results: ResultStore, extractor: Extractor):
    """Fill the cache with what the tasks of ``encoders`` will embed on ``found`` (see the module notes)."""
    for group in cohort_inputs([encoder.spec.key for encoder in encoders], found, options, results):
        members = [position for position, variants in enumerate(group.variants) if variants]
        extractor.fill(
            [encoders[position] for position in members],
            group.image_set,
            group.split,
            [group.variants[position] for position in members],
            group.seed,
        )
