"""The ``retrieval`` task: PairCams recall@1 with distractors sharing the query's vs the target's camera
type (:mod:`benchmark.protocols.retrieval`); SPD_a = the gap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from benchmark.embeddings.extract import Extractor
from benchmark.embeddings.variants import Variant
from benchmark.errors import UsageError
from benchmark.protocols.retrieval import paircams_recall
from benchmark.sources.imageset import ImageSet
from benchmark.tasks.task import Inputs, TaskResult


@dataclass(frozen=True)
class Pairs:
    """Aligned smartphone and camera photo ids per subject, and the subjects left out with why."""

    phones: list[str]
    cameras: list[str]
    subjects: list[Any]
    left_out: dict[str, str]  # subject → reason (never dropped silently)


def paircams_pairs(image_set: ImageSet) -> Pairs:
    """One smartphone and one camera photo per subject; other subjects are reported in ``left_out``."""
    by_subject: dict[Any, dict[bool | None, list[str]]] = {}
    for item in image_set.items:
        phone = item.extra.get("is_smartphone")
        by_subject.setdefault(item.group, {True: [], False: [], None: []})[
            None if phone is None else bool(phone)
        ].append(item.id)
    subjects, left_out = [], {}
    for subject, kinds in sorted(by_subject.items(), key=lambda entry: str(entry[0])):
        if len(kinds[True]) == 1 and len(kinds[False]) == 1 and not kinds[None]:
            subjects.append(subject)
        else:
            left_out[str(subject)] = (
                f"{len(kinds[True])} smartphone, {len(kinds[False])} camera and {len(kinds[None])} unknown-device "
                "photos; retrieval needs one smartphone and one camera photo"
            )
    return Pairs(
        [by_subject[s][True][0] for s in subjects], [by_subject[s][False][0] for s in subjects], subjects, left_out
    )


def retrieval_inputs(image_set: ImageSet) -> list[Inputs]:
    """What retrieval embeds: every photo of every split as it is."""
    return [Inputs(split, (Variant(),)) for split in image_set.splits]


def embedded_pairs(
    encoder, image_set: ImageSet, extractor: Extractor, seed: int, at_least: int = 1
) -> tuple[Pairs, torch.Tensor, torch.Tensor]:
    """The pairs and their embeddings ``(pairs, phones [S, D], cameras [S, D])``; a subject whose photo
    could not be read is left out (with why); fewer than ``at_least`` subjects is a UsageError."""
    pairs = paircams_pairs(image_set)
    vectors: dict[str, torch.Tensor] = {}
    for inputs in retrieval_inputs(image_set):
        (variant,) = inputs.variants
        found = extractor.embed(encoder, image_set, inputs.split, [variant], seed)[variant]
        vectors.update(zip(found.ids, found.vectors))
    kept = [
        k
        for k, (phone, camera) in enumerate(zip(pairs.phones, pairs.cameras))
        if phone in vectors and camera in vectors
    ]
    left_out = dict(pairs.left_out)
    for k in sorted(set(range(len(pairs.subjects))) - set(kept)):
        left_out[str(pairs.subjects[k])] = "a photo of the pair could not be read"
    pairs = Pairs(
        [pairs.phones[k] for k in kept], [pairs.cameras[k] for k in kept], [pairs.subjects[k] for k in kept], left_out
    )
    if len(pairs.subjects) < at_least:
        raise UsageError(
            f"{image_set.name}: {len(pairs.subjects)} subjects with one smartphone and one camera photo that can be read "
            f"({len(left_out)} left out); this needs at least {at_least}"
        )
    return pairs, torch.stack([vectors[i] for i in pairs.phones]), torch.stack([vectors[i] for i in pairs.cameras])


def paircams_retrieval(encoder, image_set: ImageSet, extractor: Extractor, *, seed: int = 0) -> TaskResult:
    pairs, phones, cameras = embedded_pairs(encoder, image_set, extractor, seed)
    result = paircams_recall(phones, cameras, device=extractor.device)
    return TaskResult(
        task="retrieval",
        target="paircams",
        metrics={
            "recall_same_as_query": result.recall_same_as_query,
            "recall_same_as_target": result.recall_same_as_target,
            "spd_a": result.spd_a,
            "chance": 1 / len(pairs.subjects),  # the target ranked first among the subjects' photos at random
        },
        parameters={
            "encoder": encoder.describe(),
            "dataset": image_set.name,
            "fingerprint": image_set.fingerprint,
            "seed": seed,
            "n_subjects": len(pairs.subjects),
            "subjects_left_out": pairs.left_out,
            "camera_type_from": sorted({str(item.extra.get("camera_type_from")) for item in image_set.items}),
        },
        details=result.to_json(),
    )
