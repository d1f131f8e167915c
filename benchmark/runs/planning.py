"""``trace-bench run --plan``: a sweep's work counted before it runs, and its time estimated on this machine.

Nothing of the sweep runs: the datasets are read (their lists of images), the encoders' shapes built
without weights (:func:`~benchmark.encoders.factory.encoder_shape`), the cohorts cut as the run cuts them
(:func:`~benchmark.runs.sweep.sweep_cohorts`), and each cohort's preparation counted as
:func:`~benchmark.runs.cohort.prepare` will make it, chunk by chunk against what the embedding cache
already holds: sources decoded, processings of the full image, processed inputs (uint8 crops), forward
passes, and the bytes of the cache files still to write against the free disk.

The estimate comes from a short calibration: a few images of each dataset through the decoding,
processings and crops; each encoder whose weights are at hand loaded (offline) and one batch through it;
each task's measurement once on random embeddings of its size (a split over :data:`TASK_SAMPLE` images is
subsampled and the time scaled).  On a CPU the preparation shares the cores with the forward pass (their
times add up); on a GPU the loader threads or processes prepare beside it (the slower of the two counts).
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from benchmark.choices import Executor
from benchmark.embeddings.batches import EmbedSettings, forward_batch, loader_processes, members
from benchmark.embeddings.cache import EmbeddingCache, Embeddings, chunk_path
from benchmark.embeddings.extract import CHUNK_IMAGES, Extractor, default_batch_size
from benchmark.embeddings.variants import Variant
from benchmark.encoders.factory import Shape, encoder_shape
from benchmark.encoders.registry import resolve
from benchmark.errors import UsageError
from benchmark.imaging.processing import FAMILIES, open_rgb, process_many, processing_operation
from benchmark.runs.cohort import Embedding, can_do, cohort_inputs
from benchmark.runs.runner import PlannedTask, checked_datasets, plan
from benchmark.runs.sweep import Sweep, expand_models, sweep_cohorts
from benchmark.runtime.device import encoder_precision, resolve_device
from benchmark.sources.imageset import ImageSet
from benchmark.sources.kinds import Detected
from benchmark.tasks.registry import TASKS

SAMPLE_IMAGES = 2  # images of each dataset timed through the preparation
SAMPLE_ATTEMPTS = 50  # images tried for them: unreadable ones are passed over, as the run leaves them out
TASK_SAMPLE = 2000  # images of a split a task's calibration measures on (more: subsampled, the time scaled)
COST_GROWTH = {"knn": 2, "retrieval": 2, "mitigate": 2}  # a task's time grows as images**this (default 1)


@dataclass
class Work:
    """What a sweep computes, counted."""

    source_images: int = 0  # sources decoded
    processings: int = 0  # processings of a full image (JPEG re-encodes, sharpening, resizing)
    processed_inputs: int = 0  # uint8 crops prepared (per source, processed input and input geometry)
    forward_passes: int = 0  # images through an encoder, still to compute
    cached_forward_passes: int = 0  # those the embedding cache already holds
    cache_bytes: int = 0  # the embedding files still to write

    def add(self, other: Work) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class PlannedEncoder:
    """An encoder of the sweep as the plan sees it: its shape, and what calibration found."""

    name: str
    key: str
    shape: Shape | None
    description: dict[str, Any] | None = None  # loaded (weights at hand): what its cache files are keyed by
    load_seconds: float | None = None
    seconds_per_image: float | None = None  # its forward pass here, from one batch
    forward_passes: int = 0
    why_not_loaded: str | None = None


@dataclass
class SweepPlan:
    """``trace-bench run --plan``: see the module notes; :meth:`to_json` is what ``--plan --json`` prints."""

    encoders: list[PlannedEncoder]
    datasets: list[dict[str, Any]]
    results: int
    tasks: list[str]
    cohorts: list[list[str]]
    work: Work
    free_bytes: int
    cache: Path
    device: str
    seconds: dict[str, float] = field(default_factory=dict)  # the estimate, by part
    notes: list[str] = field(default_factory=list)

    @property
    def geometries(self) -> int:
        return len({e.shape.preprocess.geometry for e in self.encoders if e.shape})

    @property
    def estimated_seconds(self) -> float:
        return sum(self.seconds.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "encoders": len(self.encoders),
            "datasets": len(self.datasets),
            "tasks": self.tasks,
            "results": self.results,
            "geometries": self.geometries,
            "cohorts": self.cohorts,
            "source_images": self.work.source_images,
            "processings": self.work.processings,
            "processed_inputs": self.work.processed_inputs,
            "forward_passes": self.work.forward_passes,
            "cached_forward_passes": self.work.cached_forward_passes,
            "cache_bytes": self.work.cache_bytes,
            "free_bytes": self.free_bytes,
            "cache": str(self.cache),
            "device": self.device,
            "estimated_seconds": round(self.estimated_seconds, 1),
            "estimate": {part: round(seconds, 1) for part, seconds in self.seconds.items()},
            "per_encoder": [
                {
                    "encoder": e.key,
                    "geometry": list(e.shape.preprocess.geometry) if e.shape else None,
                    "embed_dim": e.shape.embed_dim if e.shape else None,
                    "parameter_bytes": e.shape.parameter_bytes if e.shape else None,
                    "forward_passes": e.forward_passes,
                    "seconds_per_image": e.seconds_per_image,
                    "load_seconds": e.load_seconds,
                    "not_calibrated": e.why_not_loaded,
                }
                for e in self.encoders
            ],
            "per_dataset": self.datasets,
            "notes": self.notes,
        }


def plan_sweep(sweep: Sweep, calibrate: bool = True) -> SweepPlan:
    """The plan of ``sweep`` (see the module notes); ``calibrate=False`` counts only (no estimate)."""
    start_up = _process_age()  # this process's imports and start, as the sweep's will take
    found = checked_datasets(sweep.source, sweep.tasks)
    names = expand_models(sweep.encoder.models)
    device = (sweep.encoder.device and resolve_device(sweep.encoder.device).type) or resolve_device().type
    encoders = [PlannedEncoder(name, resolve(name).key, encoder_shape(name)) for name in names]
    cache = EmbeddingCache(sweep.extraction.cache or sweep.results.root / "cache")
    if calibrate or any(cache.root.rglob("*.safetensors")):  # what the cache holds is keyed by the weights
        for one in encoders:
            _inspect_encoder(one, sweep, device, calibrate)
    by_geometry = sweep.extraction.executor == Executor.RAY  # one Ray task per (geometry, dataset)
    cohorts = sweep_cohorts(names, sweep.encoder.device, by_geometry)
    work, datasets, prep_seconds, notes = Work(), [], 0.0, []
    undeclared = sorted({task.task for d in found for task in plan(d, sweep.tasks) if TASKS[task.task].inputs is None})
    if undeclared:
        notes.append(f"not counted: {', '.join(undeclared)} (embeds as it runs)")
    for detected in found:
        counted = Work()
        groups: list[Embedding] = []
        for positions in cohorts:
            members = [encoders[p] for p in positions]
            for group in cohort_inputs([m.key for m in members], detected, sweep.tasks, sweep.results):
                groups.append(group)
                counted.add(_count(group, members, cache, sweep, device))
        work.add(counted)
        seconds = _preparation_seconds(groups, encoders, counted) if calibrate and groups else None
        prep_seconds += seconds or 0.0
        images = len(plan(detected, sweep.tasks)[0].load().items)
        datasets.append({"dataset": detected.label, "kind": detected.kind.name, "images": images, **vars(counted)})
    result = SweepPlan(
        encoders=encoders,
        datasets=datasets,
        results=len(sweep.tasks.seeds)  # those of the tasks each encoder does (zero-shot: with a text tower)
        * sum(1 for e in encoders for d in found for task in plan(d, sweep.tasks) if can_do(e.key, task.task)),
        tasks=sorted(  # those some encoder does (zero-shot: one with a text tower)
            {t.task for d in found for t in plan(d, sweep.tasks) if any(can_do(e.key, t.task) for e in encoders)}
        ),
        cohorts=[[encoders[p].key for p in positions] for positions in cohorts],
        work=work,
        free_bytes=_free_bytes(cache.root),
        cache=cache.root,
        device=device,
        notes=notes,
    )
    if calibrate:
        _estimate(result, sweep, found, prep_seconds, device)
        result.seconds["start-up"] = start_up
    return result


def _free_bytes(folder: Path) -> int:
    """Free bytes on the filesystem that will hold ``folder`` (its nearest existing parent's)."""
    folder = folder.resolve()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def _inspect_encoder(one: PlannedEncoder, sweep: Sweep, device: str, calibrate: bool) -> None:
    """Load the encoder offline (its weights at hand, else it is counted without its cache and not timed): what
    its cache files are keyed by, and (``calibrate``) the time of one batch through it."""
    started = time.perf_counter()
    try:
        encoder = replace(sweep.encoder, offline=True).load(one.name)
    except Exception as error:  # weights not at hand (or not loadable): counted, not timed
        if not isinstance(error, UsageError | OSError):
            raise
        one.why_not_loaded = (str(error) or type(error).__name__).splitlines()[0]
        return
    one.load_seconds = time.perf_counter() - started
    one.description = encoder.describe()
    if calibrate:
        _time_batch(one, encoder, sweep, device)


def _time_batch(one: PlannedEncoder, encoder: Any, sweep: Sweep, device: str) -> None:
    """The seconds per image of the encoder's forward pass here, from one batch of the run's size."""
    precision = encoder_precision(sweep.encoder.precision, device, encoder.spec.released)
    size = sweep.extraction.batch_size or default_batch_size(device)
    settings = EmbedSettings(0, size, device, 0, (precision,), False)
    (member,) = members([encoder], settings)
    crop = encoder.preprocess.crop_size
    pixels = torch.randint(0, 256, (size, crop, crop, 3), dtype=torch.uint8, device=device)
    with torch.inference_mode():
        forward_batch(member, pixels, device)  # the kernels of this batch shape set up
        _synchronise(device)
        started = time.perf_counter()
        forward_batch(member, pixels, device)
        _synchronise(device)
    one.seconds_per_image = (time.perf_counter() - started) / size
    encoder.model.to("cpu")
    del encoder, member


def _synchronise(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _count(
    group: Embedding, members: Sequence[PlannedEncoder], cache: EmbeddingCache, sweep: Sweep, device: str
) -> Work:
    """What preparing ``group`` for its cohort computes, chunk by chunk, as the extraction does."""
    items = group.image_set.split(group.split)
    count = math.ceil(len(items) / CHUNK_IMAGES)
    keys = [
        {variant: _key(member, group, variant, cache, sweep, device) for variant in variants}
        for member, variants in zip(members, group.variants)
    ]
    counted = Work()
    id_bytes = sum(len(item.id) + 4 for item in items)  # its ids in the file's JSON header
    for member, own in zip(members, keys):
        dim = member.shape.embed_dim if member.shape else 0
        written = sum(1 for key in own.values() if key is None or not cache.path(key).is_file())
        counted.cache_bytes += written * (len(items) * 4 * dim + id_bytes)
    for index in range(count):
        chunk = items[index * CHUNK_IMAGES : (index + 1) * CHUNK_IMAGES]
        todo = [[v for v, key in own.items() if not _done(cache, key, index)] for own in keys]
        for member, own, wanted in zip(members, keys, todo):
            computed = len(chunk) * len({v.input_key() for v in wanted})
            member.forward_passes += computed
            counted.forward_passes += computed
            counted.cached_forward_passes += len(chunk) * len({v.input_key() for v in own}) - computed
        if any(todo):
            counted.source_images += len(chunk)
            made = {(_geometry(m), v.input_key()) for m, wanted in zip(members, todo) for v in wanted}
            counted.processed_inputs += len(chunk) * len(made)
            counted.processings += _processings(chunk, [v for wanted in todo for v in wanted], group.seed)
    return counted


def _geometry(member: PlannedEncoder) -> tuple:
    """The encoder's input geometry (not known without its shape: its own)."""
    return member.shape.preprocess.geometry if member.shape else (member.key,)


def _key(member: PlannedEncoder, group: Embedding, variant: Variant, cache: EmbeddingCache, sweep: Sweep, device: str):
    """The cache key of a variant's embeddings, where the encoder was loaded (else its cache is not known)."""
    if member.description is None:
        return None
    precision = encoder_precision(sweep.encoder.precision, device, resolve(member.name).released)
    return cache.key(member.description, group.image_set, group.split, variant, group.seed, precision)


def _done(cache: EmbeddingCache, key: dict | None, index: int) -> bool:
    return key is not None and (cache.path(key).is_file() or chunk_path(cache, key, index).is_file())


def _processings(chunk, variants: Sequence[Variant], seed: int) -> int:
    """Distinct processings of the full images of ``chunk`` (an assigned variant's class is the image's)."""
    fixed = {processing_operation(v.family, v.class_name) for v in variants if v.family and not v.assigned}
    assigned = [v for v in variants if v.assigned]
    if not assigned:
        return len(chunk) * len(fixed)
    return sum(
        len(fixed | {processing_operation(v.family, v.class_for(item.id, seed)) for v in assigned}) for item in chunk
    )


def _preparation_seconds(groups: Sequence[Embedding], encoders: Sequence[PlannedEncoder], counted: Work) -> float:
    """Core-seconds of a dataset's preparation: its counts times the time of each step on a few of its images."""
    group = groups[0]
    geometries = {e.shape.preprocess.geometry: e.shape.preprocess for e in encoders if e.shape}
    variants = list(dict.fromkeys(v for group in groups for vs in group.variants for v in vs))
    decode = process = crop = 0.0
    ops = crops = timed = 0
    for item in group.image_set.split(group.split)[:SAMPLE_ATTEMPTS]:
        if timed == SAMPLE_IMAGES:
            break
        started = time.perf_counter()
        try:
            source = open_rgb(item.read(), exif_transpose=group.image_set.exif_orientation)
        except Exception:  # an image the run leaves out (and names) is not timed
            continue
        timed += 1
        decode += time.perf_counter() - started
        classes = {(v.family, v.class_for(item.id, group.seed)) for v in variants if v.family}
        started = time.perf_counter()
        processed = process_many(source, classes, rng_key=(group.seed, item.id))
        process += time.perf_counter() - started
        ops += len({processing_operation(*c) for c in classes})
        for preprocess in geometries.values():
            for variant in variants:
                image = (
                    processed[(variant.family, variant.class_for(item.id, group.seed))] if variant.family else source
                )
                started = time.perf_counter()
                variant.encoder_pixels(image, preprocess)
                crop += time.perf_counter() - started
                crops += 1
    per = (decode / max(1, timed), process / max(1, ops), crop / max(1, crops))
    return counted.source_images * per[0] + counted.processings * per[1] + counted.processed_inputs * per[2]


def _estimate(result: SweepPlan, sweep: Sweep, found: Sequence[Detected], prep: float, device: str) -> None:
    """The time of the sweep here, by part (see the module notes)."""
    timed = [e for e in result.encoders if e.seconds_per_image is not None]
    forward = sum(e.forward_passes * e.seconds_per_image for e in timed)  # type: ignore[operator]
    threads = torch.get_num_threads()
    if device.startswith("cuda"):
        cores = loader_processes(sweep.extraction.workers, device) or threads
        result.seconds["embedding (preparation beside the forward pass)"] = max(forward, prep / cores)
    else:
        result.seconds["preparation"] = prep / max(1, min(threads, os.cpu_count() or 1))
        result.seconds["forward passes"] = forward
    result.seconds["loading encoders"] = sum(e.load_seconds or 0.0 for e in timed)
    result.seconds["tasks"] = _task_seconds(result, sweep, found, device)
    missing = [e.key for e in result.encoders if e.seconds_per_image is None]
    if missing:
        result.notes.append(f"not timed (weights not at hand, estimate without them): {', '.join(missing)}")


def _process_age() -> float:
    """Seconds since this process started (imports and start-up, as the sweep's own process will take)."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = float(Path("/proc/uptime").read_text().split()[0])
        return max(0.0, boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


@dataclass(frozen=True)
class _RandomEmbeddings(Extractor):
    """An extractor for calibration: random embeddings of the asked split's images, nothing computed or
    cached (an :class:`Extractor`, as the tasks' probes expect one)."""

    dim: int = 0

    def embed(self, encoder, image_set: ImageSet, split: str, variants, seed: int = 0) -> dict:
        ids = [item.id for item in image_set.split(split)]
        generator = torch.Generator().manual_seed(seed)
        return {v: Embeddings(ids, torch.randn(len(ids), self.dim, generator=generator), {}) for v in variants}

    def encoder_precision(self, encoder: Any) -> str:
        return "float32"


class _Stand:
    """An encoder for calibration: what a task records of it."""

    def __init__(self, key: str):
        self.key = key

    def describe(self) -> dict[str, Any]:
        return {"key": self.key}


def _task_seconds(result: SweepPlan, sweep: Sweep, found: Sequence[Detected], device: str) -> float:
    """Each planned task an encoder does measured once per (dataset, target, embedding width) on random
    embeddings; a task that needs a text tower (zero-shot: its probe is the probe task's, remembered) is not."""
    timed: dict[tuple, float] = {}
    total, prompts = 0.0, 0
    encoders = [e for e in result.encoders if e.shape and e.seconds_per_image is not None]
    for detected in found:
        for task in plan(detected, sweep.tasks):
            if TASKS[task.task].needs_text_tower:
                towers = sum(1 for e in result.encoders if can_do(e.key, task.task))
                prompts += towers * _prompt_count(task, sweep.tasks.templates)
                continue
            image_set = task.load()
            sample, scale = _sampled(image_set, COST_GROWTH.get(task.task, 1))
            for dim in [e.shape.embed_dim for e in encoders if can_do(e.key, task.task)]:  # type: ignore[union-attr]
                if (detected.label, task.task, task.target, dim) not in timed:
                    started = time.perf_counter()
                    try:
                        TASKS[task.task].run(
                            _Stand(f"calibration:{task.task}:{dim}"),  # its own key: a probe is remembered by it
                            sample,
                            task.target,
                            _RandomEmbeddings(EmbeddingCache(result.cache), device=device, dim=dim),
                            0,
                            sweep.tasks,
                        )
                    except UsageError:
                        pass  # a sample too small for the protocol: timed as far as it went
                    timed[(detected.label, task.task, task.target, dim)] = (time.perf_counter() - started) * scale
                total += timed[(detected.label, task.task, task.target, dim)] * len(sweep.tasks.seeds)
    if prompts:
        result.notes.append(
            f"not timed: zero-shot's {prompts:,} prompts through the text towers (one text forward pass each, "
            "cached; its images are the probes', counted above)"
        )
    return total


def _prompt_count(task: PlannedTask, templates) -> int:
    """The prompts zero-shot embeds for ``task``'s target: those of each of its classes (a family's classes
    are known; an attribute's are read from its image set)."""
    target = task.target
    classes = FAMILIES[target] if target in FAMILIES else task.load().class_names or ()
    try:
        return sum(len(own) for own in templates.prompts(target, list(classes)))
    except UsageError:
        return 0  # a target the table has no prompts for: zero-shot will say so and skip it


def _sampled(image_set: ImageSet, growth: int) -> tuple[ImageSet, float]:
    """The image set with at most :data:`TASK_SAMPLE` images per split (every k-th), and the factor its
    task time is scaled by."""
    largest = max(len(image_set.split(split)) for split in image_set.splits)
    if largest <= TASK_SAMPLE:
        return image_set, 1.0
    step = math.ceil(largest / TASK_SAMPLE)
    kept = tuple(image_set.items[::step])
    return replace(image_set, items=kept), float(step**growth)
