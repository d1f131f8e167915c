"""``trace-bench extract``: embeddings of an image set under processing variants, cached on disk.

:func:`extract` returns the embeddings of one split under every variant, from the cache
(:mod:`.cache`) or computed and then cached.  Extraction is resumable, finished chunks of a split are
kept in a ``.partial`` folder until the whole split is done, and each chunk is computed by an
executor (:mod:`.executors`: this process, or Ray workers) with the same batches, so the numbers do
not depend on where they were computed.

:class:`ExtractionOptions` is the option group of every command that embeds images; a run resolves it
once into an :class:`Extractor`, what tasks call to get embeddings.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchmark.choices import EncoderPrecision, Executor, Workers, chosen
from benchmark.embeddings.batches import ChunkEmbeddings, EmbedSettings, loader_processes
from benchmark.embeddings.cache import (
    EmbeddingCache,
    Embeddings,
    UnreadableCacheFile,
    chunk_path,
    read_embeddings,
    write_embeddings,
)
from benchmark.embeddings.executors import Chunk, ChunkExecutor, LocalExecutor, executor_for
from benchmark.embeddings.variants import Variant
from benchmark.errors import UsageError
from benchmark.runtime.device import encoder_precision, resolve_device
from benchmark.sources.imageset import ImageSet

CHUNK_IMAGES = 512
logger = logging.getLogger(__name__)


def default_device() -> str:
    return resolve_device().type


def default_batch_size(device: str) -> int:
    return 256 if device.startswith("cuda") else 32


def extract(
    encoder: Any,
    image_set: ImageSet,
    split: str,
    variants: Sequence[Variant],
    cache: EmbeddingCache,
    **how: Any,
) -> dict[Variant, Embeddings]:
    """Embeddings of one split under every variant, from the cache or computed (then cached): the cohort
    of one encoder of :func:`extract_cohort`, which takes the same keywords."""
    return extract_cohort([encoder], image_set, split, [variants], cache, **how)[0]  # type: ignore[return-value]


def extract_cohort(
    encoders: Sequence[Any],
    image_set: ImageSet,
    split: str,
    variants: Sequence[Sequence[Variant]],
    cache: EmbeddingCache,
    *,
    seed: int = 0,
    batch_size: int | None = None,
    device: str | None = None,
    workers: int | Workers = 0,
    on_batch: Callable[[int], None] | None = None,
    precision: str = EncoderPrecision.AUTOCAST,
    executor: ChunkExecutor | None = None,
    on_step: Callable[[str, int], None] | None = None,
    keep: bool = True,
) -> list[dict[Variant, Embeddings] | None]:
    """Embeddings of one split under ``variants[i]`` for each encoder ``encoders[i]``, from the cache or
    computed together (each source decoded and processed once for all, each crop once per geometry) and
    then cached: each encoder's are those it gets alone.

    ``precision`` is an :class:`~benchmark.runtime.device.EncoderPrecision`, resolved per encoder for the
    device.  ``executor`` computes the missing chunks (default: this process; :mod:`.ray_executor`: Ray).
    ``on_step(what, images)`` says what happens next (embedding, or reading the cache) before
    ``on_batch`` counts the images done.  ``keep=False`` only fills the cache (cached files are not
    read, the computed ones not kept in memory) and returns None per encoder.
    """
    executor = executor or LocalExecutor()
    device = device or executor.default_device()
    precisions = tuple(encoder_precision(precision, device, encoder.spec.released) for encoder in encoders)
    batch_size = batch_size or default_batch_size(device)
    items = image_set.split(split)
    if not items:
        raise UsageError(f"{image_set.name} has no {split} images")
    keys = [
        {variant: cache.key(encoder.describe(), image_set, split, variant, seed, used) for variant in wanted}
        for encoder, wanted, used in zip(encoders, variants, precisions, strict=True)
    ]
    found = [{variant: _cached(cache, key, keep) for variant, key in own.items()} for own in keys]
    missing = [[variant for variant, done in own.items() if done is None] for own in found]
    if on_step:
        count = sum(map(len, missing))
        who = f" for {len(encoders)} encoders" if len(encoders) > 1 else ""
        variants_text = f"{count} variant{'s' if count > 1 else ''}{who}"
        on_step(f"embedding {split} under {variants_text}" if count else f"{split} from the cache", len(items))
    if not any(missing) and on_batch:
        on_batch(len(items))
    if any(missing):
        settings = EmbedSettings(seed, batch_size, device, workers, precisions, image_set.exif_orientation)
        paths = [cache.path(own[v]) for own, wanted in zip(keys, missing) for v in wanted]
        with _locked(paths):  # another run on this cache waits, then reuses
            for own, done, wanted in zip(keys, found, missing):
                done.update({v: _cached(cache, own[v], keep) for v in wanted})
                wanted[:] = [variant for variant in wanted if done[variant] is None]
            if any(missing):
                computed = _compute(encoders, items, missing, keys, cache, settings, on_batch, executor, keep)
                for done, new in zip(found, computed):
                    done.update(new)
    if not keep:
        return [None] * len(encoders)
    return [_all_read(done, image_set, split) for done in found]  # type: ignore[arg-type]


def _cached(cache: EmbeddingCache, key: dict, keep: bool) -> Embeddings | bool | None:
    """The cached embeddings of ``key`` (``keep``), or only whether they are there (True), else None."""
    if keep:
        return cache.load(key)
    return True if cache.path(key).is_file() else None


@contextlib.contextmanager
def _locked(paths: Iterable[Path]) -> Iterator[None]:
    """Hold a lock file beside each cache file (in path order, so two runs never wait on each other)."""
    from filelock import FileLock

    with contextlib.ExitStack() as stack:
        for path in sorted(set(paths)):
            path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(FileLock(str(path) + ".lock"))
        yield


def _all_read(results: dict[Variant, Embeddings], image_set: ImageSet, split: str) -> dict[Variant, Embeddings]:
    """The embeddings, unless no image of the split could be read (one line naming the first ones)."""
    for found in results.values():
        if not found.ids:
            first = ", ".join(f"{name} ({why})" for name, why in list(found.failed.items())[:3])
            raise UsageError(f"none of the {len(found.failed)} {split} images of {image_set.name} can be read: {first}")
    return results


def _chunk_done(path: Path) -> bool:
    """Whether a chunk file of an earlier run is there and reads (one that does not, the last file of a
    run killed while writing it, is removed and computed again)."""
    if not path.is_file():
        return False
    try:
        read_embeddings(path)
    except UnreadableCacheFile as error:
        path.unlink(missing_ok=True)
        logger.warning("partial chunk %s of an interrupted run does not read (%s): computed again", path, error.reason)
        return False
    return True


def _compute(
    encoders, items, variants, keys, cache, settings, on_batch, executor, keep
) -> list[dict[Variant, Embeddings | bool]]:
    """The missing chunks (by ``executor``), each kept as a partial file, then one file per variant."""
    ids = [item.id for item in items]
    count = math.ceil(len(items) / CHUNK_IMAGES)
    chunks = []
    for index in range(count):
        start, stop = index * CHUNK_IMAGES, min((index + 1) * CHUNK_IMAGES, len(items))
        todo = tuple(
            tuple(v for v in wanted if not _chunk_done(chunk_path(cache, own[v], index)))
            for own, wanted in zip(keys, variants)
        )
        if any(todo):
            chunks.append(Chunk(index, start, stop, todo))
        elif on_batch:
            on_batch(stop - start)

    def write(chunk: Chunk, found: list[ChunkEmbeddings]) -> None:
        for own, wanted, embedded in zip(keys, chunk.variants, found):
            kept = [ids[chunk.start + k] for k in embedded.kept]
            failed = {ids[chunk.start + k]: why for k, why in embedded.failed.items()}
            for variant in wanted:
                write_embeddings(
                    chunk_path(cache, own[variant], chunk.index),
                    kept,
                    embedded.vectors[variant.name],
                    {"failed": failed},
                )

    if chunks:
        executor(encoders, items, chunks, settings, write, on_batch)
    return [
        {variant: _assemble(cache, own[variant], ids, count, keep) for variant in wanted}
        for own, wanted in zip(keys, variants)
    ]


def _assemble(cache: EmbeddingCache, key: dict, ids: list[str], count: int, keep: bool) -> Embeddings | bool:
    """The file of one variant from its chunks (which are then removed): its embeddings, or True (``keep=False``)."""
    partial = cache.partial_dir(key)
    parts = [read_embeddings(chunk_path(cache, key, index)) for index in range(count)]
    kept = [part for part in parts if part.ids]
    vectors = torch.cat([part.vectors for part in kept]) if kept else torch.zeros(0, 0)
    read = [i for part in parts for i in part.ids]
    failed = {i: why for part in parts for i, why in part.failed.items()}
    provenance = {**key, "n_images": len(ids)} | ({"failed": failed} if failed else {})
    write_embeddings(cache.path(key), read, vectors, provenance)
    for file in partial.glob("chunk-*.safetensors"):
        file.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: another run's temporary file; it removes it
        partial.rmdir()
    return Embeddings(ids=read, vectors=vectors, provenance=provenance) if keep else True


@dataclass(frozen=True)
class ExtractionOptions:
    """How a command embeds images: ``--batch-size``, ``--workers``, ``--cache`` and where the chunks
    run (``--executor``, ``--ray-address``, ``--ray-workers``)."""

    batch_size: int | None = None  # None: 256 on a GPU, 32 on a CPU
    workers: int | Workers = Workers.AUTO  # data-loading processes (0: threads of this process), or auto
    cache: Path | None = None  # None: OUT/cache
    executor: Executor = Executor.LOCAL
    ray_address: str | None = None
    ray_workers: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {self.batch_size}")
        object.__setattr__(self, "workers", _workers(self.workers))
        object.__setattr__(self, "executor", chosen(Executor, self.executor, "--executor"))

    def chunk_executor(self) -> ChunkExecutor:
        """The executor, built once per run (a bad choice or a missing Ray fails here, before any work)."""
        return executor_for(self.executor, self.ray_address, self.ray_workers)

    def extractor(
        self,
        *,
        device: str | None,
        precision: EncoderPrecision,
        default_cache: Path,
        executor: ChunkExecutor | None = None,
        on_batch: Callable[[int], None] | None = None,
        on_step: Callable[[str, int | None], None] | None = None,
    ) -> Extractor:
        """The :class:`Extractor` of these options on ``device`` (``--cache``, else ``default_cache``)."""
        return Extractor(
            cache=EmbeddingCache(self.cache or default_cache),
            batch_size=self.batch_size,
            device=device,
            workers=self.workers,
            precision=precision,
            executor=executor or LocalExecutor(),
            on_batch=on_batch,
            on_step=on_step,
        )


def _workers(value: int | str) -> int | Workers:
    """``--workers``: ``auto`` or a number of processes (0: threads of this process)."""
    if value == Workers.AUTO:
        return Workers.AUTO
    try:
        count = int(value)
    except ValueError:
        raise UsageError(f"--workers takes a number of processes or auto, got {value!r}") from None
    if count < 0:
        raise UsageError(f"--workers must be >= 0, got {count}")
    return count


@dataclass(frozen=True)
class Extractor:
    """What tasks call for embeddings: a cache and how to fill it, resolved once per run."""

    cache: EmbeddingCache
    batch_size: int | None = None
    device: str | None = None  # None: the executor's default (cuda when there is one)
    workers: int | Workers = 0  # data-loading processes, or auto (batches.loader_processes)
    precision: EncoderPrecision = EncoderPrecision.AUTOCAST  # on a GPU only; recorded in every result
    executor: ChunkExecutor = field(default_factory=LocalExecutor)
    on_batch: Callable[[int], None] | None = None
    on_step: Callable[[str, int | None], None] | None = None  # what happens now, and its images (None: unknown)
    # images left out since the last take_skipped() (id -> why): what a task's result records
    skipped: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def take_skipped(self) -> dict[str, str]:
        """The images that could not be read since the last call (id -> why), forgotten here."""
        taken = dict(self.skipped)
        self.skipped.clear()
        return taken

    def embed(
        self, encoder: Any, image_set: ImageSet, split: str, variants: Sequence[Variant], seed: int = 0
    ) -> dict[Variant, Embeddings]:
        """:func:`extract` with these settings (the images it had to leave out are kept in ``skipped``)."""
        found = extract(encoder, image_set, split, variants, self.cache, seed=seed, **self._how())
        for embeddings in found.values():
            self.skipped.update(embeddings.failed)
        if self.on_step:
            self.on_step("measuring", None)  # the task computes on what it embedded, until it embeds again
        return found

    def fill(
        self, encoders: Sequence[Any], image_set: ImageSet, split: str, variants: Sequence[Sequence[Variant]], seed: int
    ) -> None:
        """Fill the cache with the embeddings of a cohort (:func:`extract_cohort`, ``keep=False``): what its
        tasks then read."""
        extract_cohort(encoders, image_set, split, variants, self.cache, seed=seed, keep=False, **self._how())

    def _how(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "device": self.device,
            "workers": self.workers,
            "on_batch": self.on_batch,
            "precision": self.precision,
            "executor": self.executor,
            "on_step": self.on_step,
        }

    def encoder_precision(self, encoder: Any) -> str:
        """The arithmetic ``encoder`` gets here (``float32``, ``autocast`` or ``float16``), as results record it."""
        return encoder_precision(self.precision, self.device or self.executor.default_device(), encoder.spec.released)

    def execution(self) -> dict[str, Any]:
        """The record of what computed the embeddings, for result files."""
        return self.executor.record(loader_processes(self.workers, self.device or self.executor.default_device()))
