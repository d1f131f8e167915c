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

from benchmark.choices import EncoderPrecision, Executor, chosen
from benchmark.embeddings.batches import ChunkEmbeddings, EmbedSettings
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
    *,
    seed: int = 0,
    batch_size: int | None = None,
    device: str | None = None,
    workers: int = 0,
    on_batch: Callable[[int], None] | None = None,
    precision: str = EncoderPrecision.AUTOCAST,
    executor: ChunkExecutor | None = None,
    on_step: Callable[[str, int], None] | None = None,
) -> dict[Variant, Embeddings]:
    """Embeddings of one split under every variant, from the cache or computed (then cached).

    ``precision`` is an :class:`~benchmark.runtime.device.EncoderPrecision`, resolved for the device.
    ``executor`` computes the missing chunks (default: this process; :mod:`.ray_executor`: Ray).
    ``on_step(what, images)`` says what happens next (embedding, or reading the cache) before
    ``on_batch`` counts the images done.
    """
    executor = executor or LocalExecutor()
    device = device or executor.default_device()
    precision = encoder_precision(precision, device, encoder.spec.released)
    batch_size = batch_size or default_batch_size(device)
    items = image_set.split(split)
    if not items:
        raise UsageError(f"{image_set.name} has no {split} images")
    description = encoder.describe()
    keys = {variant: cache.key(description, image_set, split, variant, seed, precision) for variant in variants}
    results = {variant: cache.load(key) for variant, key in keys.items()}
    missing = [variant for variant, found in results.items() if found is None]
    if on_step:
        variants_text = f"{len(missing)} variant{'s' if len(missing) > 1 else ''}"
        what = f"embedding {split} under {variants_text}" if missing else f"{split} from the cache"
        on_step(what, len(items))
    if not missing and on_batch:
        on_batch(len(items))
    if missing:
        settings = EmbedSettings(seed, batch_size, device, workers, precision, image_set.exif_orientation)
        with _locked(cache.path(keys[v]) for v in missing):  # another run on this cache waits, then reuses
            results.update({v: cache.load(keys[v]) for v in missing})
            missing = [variant for variant in missing if results[variant] is None]
            if missing:
                results.update(_compute(encoder, items, missing, keys, cache, settings, on_batch, executor))
    return _all_read(results, image_set, split)  # type: ignore[arg-type]


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


def _compute(encoder, items, variants, keys, cache, settings, on_batch, executor) -> dict[Variant, Embeddings]:
    """The missing chunks (by ``executor``), each kept as a partial file, then one file per variant."""
    ids = [item.id for item in items]
    count = math.ceil(len(items) / CHUNK_IMAGES)
    chunks = []
    for index in range(count):
        start, stop = index * CHUNK_IMAGES, min((index + 1) * CHUNK_IMAGES, len(items))
        todo = tuple(v for v in variants if not _chunk_done(chunk_path(cache, keys[v], index)))
        if todo:
            chunks.append(Chunk(index, start, stop, todo))
        elif on_batch:
            on_batch(stop - start)

    def write(chunk: Chunk, found: ChunkEmbeddings) -> None:
        kept = [ids[chunk.start + k] for k in found.kept]
        failed = {ids[chunk.start + k]: why for k, why in found.failed.items()}
        for variant in chunk.variants:
            path = chunk_path(cache, keys[variant], chunk.index)
            write_embeddings(path, kept, found.vectors[variant.name], {"failed": failed})

    if chunks:
        executor(encoder, items, chunks, settings, write, on_batch)
    results = {}
    for variant in variants:
        partial = cache.partial_dir(keys[variant])
        parts = [read_embeddings(chunk_path(cache, keys[variant], index)) for index in range(count)]
        kept = [part for part in parts if part.ids]
        vectors = torch.cat([part.vectors for part in kept]) if kept else torch.zeros(0, 0)
        read = [i for part in parts for i in part.ids]
        failed = {i: why for part in parts for i, why in part.failed.items()}
        provenance = {**keys[variant], "n_images": len(ids)} | ({"failed": failed} if failed else {})
        write_embeddings(cache.path(keys[variant]), read, vectors, provenance)
        for file in partial.glob("chunk-*.safetensors"):
            file.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: another run's temporary file; it removes it
            partial.rmdir()
        results[variant] = Embeddings(ids=read, vectors=vectors, provenance=provenance)
    return results


@dataclass(frozen=True)
class ExtractionOptions:
    """How a command embeds images: ``--batch-size``, ``--workers``, ``--cache`` and where the chunks
    run (``--executor``, ``--ray-address``, ``--ray-workers``)."""

    batch_size: int | None = None  # None: 256 on a GPU, 32 on a CPU
    workers: int = 0  # data-loading processes (0: threads of this process)
    cache: Path | None = None  # None: OUT/cache
    executor: Executor = Executor.LOCAL
    ray_address: str | None = None
    ray_workers: int | None = None

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise UsageError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.workers < 0:
            raise UsageError(f"--workers must be >= 0, got {self.workers}")
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


@dataclass(frozen=True)
class Extractor:
    """What tasks call for embeddings: a cache and how to fill it, resolved once per run."""

    cache: EmbeddingCache
    batch_size: int | None = None
    device: str | None = None  # None: the executor's default (cuda when there is one)
    workers: int = 0
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
        found = extract(
            encoder,
            image_set,
            split,
            variants,
            self.cache,
            seed=seed,
            batch_size=self.batch_size,
            device=self.device,
            workers=self.workers,
            on_batch=self.on_batch,
            precision=self.precision,
            executor=self.executor,
            on_step=self.on_step,
        )
        for embeddings in found.values():
            self.skipped.update(embeddings.failed)
        if self.on_step:
            self.on_step("measuring", None)  # the task computes on what it embedded, until it embeds again
        return found

    def encoder_precision(self, encoder: Any) -> str:
        """The arithmetic ``encoder`` gets here (``float32``, ``autocast`` or ``float16``), as results record it."""
        return encoder_precision(self.precision, self.device or self.executor.default_device(), encoder.spec.released)

    def execution(self) -> dict[str, Any]:
        """The record of what computed the embeddings, for result files."""
        return self.executor.record(self.workers)
