"""From images to embeddings, batch by batch: decode each source once for all variants, prepare the
next batches beside the forward pass, and run the model (:func:`embed_chunk`, the unit that the local
loop and Ray workers both run, so their numbers are equal)."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmark.embeddings.variants import Variant
from benchmark.imaging.preprocess import Preprocess
from benchmark.imaging.processing import UnreadableImage, open_rgb, process_many
from benchmark.runtime.host_memory import keep_freed_memory
from benchmark.sources.imageset import ImageItem

BATCHES_AHEAD = 2  # batches of images prepared ahead of the forward pass (without loader processes)


class VariantImages(torch.utils.data.Dataset):
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

    def __getitem__(self, index: int) -> Prepared:
        item = self.items[index]
        try:
            source = open_rgb(item.read(), exif_transpose=self.exif_transpose)
            classes = {variant: variant.class_for(item.id, self.seed) for variant in self.variants}
            processed = process_many(
                source, {(v.family, c) for v, c in classes.items() if v.family}, rng_key=(self.seed, item.id)
            )
            pixels = {
                variant.name: variant.encoder_pixels(
                    processed[(variant.family, name)] if variant.family else source, self.preprocess
                )
                for variant, name in classes.items()
            }
        except Exception as error:  # one image that cannot be read or processed is recorded, not fatal
            return Prepared(index, None, failure(error))
        return Prepared(index, pixels)


@dataclass(frozen=True)
class Prepared:
    """Item ``index`` ready for the encoder (``pixels``: variant name -> uint8 crop), or why it is not."""

    index: int
    pixels: dict[str, np.ndarray] | None
    error: str | None = None


def failure(error: BaseException) -> str:
    """Why an image was skipped, in a line: the reason of an unreadable image, else the error's type too."""
    message = (str(error) or type(error).__name__).splitlines()[0]
    if isinstance(error, UnreadableImage):
        return message
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    return f"{type(error).__name__}: {message}"


@dataclass(frozen=True)
class Batch:
    """Items of a batch: the crops of those that could be prepared (``kept``, item indices in order)
    and why the others could not (``failed``: item index -> reason)."""

    pixels: dict[str, torch.Tensor]
    kept: list[int]
    failed: dict[int, str]


def collate(prepared: Sequence[Prepared]) -> Batch:
    kept = [p for p in prepared if p.pixels is not None]
    pixels = torch.utils.data.default_collate([p.pixels for p in kept]) if kept else {}
    return Batch(pixels, [p.index for p in kept], {p.index: p.error for p in prepared if p.pixels is None})


def batches(dataset: VariantImages, settings: EmbedSettings) -> Iterator[Batch]:
    """The dataset's items in batches, in order: each a :class:`Batch` of uint8 crops (B, H, W, 3) per
    variant name.

    From ``settings.workers`` data-loading processes, or else from threads of this process that
    prepare the next batches while the current one runs through the model: decoding, processing and
    resizing are Pillow work that releases the GIL, and a CPU forward pass leaves cores idle between
    its parallel regions.
    """
    if settings.workers:
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=settings.batch_size, num_workers=settings.workers, collate_fn=collate
        )
        yield from loader
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
            yield collate(items)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True)
class EmbedSettings:
    """How a chunk is embedded, resolved once by :func:`extract`: the same for the local loop and a Ray worker."""

    seed: int
    batch_size: int
    device: str
    workers: int  # data-loading processes
    precision: str  # resolved for the device (benchmark.runtime.device.encoder_precision)
    exif_transpose: bool

    @property
    def dtype(self) -> torch.dtype:
        return torch.float16 if self.precision == "float16" else torch.float32  # float16: as clip.load


def prepared_model(encoder: Any, settings: EmbedSettings) -> torch.nn.Module:
    """The encoder's model on the device in the settings' dtype, in eval mode."""
    return encoder.model.to(settings.device, settings.dtype).eval()


@dataclass(frozen=True)
class ChunkEmbeddings:
    """What :func:`embed_chunk` gives: embeddings of the chunk's items that could be read, per variant
    name (rows in the order of ``kept``, chunk positions), and why the others could not (``failed``)."""

    vectors: dict[str, torch.Tensor]
    kept: list[int]
    failed: dict[int, str]


def embed_chunk(
    model: torch.nn.Module,
    preprocess: Preprocess,
    items: Sequence[ImageItem],
    variants: Sequence[Variant],
    settings: EmbedSettings,
    on_batch: Callable[[int], None] | None = None,
) -> ChunkEmbeddings:
    """The embeddings of one chunk of images under every variant.

    Local and Ray runs both call this, with the same chunks and batches, so their numbers are equal
    bit for bit on CPU (a convolution's result depends on the batch it is computed in).  An image that
    cannot be read or processed is left out of every variant and its reason kept.
    """
    keep_freed_memory()  # a Ray worker has no CLI to do it; 3x the CPU forward pass (benchmark.runtime.host_memory)
    same_input: dict[tuple, list[Variant]] = {}  # embedded once, by the first of each list
    for variant in variants:
        same_input.setdefault(variant.input_key(), []).append(variant)
    embedded = [group[0] for group in same_input.values()]
    dataset = VariantImages(items, embedded, preprocess, settings.seed, settings.exif_transpose)
    outputs: dict[str, list[torch.Tensor]] = {v.name: [] for v in embedded}
    kept: list[int] = []
    failed: dict[int, str] = {}
    for batch in batches(dataset, settings):
        with torch.inference_mode(), torch.autocast(device_type="cuda", enabled=settings.precision == "autocast"):
            for name, pixels in batch.pixels.items():
                inputs = preprocess.normalise_batch(pixels.to(settings.device, non_blocking=True))  # uint8 travels
                outputs[name].append(model(inputs.to(settings.dtype)).float().cpu())
        kept += batch.kept
        failed |= batch.failed
        if on_batch:
            on_batch(len(batch.kept) + len(batch.failed))
    vectors = {
        v.name: torch.cat(outputs[group[0].name]) if outputs[group[0].name] else torch.zeros(0, 0)
        for group in same_input.values()
        for v in group
    }
    return ChunkEmbeddings(vectors, kept, failed)
