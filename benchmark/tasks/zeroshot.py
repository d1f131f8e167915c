"""The ``zeroshot`` task: does a vision-language encoder *say* how a photo was made?

For a FlickrExif attribute or a processing family, each class gets prompts from the prompt table
(:mod:`.prompts`), the encoder's text tower embeds them (cached, :mod:`benchmark.embeddings.text`),
and every test image goes to the class whose averaged prompts it is most similar to
(:mod:`benchmark.protocols.zeroshot`).  The images are the probes' own: the masked acquisition input
and test split for an attribute, every test image under every class for a family, from the same
embedding cache.  Beside the zero-shot accuracy the result holds the linear probe's MP on that very
split (the very probe the probe task of the same run fitted, remembered by :mod:`.probing`, or fitted
here with the run's seed and probe settings when zero-shot runs alone),
so the two sit side by side: MP is what the embedding holds, zero-shot what of it is aligned with
language.  Encoders without a text tower are skipped by the runner, with the reason.
"""

from __future__ import annotations

from typing import Any

import torch

from benchmark.embeddings.extract import Extractor, default_device
from benchmark.embeddings.text import prompt_embeddings, text_key
from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES
from benchmark.protocols.zeroshot import class_embeddings, zero_shot
from benchmark.sources.imageset import ImageSet
from benchmark.tasks.probing import acquisition_probe, acquisition_split, processing_probe, processing_test_set
from benchmark.tasks.task import TaskOptions, TaskResult, image_set_parameters


def zeroshot_task(
    encoder, image_set: ImageSet, target: str, extractor: Extractor, seed: int, options: TaskOptions
) -> TaskResult:
    """Zero-shot accuracy on ``target`` (an attribute of a FlickrExif set, or a processing family) beside the probe's MP."""
    if target in FAMILIES:
        classes = list(FAMILIES[target])
        test_x, test_y = processing_test_set(encoder, image_set, target, extractor, seed)
        probe = processing_probe(
            encoder, image_set, target, extractor, seed=seed, probe_config=options.probe, refits=options.refits
        )
        test_set = {"test_split": image_set.test_split, "images": "every test image under every class of the family"}
    else:
        if not image_set.has_labels:
            raise UsageError(
                f"{image_set.name} has no labels: zero-shot on {target!r} needs a FlickrExif configuration"
            )
        classes = list(image_set.class_names or [])
        test_x, test_y = acquisition_split(encoder, image_set, "test", extractor, seed, options.mask_ratio)
        probe = acquisition_probe(
            encoder, image_set, extractor, seed=seed, mask_ratio=options.mask_ratio, probe_config=options.probe
        )
        test_set = {
            "test_split": "test",
            "images": "the acquisition probe's masked input",
            "mask_ratio": options.mask_ratio,
        }
    prompts = options.templates.prompts(target, classes)
    tower = encoder.text_tower()
    flat = [prompt for own in prompts for prompt in own]
    owners = torch.tensor([index for index, own in enumerate(prompts) for _ in own])
    key = text_key(tower, options.templates.record(), target, classes)
    vectors, _ = prompt_embeddings(tower, flat, key, extractor.cache, device=extractor.device or default_device())
    if vectors.shape[1] != test_x.shape[1]:
        raise UsageError(
            f"the text tower {tower.spec.key} embeds in {vectors.shape[1]} dimensions, the image tower "
            f"{encoder.spec.key} in {test_x.shape[1]}: they are not one vision-language model"
        )
    scored = zero_shot(test_x, test_y, class_embeddings(vectors, owners, len(classes)))
    return TaskResult(
        task="zeroshot",
        target=target,
        metrics={
            "accuracy": scored.accuracy,
            "mean_per_class_recall": scored.mean_per_class_recall,
            "chance": 1 / len(classes),
            **_probe_metrics(probe.metrics),
        },
        parameters={
            **image_set_parameters(encoder, image_set, seed),
            "text_tower": tower.describe(),
            "templates": options.templates.record(),
            "classes": classes,
            "prompts": dict(zip(classes, prompts)),
            **test_set,
            "probe": probe.parameters["probe"],
        },
        details={**scored.to_json(), "probe": probe.details},
    )


def _probe_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The probe's MP (and its spread over refits, where it has one) as ``probe_*`` metrics."""
    names = ("accuracy", "mean_per_class_accuracy", "accuracy_std")
    return {f"probe_{name}": metrics[name] for name in names if name in metrics}
