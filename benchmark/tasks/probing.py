"""The linear-probe tasks: what MP measures.

* ``probe-processing``: a linear probe predicts the processing class of a family (JPEG, sharpening,
  resizing, interpolation).  Training and validation images each get one class drawn uniformly
  (seeded); the test set holds every test image under every class.  On a standard layout (train +
  val, :data:`benchmark.sources.imageset.STANDARD`) it runs the released protocol of
  :mod:`benchmark.protocols.refit`: tuning split carved from train, the chosen point refit over
  ``refits`` class draws, val x every class as test; MP is the refits' mean (``accuracy_std`` their
  spread).
* ``probe-acquisition``: a linear probe predicts an Exif label (FlickrExif configuration) from
  images re-encoded at q95 4:4:4 whose centre is masked (``mask_ratio``).
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from benchmark.embeddings.extract import Extractor
from benchmark.embeddings.variants import Variant
from benchmark.errors import UsageError
from benchmark.imaging.masking import DEFAULT_MASK_RATIO
from benchmark.imaging.processing import FAMILIES
from benchmark.protocols.probe import ProbeConfig, linear_probe
from benchmark.protocols.refit import REFITS, TUNING_SHARE, TUNING_STREAM, refit_probe
from benchmark.sources.imageset import STANDARD, ImageSet
from benchmark.tasks.task import Inputs, TaskResult, image_set_parameters, probe_record

# The released MASK_95: resize, centre crop, JPEG q95 4:4:4 of the crop, then the mask.
ACQUISITION_CROP_ENCODING = "q95-444"


def _every_class(embedded: dict, variants: list) -> tuple[torch.Tensor, torch.Tensor]:
    """The released test set: every test image under every class of the family, labelled by class."""
    x = torch.cat([embedded[v].vectors for v in variants])
    y = torch.cat([torch.full((len(embedded[v].ids),), i) for i, v in enumerate(variants)])
    return x, y


def processing_probe_inputs(image_set: ImageSet, family: str) -> list[Inputs]:
    """What the processing probe embeds: training (and validation) images each under its assigned class,
    test images under every class; on a standard layout, train and val under every class."""
    every = tuple(Variant(family=family, class_name=name) for name in FAMILIES[family])
    if image_set.layout == STANDARD:
        return [Inputs("train", every), Inputs(image_set.test_split, every)]
    assigned = (Variant(family=family, assigned=True),)
    return [Inputs("train", assigned), Inputs("validation", assigned), Inputs(image_set.test_split, every)]


def processing_test_set(
    encoder, image_set: ImageSet, family: str, extractor: Extractor, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The processing probe's test set (also zero-shot's): every test image under every class of ``family``."""
    tested = processing_probe_inputs(image_set, family)[-1]
    variants = list(tested.variants)
    return _every_class(extractor.embed(encoder, image_set, tested.split, variants, seed), variants)


def acquisition_split(
    encoder, image_set: ImageSet, split: str, extractor: Extractor, seed: int, mask_ratio: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The acquisition probe's input for one split (also zero-shot's): the masked q95 4:4:4 crop, and the labels."""
    variant = acquisition_variant(mask_ratio)
    embeddings = extractor.embed(encoder, image_set, split, [variant], seed)[variant]
    labels = {item.id: item.label for item in image_set.split(split)}
    return embeddings.vectors, torch.tensor([labels[i] for i in embeddings.ids])


RECENT_PROBES = 16  # a run's probes, kept for the tasks that ask again (zero-shot reports MP beside its own figure)
_recent: OrderedDict[tuple, TaskResult] = OrderedDict()


def _remembered(probe):
    """Compute a probe once per process for its inputs: the zero-shot task asks for the very probe the
    probe task of the same run fitted (same encoder, data, target, seed and settings), and gets it."""

    @functools.wraps(probe)
    def remembered(encoder, image_set: ImageSet, *args, **kwargs):
        extractor = next(a for a in (*args, *kwargs.values()) if isinstance(a, Extractor))
        key = (
            probe.__name__,
            id(encoder),
            json.dumps(encoder.describe(), sort_keys=True, default=str),
            image_set.fingerprint,
            image_set.name,  # two configurations of one set may hold the same images and labels
            image_set.target,
            image_set.exif_orientation,
            image_set.layout,
            str(extractor.cache.root),
            extractor.encoder_precision(encoder),
            repr([a for a in args if not isinstance(a, Extractor)]),  # the extractor is its cache and precision
            repr(sorted((k, v) for k, v in kwargs.items() if not isinstance(v, Extractor))),
        )
        if key not in _recent:
            _recent[key] = probe(encoder, image_set, *args, **kwargs)
            while len(_recent) > RECENT_PROBES:
                _recent.popitem(last=False)
        _recent.move_to_end(key)
        return _recent[key]

    return remembered


@_remembered
def processing_probe(
    encoder,
    image_set: ImageSet,
    family: str,
    extractor: Extractor,
    *,
    seed: int = 0,
    probe_config: ProbeConfig = ProbeConfig(),
    refits: int = REFITS,
) -> TaskResult:
    if image_set.layout == STANDARD:
        return _standard_processing_probe(encoder, image_set, family, extractor, seed, probe_config, refits)
    classes = FAMILIES[family]
    *trained, tested = processing_probe_inputs(image_set, family)
    data = {}
    for inputs in trained:
        (assigned,) = inputs.variants
        embeddings = extractor.embed(encoder, image_set, inputs.split, inputs.variants, seed)[assigned]
        labels = [classes.index(assigned.class_for(i, seed)) for i in embeddings.ids]
        data[inputs.split] = (embeddings.vectors, torch.tensor(labels))
    test_x, test_y = processing_test_set(encoder, image_set, family, extractor, seed)
    result = linear_probe(*data["train"], *data["validation"], test_x, test_y, replace(probe_config, seed=seed))
    return TaskResult(
        task="probe-processing",
        target=family,
        metrics={
            "accuracy": result.test_accuracy,
            "mean_per_class_accuracy": result.test_mean_per_class_accuracy,
            "chance": 1 / len(classes),
        },
        parameters={
            **image_set_parameters(encoder, image_set, seed),
            "probe": probe_record(probe_config),
            "classes": list(classes),
        },
        details=result.to_json(),
    )


def _standard_processing_probe(
    encoder, image_set: ImageSet, family: str, extractor: Extractor, seed: int, config: ProbeConfig, refits: int
) -> TaskResult:
    """The released protocol on train + val (:mod:`benchmark.protocols.refit`): every image under every class."""
    trained, _ = processing_probe_inputs(image_set, family)
    variants = list(trained.variants)
    train = extractor.embed(encoder, image_set, trained.split, variants, seed)
    test_x, test_y = processing_test_set(encoder, image_set, family, extractor, seed)
    common = image_set_parameters(encoder, image_set, seed)
    return standard_probe_result(family, [train[v].vectors for v in variants], test_x, test_y, config, refits, common)


def standard_probe_result(
    family: str,
    train: Sequence[torch.Tensor],
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    config: ProbeConfig,
    refits: int,
    common: dict[str, Any],
) -> TaskResult:
    """The processing probe of a train/val layout on embeddings (one [N, D] per class of ``family``),
    shared by image folders and embedding folders (:mod:`benchmark.runs.embedding_folder`)."""
    result = refit_probe(train, test_x, test_y, config, seed=common["seed"], refits=refits)
    classes = FAMILIES[family]
    return TaskResult(
        task="probe-processing",
        target=family,
        metrics={
            "accuracy": result.accuracy,
            "accuracy_std": result.accuracy_std,
            "mean_per_class_accuracy": result.mean_per_class_accuracy,
            "chance": 1 / len(classes),
        },
        parameters={
            **common,
            "probe": probe_record(config),
            "classes": list(classes),
            "protocol": "released standard layout: tuning split carved from train, refits over class draws, val as test",
            "refits": refits,
            "refit_seeds": list(range(refits)),
            "tuning_share": TUNING_SHARE,
            "tuning_split_rng": f"numpy default_rng([seed, {TUNING_STREAM}]) permutation per class (released: random.shuffle)",
            "class_draw": "numpy default_rng(seed).choice(len(classes), n_train) in train order",
        },
        details=result.to_json(),
    )


def acquisition_variant(mask_ratio: float) -> Variant:
    """The released ``MASK_95`` input: resize, centre crop, JPEG q95 4:4:4 of the crop, then the mask."""
    return Variant(mask_ratio=mask_ratio, crop_encoding=ACQUISITION_CROP_ENCODING)


def acquisition_probe_inputs(image_set: ImageSet, mask_ratio: float) -> list[Inputs]:
    """What the acquisition probe embeds: every split as :func:`acquisition_variant`."""
    return [Inputs(split, (acquisition_variant(mask_ratio),)) for split in ("train", "validation", "test")]


@_remembered
def acquisition_probe(
    encoder,
    image_set: ImageSet,
    extractor: Extractor,
    *,
    seed: int = 0,
    mask_ratio: float = DEFAULT_MASK_RATIO,
    probe_config: ProbeConfig = ProbeConfig(),
) -> TaskResult:
    if not image_set.has_labels:
        raise UsageError(f"{image_set.name} has no labels: acquisition probes need a FlickrExif configuration")
    data = {
        inputs.split: acquisition_split(encoder, image_set, inputs.split, extractor, seed, mask_ratio)
        for inputs in acquisition_probe_inputs(image_set, mask_ratio)
    }
    result = linear_probe(*data["train"], *data["validation"], *data["test"], replace(probe_config, seed=seed))
    return TaskResult(
        task="probe-acquisition",
        target=image_set.target or image_set.name,
        metrics={
            "accuracy": result.test_accuracy,
            "mean_per_class_accuracy": result.test_mean_per_class_accuracy,
            "chance": 1 / len(image_set.class_names or [None]),
        },
        parameters={
            **image_set_parameters(encoder, image_set, seed),
            "probe": probe_record(probe_config),
            "mask_ratio": mask_ratio,
            "encoding": {"jpeg": ACQUISITION_CROP_ENCODING, "applied_to": "the encoder's crop, before the mask"},
            "classes": list(image_set.class_names or []),
        },
        details=result.to_json(),
    )
