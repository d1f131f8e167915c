"""The benchmark's tasks, from an encoder and an image set to one result each.

* ``probe-processing``: a linear probe predicts the processing class of a family (JPEG, sharpening,
  resizing, interpolation).  Training and validation images each get one class drawn uniformly
  (seeded); the test set holds every test image under every class.  Metric: MP (accuracy).  On a
  standard layout (train + val, :data:`benchmark.imagesets.STANDARD`) it runs the released protocol
  of :mod:`benchmark.refit`: tuning split carved from train, the chosen point refit over ``refits``
  class draws, val x every class as test; MP is the refits' mean (``accuracy_std`` their spread).
* ``probe-acquisition``: a linear probe predicts an Exif label (FlickrExif configuration) from
  images re-encoded at q95 4:4:4 whose centre is masked (``mask_ratio``).
* ``knn``: kNN semantic classification when database and query processing agree or not
  (all-same, all-diff, pos-same, neg-same, uniform); SP accuracy and SPD_p = pos-same − neg-same.
  Database: the train split; queries: the test split (val in the standard layout).
* ``retrieval``: PairCams recall@1 with distractors sharing the query's vs the target's camera
  type; SPD_a = the gap.

Every setting that changes a number (seed, mask ratio, k, probe grid, encoder and preprocessing)
is recorded in the result's ``parameters``.  :data:`TASKS` declares each task once: its name, the
function that runs it, and the headline metrics the report's summary table shows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import torch

from benchmark.extract import EmbeddingCache, Embeddings, Variant, extract
from benchmark.imagesets import STANDARD, ImageSet
from benchmark.knn import UNIFORM_SEEDS, VOTE_TIES, knn_all_setups
from benchmark.masking import DEFAULT_MASK_RATIO
from benchmark.probe import ProbeConfig, linear_probe
from benchmark.processing import FAMILIES
from benchmark.refit import REFITS, TUNING_SHARE, TUNING_STREAM, refit_probe
from benchmark.retrieval import paircams_recall

# The released MASK_95: resize, centre crop, JPEG q95 4:4:4 of the crop, then the mask.
ACQUISITION_CROP_ENCODING = "q95-444"


@dataclass(frozen=True)
class TaskResult:
    task: str
    target: str
    metrics: dict[str, float]
    parameters: dict[str, Any]
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ExtractOptions:
    """How to run the encoder; none of these change the numbers but the GPU precision, which is recorded."""

    cache: EmbeddingCache
    batch_size: int | None = None
    device: str | None = None
    workers: int = 0
    on_batch: Callable[[int], None] | None = None
    encoder_precision: str = "autocast"  # GPU only: benchmark.device.ENCODER_PRECISIONS (recorded)
    executor: str = "local"  # or "ray": chunks on Ray workers, same numbers (benchmark.ray_executor)
    ray_address: str | None = None  # a Ray cluster to join; None: a running or new local Ray
    ray_workers: int | None = None  # Ray actors holding the encoder; None: one per GPU, else per CPU


def _embed(
    encoder, image_set: ImageSet, split: str, variants: Sequence[Variant], seed: int, options: ExtractOptions
) -> dict[Variant, Embeddings]:
    from benchmark.ray_executor import executor_for  # ray itself is imported only for --executor ray

    executor = executor_for(options.executor, options.ray_address, options.ray_workers)  # None: local
    return extract(
        encoder,
        image_set,
        split,
        variants,
        options.cache,
        seed=seed,
        batch_size=options.batch_size,
        device=options.device,
        workers=options.workers,
        on_batch=options.on_batch,
        precision=options.encoder_precision,
        executor=executor,
    )


def _common_parameters(encoder: dict, dataset: str, fingerprint: str, seed: int, layout: str) -> dict[str, Any]:
    """What every result records about its inputs."""
    return {"encoder": encoder, "dataset": dataset, "fingerprint": fingerprint, "seed": seed, "layout": layout}


def _probe_record(config: ProbeConfig) -> dict[str, Any]:
    return {**{k: v for k, v in asdict(config).items() if k != "device"}, "precision_used": config.precision_used()}


def _probe_parameters(encoder, image_set: ImageSet, seed: int, config: ProbeConfig, **extra) -> dict[str, Any]:
    return {
        **_common_parameters(encoder.describe(), image_set.name, image_set.fingerprint, seed, image_set.layout),
        "probe": _probe_record(config),
        **extra,
    }


def _every_class(embedded: dict, variants: list) -> tuple[torch.Tensor, torch.Tensor]:
    """The released test set: every test image under every class of the family, labelled by class."""
    x = torch.cat([embedded[v].vectors for v in variants])
    y = torch.cat([torch.full((len(embedded[v].ids),), i) for i, v in enumerate(variants)])
    return x, y


def processing_probe(
    encoder,
    image_set: ImageSet,
    family: str,
    options: ExtractOptions,
    *,
    seed: int = 0,
    probe_config: ProbeConfig = ProbeConfig(),
    refits: int = REFITS,
) -> TaskResult:
    if image_set.layout == STANDARD:
        return _standard_processing_probe(encoder, image_set, family, options, seed, probe_config, refits)
    classes = FAMILIES[family]
    data = {}
    for split in ("train", "validation"):
        assigned = Variant(family=family, assigned=True)
        embeddings = _embed(encoder, image_set, split, [assigned], seed, options)[assigned]
        labels = [classes.index(assigned.class_for(i, seed)) for i in embeddings.ids]
        data[split] = (embeddings.vectors, torch.tensor(labels))
    test_variants = [Variant(family=family, class_name=name) for name in classes]
    test_x, test_y = _every_class(_embed(encoder, image_set, "test", test_variants, seed, options), test_variants)
    result = linear_probe(*data["train"], *data["validation"], test_x, test_y, replace(probe_config, seed=seed))
    return TaskResult(
        task="probe-processing",
        target=family,
        metrics={
            "accuracy": result.test_accuracy,
            "mean_per_class_accuracy": result.test_mean_per_class_accuracy,
            "chance": 1 / len(classes),
        },
        parameters=_probe_parameters(encoder, image_set, seed, probe_config, classes=list(classes)),
        details=result.to_json(),
    )


def _standard_processing_probe(
    encoder, image_set: ImageSet, family: str, options: ExtractOptions, seed: int, config: ProbeConfig, refits: int
) -> TaskResult:
    """The released protocol on train + val (:mod:`benchmark.refit`): every image under every class."""
    variants = [Variant(family=family, class_name=name) for name in FAMILIES[family]]
    train = _embed(encoder, image_set, "train", variants, seed, options)
    test_x, test_y = _every_class(_embed(encoder, image_set, image_set.test_split, variants, seed, options), variants)
    common = _common_parameters(encoder.describe(), image_set.name, image_set.fingerprint, seed, image_set.layout)
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
    shared by image folders and embedding folders (:mod:`benchmark.embedding_folder`)."""
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
            "probe": _probe_record(config),
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


def acquisition_probe(
    encoder,
    image_set: ImageSet,
    options: ExtractOptions,
    *,
    seed: int = 0,
    mask_ratio: float = DEFAULT_MASK_RATIO,
    probe_config: ProbeConfig = ProbeConfig(),
) -> TaskResult:
    if not image_set.has_labels:
        raise ValueError(f"{image_set.name} has no labels: acquisition probes need a FlickrExif configuration")
    variant = Variant(mask_ratio=mask_ratio, crop_encoding=ACQUISITION_CROP_ENCODING)
    data = {}
    for split in ("train", "validation", "test"):
        embeddings = _embed(encoder, image_set, split, [variant], seed, options)[variant]
        labels = {item.id: item.label for item in image_set.split(split)}
        data[split] = (embeddings.vectors, torch.tensor([labels[i] for i in embeddings.ids]))
    result = linear_probe(*data["train"], *data["validation"], *data["test"], replace(probe_config, seed=seed))
    return TaskResult(
        task="probe-acquisition",
        target=image_set.target or image_set.name,
        metrics={
            "accuracy": result.test_accuracy,
            "mean_per_class_accuracy": result.test_mean_per_class_accuracy,
            "chance": 1 / len(image_set.class_names or [None]),
        },
        parameters=_probe_parameters(
            encoder,
            image_set,
            seed,
            probe_config,
            mask_ratio=mask_ratio,
            encoding={"jpeg": ACQUISITION_CROP_ENCODING, "applied_to": "the encoder's crop, before the mask"},
            classes=list(image_set.class_names or []),
        ),
        details=result.to_json(),
    )


def knn_influence(
    encoder,
    image_set: ImageSet,
    family: str,
    options: ExtractOptions,
    *,
    seed: int = 0,
    ks: Sequence[int] = (10, 1),
    vote_ties: str = VOTE_TIES[0],
) -> TaskResult:
    if not image_set.has_labels:
        raise ValueError(f"{image_set.name} has no classes: kNN needs labelled images")
    variants = [Variant(family=family, class_name=name) for name in FAMILIES[family]]
    stacked = {}
    for role, split in (("train", "train"), ("test", image_set.test_split)):  # database, queries
        embeddings = _embed(encoder, image_set, split, variants, seed, options)
        labels = {item.id: item.label for item in image_set.split(split)}
        ids = embeddings[variants[0]].ids
        stacked[role] = (
            torch.stack([embeddings[v].vectors for v in variants], dim=1),
            torch.tensor([labels[i] for i in ids]),
        )
    common = _common_parameters(encoder.describe(), image_set.name, image_set.fingerprint, seed, image_set.layout)
    common.update(database_split="train", query_split=image_set.test_split)
    return knn_result(family, stacked["train"], stacked["test"], ks, options.device, common, vote_ties)


def knn_result(
    family: str,
    database: tuple[torch.Tensor, torch.Tensor],
    queries: tuple[torch.Tensor, torch.Tensor],
    ks: Sequence[int],
    device: str | None,
    common: dict[str, Any],
    vote_ties: str = VOTE_TIES[0],
) -> TaskResult:
    """kNN influence on embeddings ([N, P, D] and labels per role), shared by image and embedding folders."""
    # float64 makes similarities exact (equal to the per-query reference); kNN streams the database
    # in blocks, so device memory stays bounded at any database size.
    dtype = torch.float64
    metrics = {}
    for k in ks:
        k_used = min(k, len(database[1]))
        found = knn_all_setups(*database, *queries, k_used, device, dtype=dtype, vote_ties=vote_ties)
        metrics.update({f"{setup}@k{k}": value for setup, value in found.items()})
    return TaskResult(
        task="knn",
        target=family,
        metrics=metrics,
        parameters={
            **common,
            "ks": list(ks),
            "classes": list(FAMILIES[family]),
            "similarity_dtype": str(dtype),
            "protocol": "released: one run per ordered pair (p, q != p); uniform over seeds",
            "uniform_seeds": list(UNIFORM_SEEDS),
            "vote_ties": vote_ties,
        },
    )


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


def paircams_retrieval(encoder, image_set: ImageSet, options: ExtractOptions, *, seed: int = 0) -> TaskResult:
    pairs = paircams_pairs(image_set)
    if not pairs.subjects:
        raise ValueError(
            f"{image_set.name}: no subject has one smartphone and one camera photo ({len(pairs.left_out)} left out)"
        )
    variant = Variant()
    vectors: dict[str, torch.Tensor] = {}
    for split in image_set.splits:
        found = _embed(encoder, image_set, split, [variant], seed, options)[variant]
        vectors.update(zip(found.ids, found.vectors))
    result = paircams_recall(
        torch.stack([vectors[i] for i in pairs.phones]),
        torch.stack([vectors[i] for i in pairs.cameras]),
        device=options.device,
    )
    return TaskResult(
        task="retrieval",
        target="paircams",
        metrics={
            "recall_same_as_query": result.recall_same_as_query,
            "recall_same_as_target": result.recall_same_as_target,
            "spd_a": result.spd_a,
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


class TaskSettings(Protocol):
    """The run settings a task reads (:class:`benchmark.runner.RunConfig` has them)."""

    @property
    def probe(self) -> ProbeConfig: ...

    @property
    def mask_ratio(self) -> float: ...

    @property
    def ks(self) -> tuple[int, ...]: ...

    @property
    def refits(self) -> int: ...

    @property
    def vote_ties(self) -> str: ...


@dataclass(frozen=True)
class Task:
    """One task: its name, what runs it, and the columns it gets in the report's summary table."""

    name: str
    # (encoder, image set, target, options, seed, settings) -> result
    run: Callable[[Any, ImageSet, str, ExtractOptions, int, TaskSettings], TaskResult]
    headline: tuple[tuple[str, str], ...]  # (column, metric); "{k}" in a metric is the result's first k

    def headline_metrics(self, result: dict[str, Any]) -> dict[str, float]:
        """The headline numbers of one result JSON of this task."""
        first_k = result.get("parameters", {}).get("ks", [10])[0]
        return {column: result["metrics"][metric.format(k=first_k)] for column, metric in self.headline}


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "probe-processing",
            lambda encoder, images, target, options, seed, settings: processing_probe(
                encoder, images, target, options, seed=seed, probe_config=settings.probe, refits=settings.refits
            ),
            headline=(("MP", "accuracy"),),
        ),
        Task(
            "probe-acquisition",
            lambda encoder, images, target, options, seed, settings: acquisition_probe(
                encoder, images, options, seed=seed, mask_ratio=settings.mask_ratio, probe_config=settings.probe
            ),
            headline=(("MP", "accuracy"),),
        ),
        Task(
            "knn",
            lambda encoder, images, target, options, seed, settings: knn_influence(
                encoder, images, target, options, seed=seed, ks=settings.ks, vote_ties=settings.vote_ties
            ),
            headline=(("SP", "all-same@k{k}"), ("SPD_p", "spd_p@k{k}")),
        ),
        Task(
            "retrieval",
            lambda encoder, images, target, options, seed, settings: paircams_retrieval(
                encoder, images, options, seed=seed
            ),
            headline=(
                ("R@1 query-type", "recall_same_as_query"),
                ("R@1 target-type", "recall_same_as_target"),
                ("SPD_a", "spd_a"),
            ),
        ),
    )
}
TASK_NAMES = tuple(TASKS)
