"""Who computes the chunks of an extraction: this process (:class:`LocalExecutor`) or Ray workers
(:mod:`.ray_executor`), chosen once (``--executor``) and passed down, as img2dataset's distributors."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from benchmark.choices import Executor
from benchmark.embeddings.batches import ChunkEmbeddings, EmbedSettings, embed_chunk, members
from benchmark.embeddings.variants import Variant
from benchmark.errors import UsageError
from benchmark.runtime.device import resolve_device
from benchmark.sources.imageset import ImageItem


@dataclass(frozen=True)
class Chunk:
    """Images ``start:stop`` of a split (chunk number ``index``) still to embed under ``variants[i]`` by
    encoder ``i`` of the cohort (none: that encoder has the chunk already)."""

    index: int
    start: int
    stop: int
    variants: tuple[tuple[Variant, ...], ...]


class ChunkExecutor(Protocol):
    """Computes the missing chunks of a split for a cohort of encoders and hands each to ``write`` (with one
    :class:`ChunkEmbeddings` per encoder): the local loop, or Ray."""

    name: str

    def default_device(self) -> str: ...

    def record(self, data_workers: int = 0) -> dict[str, Any]: ...

    def __call__(
        self,
        encoders: Sequence[Any],
        items: Sequence[ImageItem],
        chunks: Sequence[Chunk],
        settings: EmbedSettings,
        write: Callable[[Chunk, list[ChunkEmbeddings]], None],
        on_batch: Callable[[int], None] | None,
    ) -> None: ...


class LocalExecutor:
    """This process, chunk after chunk."""

    name = "local"

    def default_device(self) -> str:
        return resolve_device().type

    def record(self, data_workers: int = 0) -> dict[str, Any]:
        """What ran a local extraction, for result files."""
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return {
            "executor": "local",
            "address": None,
            "cluster": {"nodes": 1, "cpus": os.cpu_count() or 1, "gpus": gpus},
            "workers": 1,
            "worker_resources": None,
            "data_workers": data_workers,
        }

    def __call__(self, encoders, items, chunks, settings, write, on_batch) -> None:
        cohort = members(encoders, settings)
        for chunk in chunks:
            write(chunk, embed_chunk(cohort, items[chunk.start : chunk.stop], chunk.variants, settings, on_batch))


def executor_for(executor: str, address: str | None = None, workers: int | None = None) -> ChunkExecutor:
    """The chunk executor of ``--executor`` (Ray is imported only when asked for, and must be installed)."""
    if Executor(executor) == Executor.LOCAL:
        if address is not None or workers is not None:
            raise UsageError("--ray-address and --ray-workers belong to --executor ray")
        return LocalExecutor()
    from benchmark.embeddings.ray_executor import RayExecutor, import_ray

    import_ray()
    if workers is not None and workers < 1:
        raise UsageError(f"--ray-workers must be >= 1, got {workers}")
    return RayExecutor(address, workers, torch.get_num_threads())
