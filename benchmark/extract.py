"""``trace-bench extract``: embeddings of an image set under processing variants, cached on disk.

A :class:`Variant` is what the encoder sees: the source image, optionally processed (a class of a
processing family, see :mod:`benchmark.processing`), optionally centre-masked.  Embeddings are
cached as safetensors, one file per (encoder, weights, preprocessing, dataset, split, variant):
the cache key hashes all of them, so changing any setting never reuses stale features.  Each
file carries the image ids and a provenance record in its metadata.

Extraction is resumable — finished chunks of a split are kept in a ``.partial`` folder until the
whole split is done — and decodes each source image once for all requested variants.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from benchmark.device import encoder_precision, resolve_device
from benchmark.host_memory import keep_freed_memory
from benchmark.imagesets import ImageItem, ImageSet
from benchmark.masking import center_mask, check_ratio
from benchmark.preprocess import Preprocess
from benchmark.processing import (
    FAMILIES,
    assign_train_classes,
    open_rgb,
    process,
    process_many,
    processing_operation,
)

CACHE_FORMAT = 1
CHUNK_IMAGES = 512
BATCHES_AHEAD = 2  # batches of images prepared ahead of the forward pass (without loader processes)


@dataclass(frozen=True)
class Variant:
    """What the encoder sees: a processing class (or none) and a mask ratio (0 = unmasked).

    ``assigned=True`` gives every image its own class of ``family``, drawn uniformly from a hash
    of (seed, image id): the probes' training images (the test images get every class).  The
    mask is the variant's, not the encoder's: :meth:`encoder_input` puts it on the encoder's crop.
    ``crop_encoding`` (a ``jpeg`` class such as ``q95-444``) re-encodes that crop before the mask, as
    the released code's ``MASK_95`` does (resize, centre crop, JPEG, mask).
    """

    family: str | None = None
    class_name: str | None = None
    mask_ratio: float = 0.0
    assigned: bool = False
    crop_encoding: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mask_ratio", check_ratio(self.mask_ratio))
        if self.crop_encoding is not None and self.crop_encoding not in FAMILIES["jpeg"]:
            raise ValueError(f"unknown crop encoding {self.crop_encoding!r}; choose from {FAMILIES['jpeg']}")
        if self.assigned:
            if self.family not in FAMILIES or self.class_name is not None:
                raise ValueError("an assigned variant names a processing family and no class")
            return
        if (self.family is None) != (self.class_name is None):
            raise ValueError("a variant names both a processing family and class, or neither")
        if self.family is not None and self.class_name not in FAMILIES.get(self.family, ()):
            raise ValueError(f"unknown processing {self.family}/{self.class_name}; families: {FAMILIES}")

    @property
    def name(self) -> str:
        base = f"{self.family}-{'assigned' if self.assigned else self.class_name}" if self.family else "source"
        base += f"-crop-jpeg-{self.crop_encoding}" if self.crop_encoding else ""
        return base + (f"-mask{self.mask_ratio:g}" if self.mask_ratio else "")

    @property
    def uses_seed(self) -> bool:
        return self.assigned or self.family == "interpolation"

    def class_for(self, image_id: str, seed: int) -> str | None:
        if self.assigned:
            return assign_train_classes([image_id], self.family, seed)[0]
        return self.class_name

    def input_key(self) -> tuple:
        """Equal for variants that give the encoder the same pixels for every image (a family's ``none``
        is ``jpeg/q95-444``): the extraction computes their embeddings once."""
        if self.assigned:
            return (self,)
        operation = processing_operation(self.family, self.class_name) if self.family else None
        return operation, self.mask_ratio, self.crop_encoding

    def describe(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "class": self.class_name,
            "mask_ratio": self.mask_ratio,
            "assigned": self.assigned,
            "crop_encoding": self.crop_encoding,
        }

    def encoder_pixels(self, image: Image.Image, preprocess: Preprocess) -> np.ndarray:
        """``image`` (already processed) as the encoder's uint8 crop ``(H, W, 3)``: resize and crop,
        encode, mask.  The mask goes on the uint8 crop, so masked pixels are 0 before normalisation."""
        pixels = preprocess.pixels(image)
        if self.crop_encoding:
            pixels = process(pixels, "jpeg", self.crop_encoding)
        return np.array(center_mask(pixels, self.mask_ratio) if self.mask_ratio else pixels, dtype=np.uint8)

    def encoder_input(self, image: Image.Image, preprocess: Preprocess) -> torch.Tensor:
        """``image`` (already processed) as the encoder gets it: :meth:`encoder_pixels`, normalised."""
        return preprocess.normalise_batch(torch.from_numpy(self.encoder_pixels(image, preprocess))[None])[0]


@dataclass(frozen=True)
class Embeddings:
    ids: list[str]
    vectors: torch.Tensor  # (N, D) float32, as the encoder produced them (not normalised)
    provenance: dict[str, Any]


def default_device() -> str:
    return resolve_device().type


def default_batch_size(device: str) -> int:
    return 256 if device.startswith("cuda") else 32


class EmbeddingCache:
    """Folder of safetensors files named by the hash of everything that produced them."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def key(
        self,
        encoder_description: dict,
        image_set: ImageSet,
        split: str,
        variant: Variant,
        seed: int,
        precision: str = "float32",
    ) -> dict:
        """What an embedding file depends on; float32 keys are as before precision was recorded."""
        return {
            "format": CACHE_FORMAT,
            "encoder": encoder_description,
            "dataset": {
                "name": image_set.name,
                "fingerprint": image_set.fingerprint,
                "exif_orientation": image_set.exif_orientation,
            },
            "split": split,
            "variant": variant.describe(),
            "seed": seed if variant.uses_seed else None,
        } | ({} if precision == "float32" else {"precision": precision})

    def path(self, key: dict) -> Path:
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
        return self.root / digest[:2] / f"{digest}.safetensors"

    def load(self, key: dict) -> Embeddings | None:
        path = self.path(key)
        if not path.is_file():
            return None
        return _read(path)

    def partial_dir(self, key: dict) -> Path:
        return self.path(key).with_suffix(".partial")


def _read(path: Path) -> Embeddings:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = load_file(str(path))
    return Embeddings(
        ids=json.loads(metadata["ids"]), vectors=tensors["embeddings"], provenance=json.loads(metadata["provenance"])
    )


def _write(path: Path, ids: Sequence[str], vectors: torch.Tensor, provenance: dict) -> None:
    """Write atomically: a killed process leaves the old file or none, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    save_file(
        {"embeddings": vectors.contiguous()},
        str(temporary),
        metadata={"ids": json.dumps(list(ids)), "provenance": json.dumps(provenance, sort_keys=True)},
    )
    os.replace(temporary, path)


class _VariantImages(torch.utils.data.Dataset):
    """Item i → {variant name: uint8 crop}, decoding the source once for all variants.

    Pillow and numpy work only (no torch), so threads can prepare items beside the forward pass.
    """

    def __init__(
        self,
        items: Sequence[ImageItem],
        variants: Sequence[Variant],
        preprocess: Preprocess,
        seed: int,
        exif_transpose: bool = False,
    ):
        self.items, self.variants, self.preprocess, self.seed = list(items), list(variants), preprocess, seed
        self.exif_transpose = exif_transpose  # the image set's decoding rule (ImageSet.exif_orientation)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        item = self.items[index]
        source = open_rgb(item.read(), exif_transpose=self.exif_transpose)
        classes = {variant: variant.class_for(item.id, self.seed) for variant in self.variants}
        processed = process_many(
            source, {(v.family, c) for v, c in classes.items() if v.family}, rng_key=(self.seed, item.id)
        )
        return {
            variant.name: variant.encoder_pixels(
                processed[(variant.family, name)] if variant.family else source, self.preprocess
            )
            for variant, name in classes.items()
        }


def _batches(dataset: _VariantImages, settings: EmbedSettings) -> Iterator[dict[str, torch.Tensor]]:
    """The dataset's items in batches, in order: {variant name: uint8 crops (B, H, W, 3)}.

    From ``settings.workers`` data-loading processes, or else from threads of this process that
    prepare the next batches while the current one runs through the model: decoding, processing and
    resizing are Pillow work that releases the GIL, and a CPU forward pass leaves cores idle between
    its parallel regions.
    """
    if settings.workers:
        yield from torch.utils.data.DataLoader(dataset, batch_size=settings.batch_size, num_workers=settings.workers)
        return
    starts = iter(range(0, len(dataset), settings.batch_size))
    pool = ThreadPoolExecutor(max(1, torch.get_num_threads()), thread_name_prefix="trace-bench-images")
    pending: deque[list[Future]] = deque()

    def submit(start: int) -> None:
        stop = min(start + settings.batch_size, len(dataset))
        pending.append([pool.submit(dataset.__getitem__, index) for index in range(start, stop)])

    try:
        for start in itertools.islice(starts, BATCHES_AHEAD):
            submit(start)
        while pending:
            items = [future.result() for future in pending.popleft()]
            if (start := next(starts, None)) is not None:
                submit(start)
            yield torch.utils.data.default_collate(items)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class EmbedSettings:
    """How a chunk is embedded, resolved once by :func:`extract`: the same for the local loop and a Ray worker."""

    seed: int
    batch_size: int
    device: str
    workers: int  # data-loading processes
    precision: str  # resolved for the device (benchmark.device.encoder_precision)
    exif_transpose: bool

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.precision == "float16" else torch.float32  # float16: as clip.load


@dataclass(frozen=True)
class Chunk:
    """Images ``start:stop`` of a split (chunk number ``index``) still to embed under ``variants``."""

    index: int
    start: int
    stop: int
    variants: tuple[Variant, ...]


def chunk_path(cache: EmbeddingCache, key: dict, index: int) -> Path:
    return cache.partial_dir(key) / f"chunk-{index:06d}.safetensors"


def prepared_model(encoder: Any, settings: EmbedSettings) -> torch.nn.Module:
    """The encoder's model on the device in the settings' dtype, in eval mode."""
    return encoder.model.to(settings.device, settings.dtype).eval()


def embed_chunk(
    model: torch.nn.Module,
    preprocess: Preprocess,
    items: Sequence[ImageItem],
    variants: Sequence[Variant],
    settings: EmbedSettings,
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, torch.Tensor]:
    """Variant name → (len(items), D) embeddings of one chunk.

    Local and Ray runs both call this, with the same chunks and batches, so their numbers are equal
    bit for bit on CPU (a convolution's result depends on the batch it is computed in).
    """
    keep_freed_memory()  # a Ray worker has no CLI to do it; 3x the CPU forward pass (benchmark.host_memory)
    same_input: dict[tuple, list[Variant]] = {}  # embedded once, by the first of each list
    for variant in variants:
        same_input.setdefault(variant.input_key(), []).append(variant)
    embedded = [group[0] for group in same_input.values()]
    dataset = _VariantImages(items, embedded, preprocess, settings.seed, settings.exif_transpose)
    outputs: dict[str, list[torch.Tensor]] = {v.name: [] for v in embedded}
    for batch in _batches(dataset, settings):
        with torch.inference_mode(), torch.autocast(device_type="cuda", enabled=settings.precision == "autocast"):
            for name, pixels in batch.items():
                inputs = preprocess.normalise_batch(pixels.to(settings.device, non_blocking=True))  # uint8 travels
                outputs[name].append(model(inputs.to(settings.dtype)).float().cpu())
        if on_batch:
            on_batch(len(next(iter(batch.values()))))
    return {v.name: torch.cat(outputs[group[0].name]) for group in same_input.values() for v in group}


class ChunkExecutor(Protocol):
    """Computes the missing chunks of a split and hands each to ``write`` (the local loop, or Ray)."""

    name: str

    def default_device(self) -> str: ...

    def __call__(
        self,
        encoder: Any,
        items: Sequence[ImageItem],
        chunks: Sequence[Chunk],
        settings: EmbedSettings,
        write: Callable[[Chunk, dict[str, torch.Tensor]], None],
        on_batch: Callable[[int], None] | None,
    ) -> None: ...


class LocalExecutor:
    """This process, chunk after chunk."""

    name = "local"

    def default_device(self) -> str:
        return default_device()

    def __call__(self, encoder, items, chunks, settings, write, on_batch) -> None:
        model = prepared_model(encoder, settings)
        for chunk in chunks:
            write(
                chunk,
                embed_chunk(
                    model, encoder.preprocess, items[chunk.start : chunk.stop], chunk.variants, settings, on_batch
                ),
            )


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
    precision: str = "autocast",
    executor: ChunkExecutor | None = None,
) -> dict[Variant, Embeddings]:
    """Embeddings of one split under every variant, from the cache or computed (then cached).

    ``precision`` is a :data:`benchmark.device.ENCODER_PRECISIONS` choice, resolved for the device.
    ``executor`` computes the missing chunks (default: this process; :mod:`benchmark.ray_executor`: Ray).
    """
    executor = executor or LocalExecutor()
    device = device or executor.default_device()
    precision = encoder_precision(precision, device, encoder.spec.released)
    batch_size = batch_size or default_batch_size(device)
    items = image_set.split(split)
    if not items:
        raise ValueError(f"{image_set.name} has no {split} images")
    description = encoder.describe()
    keys = {variant: cache.key(description, image_set, split, variant, seed, precision) for variant in variants}
    results = {variant: cache.load(key) for variant, key in keys.items()}
    missing = [variant for variant, found in results.items() if found is None]
    if missing:
        settings = EmbedSettings(seed, batch_size, device, workers, precision, image_set.exif_orientation)
        results.update(_compute(encoder, items, missing, keys, cache, settings, on_batch, executor))
    return results  # type: ignore[return-value]


def _compute(encoder, items, variants, keys, cache, settings, on_batch, executor) -> dict[Variant, Embeddings]:
    """The missing chunks (by ``executor``), each kept as a partial file, then one file per variant."""
    ids = [item.id for item in items]
    count = math.ceil(len(items) / CHUNK_IMAGES)
    chunks = []
    for index in range(count):
        start, stop = index * CHUNK_IMAGES, min((index + 1) * CHUNK_IMAGES, len(items))
        todo = tuple(v for v in variants if not chunk_path(cache, keys[v], index).is_file())
        if todo:
            chunks.append(Chunk(index, start, stop, todo))
        elif on_batch:
            on_batch(stop - start)

    def write(chunk: Chunk, outputs: dict[str, torch.Tensor]) -> None:
        for variant in chunk.variants:
            _write(
                chunk_path(cache, keys[variant], chunk.index), ids[chunk.start : chunk.stop], outputs[variant.name], {}
            )

    if chunks:
        executor(encoder, items, chunks, settings, write, on_batch)
    results = {}
    for variant in variants:
        partial = cache.partial_dir(keys[variant])
        parts = [_read(chunk_path(cache, keys[variant], index)) for index in range(count)]
        vectors = torch.cat([part.vectors for part in parts])
        provenance = {**keys[variant], "n_images": len(ids)}
        _write(cache.path(keys[variant]), ids, vectors, provenance)
        for file in partial.glob("chunk-*.safetensors"):
            file.unlink()
        partial.rmdir()
        results[variant] = Embeddings(ids=ids, vectors=vectors, provenance=provenance)
    return results
